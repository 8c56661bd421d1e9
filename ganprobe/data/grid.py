"""Image grids: many images tiled into one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..utils import atomic_write_bytes


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images [N, C, H, W] in [-1, 1] into one uint8 array [rows*(H+pad)+pad, ...].

    nrow: images per row (default ceil(sqrt(N))). Returns [H', W'] for C = 1 and [H', W', 3]
    for C = 3; the padding is white. Pixel u = round((x + 1) * 127.5), clipped to 0..255.
    """
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N>0, 1 or 3, H, W]; got {tuple(images.shape)}")
    count, channels, height, width = images.shape
    ncol = nrow or math.ceil(math.sqrt(count))
    nrows = math.ceil(count / ncol)
    levels = ((images.detach().cpu().float() + 1.0) * 127.5).round().clamp(0, 255)
    levels = levels.to(torch.uint8).numpy()
    grid = np.full(
        (channels, nrows * (height + pad) + pad, ncol * (width + pad) + pad), 255, dtype=np.uint8
    )
    for i in range(count):
        top = pad + (i // ncol) * (height + pad)
        left = pad + (i % ncol) * (width + pad)
        grid[:, top : top + height, left : left + width] = levels[i]
    return grid[0] if channels == 1 else np.transpose(grid, (1, 2, 0))


def save_image_grid(
    images: torch.Tensor, path: str | Path, nrow: int | None = None, min_width: int = 512
) -> Path:
    """Write `image_grid(images, nrow)` as a PNG, enlarged by an integer factor (nearest
    neighbour, so pixels stay sharp) until it is at least `min_width` pixels wide."""
    import io

    from PIL import Image

    grid = image_grid(images, nrow)
    scale = max(1, math.ceil(min_width / grid.shape[1]))
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize(
            (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST
        )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
