"""Checking user arrays and converting them to model space.

Model space (DESIGN.md): float32 NCHW in [-1, 1]; uint8 pixel u maps to u / 127.5 - 1; a float
array is taken as already in model space and must lie in [-1, 1].
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..errors import DataError

# Float arrays may exceed [-1, 1] by this much (rounding in the user's own conversion); such
# values are clipped.
RANGE_TOLERANCE = 1e-4


class DataWarning(UserWarning):
    """A problem in the data that was worked around (e.g. a corrupt file that was skipped)."""


def warn(message: str) -> None:
    """Emit a DataWarning (shown once per message by Python's warning filter)."""
    warnings.warn(message, DataWarning, stacklevel=3)


def to_nchw(array: np.ndarray, name: str) -> np.ndarray:
    """Bring an image array to NCHW.

    array: [N, H, W] (grayscale), [N, H, W, C] or [N, C, H, W] with C in {1, 3}; NHWC is chosen
    when the last axis has 1 or 3 entries, else NCHW when axis 1 has.
    Raises DataError naming `name` for any other shape.
    """
    if array.ndim == 3:
        return array[:, None, :, :]
    if array.ndim == 4:
        if array.shape[3] in (1, 3):
            return np.transpose(array, (0, 3, 1, 2))
        if array.shape[1] in (1, 3):
            return array
    raise DataError(
        f"array {name} has shape {tuple(array.shape)}; expected images as [N,H,W], "
        "[N,H,W,C] or [N,C,H,W] with C 1 or 3"
    )


def to_model_space(array: np.ndarray, name: str) -> torch.Tensor:
    """Check an image array and convert it to float32 NCHW in [-1, 1].

    array: uint8 (0..255, mapped as u / 127.5 - 1) or floating point already in [-1, 1], laid
    out as accepted by `to_nchw`. Raises DataError naming `name` when the array is empty, has
    another dtype, holds NaN/inf, or (float) lies outside [-1, 1].
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = to_nchw(array, name)
        if array.shape[0] == 0:
            raise DataError(f"array {name} holds no images (shape {tuple(array.shape)})")
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32)
        return tensor.div_(127.5).sub_(1.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(
            f"array {name} has dtype {array.dtype}; images must be uint8 (0..255) or float "
            "in [-1, 1]"
        )
    array = to_nchw(array, name)
    if array.shape[0] == 0:
        raise DataError(f"array {name} holds no images (shape {tuple(array.shape)})")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise DataError(f"array {name} holds {bad} NaN/inf values; remove or replace them")
    low, high = float(array.min()), float(array.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise DataError(
            f"array {name} is float with values in [{low:.4g}, {high:.4g}], outside [-1, 1]; "
            "store uint8 pixels (0..255) or convert to model space with x / 127.5 - 1"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return tensor.clamp(-1.0, 1.0)


def check_labels(labels: np.ndarray, count: int, name: str) -> torch.Tensor:
    """Check a label array against `count` images and return it as int64 [count].

    labels: integer [count], values >= -1 (-1 = unknown). Raises DataError naming `name` for a
    wrong length, shape or dtype, or values below -1.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != count:
        raise DataError(
            f"array {name} has shape {tuple(labels.shape)} but there are {count} images; "
            "labels must be one integer per image"
        )
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise DataError(f"array {name} has dtype {labels.dtype}; labels must be integers")
    if count and labels.min() < -1:
        raise DataError(f"array {name} has values below -1; use -1 for unknown labels")
    return torch.from_numpy(labels.astype(np.int64))


def subsample_indices(n_items: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices (sorted, int64) of a deterministic random subset of `limit` of `n_items` items.

    All items when `limit` is None or >= n_items. For a fixed seed, the subset for a smaller
    limit is contained in the subset for a larger one (prefix of one permutation).
    """
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be a positive number of images (got {limit})")
    if limit is None or limit >= n_items:
        return np.arange(n_items, dtype=np.int64)
    permutation = np.random.default_rng(seed).permutation(n_items)
    return np.sort(permutation[:limit]).astype(np.int64)
