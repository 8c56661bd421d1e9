"""What every density baseline shares: flattening, the on-disk format, dequantization.

On disk a density model is a run directory holding

    model.safetensors   its tensors (float64 for the exact models; no pickle)
    model.json          {"kind": ..., "image_shape": [C, H, W], ...} the arguments that rebuild it

Dequantization (DESIGN.md conventions): an 8-bit value u sits at x = u / 127.5 - 1 in model
space, so one level is 1/127.5 wide. Adding U(-1/255, 1/255) per value turns the discrete image
into a continuous one whose density, times the bin volume (1/127.5)^D, lower-bounds the
probability of the 8-bit image; bpd then compares directly with the literature.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ...errors import ModelError
from ...utils import atomic_write_json

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
LEVEL_WIDTH = 1.0 / 127.5
"""Width of one 8-bit level in model space [-1, 1]."""


def flatten_images(x: torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """[N, C, H, W] images -> [N, D] rows (D = C*H*W); ModelError when the shape differs."""
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ModelError(
            f"density model expects images of shape [N, {', '.join(map(str, image_shape))}], "
            f"got {list(x.shape)}; load the data with shape={tuple(image_shape)}"
        )
    return x.reshape(x.shape[0], -1)


def dequantize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + U(-1/255, 1/255) per value: uniform noise one 8-bit level wide, centred on x.

    x: [N, ...] model-space images; returns the same shape and dtype.
    """
    noise = torch.rand(x.shape, generator=generator, dtype=torch.float64) - 0.5
    return (x.to(torch.float64) + noise.to(x.device) * LEVEL_WIDTH).to(x.dtype)


def gaussian_log_norm(dim: int) -> float:
    """-D/2 log(2 pi): the constant of a D-dimensional Gaussian log-density."""
    return -0.5 * dim * math.log(2 * math.pi)


def save_model_files(
    run_dir: Path, kind: str, image_shape: tuple[int, int, int], tensors: dict[str, torch.Tensor],
    **meta: Any,
) -> None:
    """Write model.safetensors and model.json (the kind, image shape and rebuild arguments)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{WEIGHTS_FILE}.tmp"
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    tmp.replace(run_dir / WEIGHTS_FILE)
    atomic_write_json(
        run_dir / META_FILE, {"kind": kind, "image_shape": list(image_shape), **meta}
    )


def read_model_files(run_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(meta, tensors) of a saved density model; ModelError naming the missing file."""
    meta_path, weights_path = run_dir / META_FILE, run_dir / WEIGHTS_FILE
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise ModelError(
                f"{path} not found: density:{run_dir} is not a trained density model; "
                "train one with `ganprobe train density --out DIR`"
            )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_path} is not valid JSON ({exc}); train the model again") from None
    # fresh (aligned) copies: BLAS results must not depend on the file's memory layout
    return meta, {k: v.clone() for k, v in load_file(str(weights_path)).items()}
