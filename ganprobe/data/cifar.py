"""`cifar10:PATH:train|test`: the CIFAR-10 "python version" batches.

PATH is the folder `cifar-10-batches-py` (or a folder containing it) with data_batch_1..5
(train, 50000 images) and test_batch (test, 10000), and optionally batches.meta (class names).
Each batch is a pickled dict with b'data' (uint8 [N, 3072], rows of R, G, B planes of 32x32)
and b'labels'. Security: pickle can run code, so the batches are read with a restricted
unpickler that accepts only plain containers and the NumPy array reconstructors; only these
known file names are opened.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .arrays import check_labels, subsample_indices, to_model_space
from .imageset import ImageSet

CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except NumPy's array reconstruction helpers."""

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def read_batch(path: Path) -> dict:
    """Unpickle one CIFAR batch (bytes keys) with the restricted unpickler."""
    try:
        data = path.read_bytes()
        return _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read CIFAR-10 batch {path} ({exc}); fetch it again") from None


def _batch_folder(root: Path) -> Path:
    if not root.is_dir():
        raise DataError(
            f"CIFAR-10 folder {root} does not exist; give the folder cifar-10-batches-py "
            "as cifar10:PATH:train|test"
        )
    for folder in (root, root / "cifar-10-batches-py"):
        if (folder / "test_batch").is_file() or (folder / "data_batch_1").is_file():
            return folder
    raise DataError(
        f"no CIFAR-10 python batches (data_batch_1..5, test_batch) in {root}; give the "
        "extracted folder cifar-10-batches-py"
    )


def load_cifar10(argument: str, limit: int | None, seed: int, name: str) -> ImageSet:
    """Load `cifar10:PATH:SPLIT` as 3x32x32 images with labels 0..9."""
    path_text, _, split = argument.rpartition(":")
    folder = _batch_folder(Path(path_text).expanduser())
    data, labels = [], []
    for batch_name in BATCHES[split]:
        path = folder / batch_name
        if not path.is_file():
            raise DataError(f"CIFAR-10 {split} batch {path} is missing; fetch the full data set")
        batch = read_batch(path)
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise DataError(f"{path} is not a CIFAR-10 batch (no data / labels entries)")
        rows = np.asarray(batch[b"data"])
        if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != 3 * 32 * 32:
            raise DataError(
                f"array data in {path} has dtype {rows.dtype} and shape {rows.shape}; "
                "expected uint8 [N, 3072]"
            )
        data.append(rows)
        labels.append(np.asarray(batch[b"labels"]))
    rows = np.concatenate(data)
    all_labels = check_labels(np.concatenate(labels), rows.shape[0], f"labels in {folder}")
    index = subsample_indices(rows.shape[0], limit, seed)
    images = to_model_space(rows[index].reshape(-1, 3, 32, 32), f"data in {folder}")
    return ImageSet(
        images=images,
        labels=all_labels[torch.from_numpy(index)],
        name=name,
        class_names=_class_names(folder),
    )


def _class_names(folder: Path) -> list[str]:
    meta = folder / "batches.meta"
    if meta.is_file():
        names = read_batch(meta).get(b"label_names")
        if isinstance(names, list) and len(names) == len(CLASS_NAMES):
            return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return list(CLASS_NAMES)
