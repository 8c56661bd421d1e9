"""Adapting images to a target (C, H, W): channel conversion and resizing.

Gray -> RGB repeats the channel; RGB -> gray takes the ITU-R BT.601 luma
Y = 0.299 R + 0.587 G + 0.114 B (weights sum to 1, so [-1, 1] maps into [-1, 1] and the result
is the same whether computed on 8-bit or model-space values). Resizing is bilinear with
antialiasing (torch.nn.functional.interpolate, align_corners=False): its weights are
non-negative and sum to 1, so a constant image stays constant and values stay in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import GanprobeError

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
CHUNK = 1024  # images converted at a time, bounds the temporary memory


def check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """Validate a target (C, H, W): C in {1, 3}, H and W positive."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
        raise GanprobeError(
            f"invalid image shape {shape}; give (C, H, W) with C 1 or 3 and positive H, W"
        )
    return shape  # type: ignore[return-value]


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, channels, H, W]; C and channels in {1, 3} (see module docstring)."""
    current = images.shape[1]
    if current == channels:
        return images
    if current == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if current == 3 and channels == 1:
        weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device)
        return torch.einsum("nchw,c->nhw", images, weights).unsqueeze(1)
    raise GanprobeError(f"cannot convert images with {current} channels to {channels}")


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, *size] by antialiased bilinear interpolation, clamped to [-1, 1]."""
    if tuple(images.shape[2:]) == tuple(size):
        return images
    out = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(-1.0, 1.0)


def adapt_images(images: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Convert float images [N, C, H, W] in [-1, 1] to `shape` = (C', H', W').

    Returns float32 [N, C', H', W'] in [-1, 1]; the input itself when it already has `shape`.
    Works in chunks of CHUNK images so the temporary memory stays bounded.
    """
    channels, height, width = check_shape(shape)
    if images.ndim != 4:
        raise GanprobeError(f"images must be [N, C, H, W]; got shape {tuple(images.shape)}")
    if tuple(images.shape[1:]) == (channels, height, width):
        return images
    out = torch.empty(
        (images.shape[0], channels, height, width), dtype=torch.float32, device=images.device
    )
    for start in range(0, images.shape[0], CHUNK):
        chunk = images[start : start + CHUNK].to(torch.float32)
        if channels < chunk.shape[1]:
            chunk = convert_channels(chunk, channels)  # fewer channels to resize
            out[start : start + CHUNK] = resize(chunk, (height, width))
        else:
            out[start : start + CHUNK] = convert_channels(resize(chunk, (height, width)), channels)
    return out
