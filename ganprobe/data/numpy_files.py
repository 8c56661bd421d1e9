"""`npz:PATH`: images in a NumPy .npz archive or a .npy array.

A .npz holds the images in the array named `images`, `x`, `data` or `arr_0` (the first of
these present), or its only array; an optional `labels` (or `y`) array gives one integer label
per image (-1 = unknown). A .npy file holds the images alone. Images are uint8 (0..255, mapped
as u / 127.5 - 1) or float already in [-1, 1], laid out NHWC, NCHW or NHW (see arrays.py).
Arrays are loaded with allow_pickle=False: object arrays are refused.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .arrays import check_labels, subsample_indices, to_model_space
from .imageset import ImageSet

IMAGE_KEYS = ("images", "x", "data", "arr_0")
LABEL_KEYS = ("labels", "y")


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None, str, str | None]:
    """(images, labels or None, images' name, labels' name) as stored in `path`."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"cannot read {path} as a NumPy .npz/.npy file ({exc}); give uint8 or float arrays"
        ) from None
    if isinstance(loaded, np.ndarray):
        return loaded, None, f"{path}", None
    with loaded:
        keys = list(loaded.files)
        label_key = next((k for k in LABEL_KEYS if k in keys), None)
        image_key = next((k for k in IMAGE_KEYS if k in keys), None)
        rest = [k for k in keys if k != label_key]
        if image_key is None and len(rest) == 1:
            image_key = rest[0]
        if image_key is None:
            raise DataError(
                f"{path} has arrays {keys or 'none'}; name the image array 'images' "
                "(and the labels 'labels')"
            )
        try:
            images = loaded[image_key]
            labels = loaded[label_key] if label_key else None
        except ValueError as exc:  # object arrays need pickle
            raise DataError(f"cannot read arrays of {path} ({exc})") from None
    return images, labels, f"'{image_key}' in {path}", (f"'{label_key}' in {path}")


def load_numpy_file(argument: str, limit: int | None, seed: int, name: str) -> ImageSet:
    """Load `npz:PATH` (see the module docstring); `limit` subsamples deterministically."""
    path = Path(argument).expanduser()
    if not path.is_file():
        what = "is a folder (use folder:PATH)" if path.is_dir() else "does not exist"
        raise DataError(f"data file {path} {what}; give an existing .npz or .npy file")
    images, labels, image_name, label_name = _read(path)
    if images.ndim >= 1 and images.shape[0] == 0:
        raise DataError(f"array {image_name} holds no images; the data set is empty")
    tensor_labels = None
    if labels is not None:
        tensor_labels = check_labels(labels, images.shape[0] if images.ndim else 0, label_name)
    count = images.shape[0] if images.ndim else 0
    index = subsample_indices(count, limit, seed) if count else np.arange(0)
    if images.dtype == np.uint8 and images.ndim >= 1:
        model = to_model_space(images[index], image_name)  # every uint8 value is valid
    else:  # check the whole float array (range, NaN/inf) before subsampling it
        model = to_model_space(images, image_name)[torch.from_numpy(index)]
    if tensor_labels is None:
        tensor_labels = torch.full((count,), -1, dtype=torch.int64)
    return ImageSet(images=model, labels=tensor_labels[torch.from_numpy(index)], name=name)
