"""Fashion-MNIST (Xiao et al., 2017): 60000 train / 10000 test grayscale 28x28 images, 10 classes.

The idx .gz files are searched, in order, in
  1. $GANPROBE_DATA (the files themselves, or a `fashion-mnist` sub-folder),
  2. /usr/share/datasets/fashion-mnist (Debian package `dataset-fashion-mnist`),
  3. the user cache, $GANPROBE_CACHE/data/fashion-mnist (default ~/.cache/ganprobe/...);
and when none has them they are downloaded from the official source into the user cache (short
timeout; md5 checked against the published checksums), unless GANPROBE_OFFLINE=1. Decoded
arrays are cached as .npy next to the cache so later loads take milliseconds.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..progress import console
from ..utils import atomic_write_bytes

CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
COUNTS = {"train": 60000, "test": 10000}

# The official distribution and its published md5 checksums.
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
DOWNLOAD_TIMEOUT_S = 5.0
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_IDX_UBYTE = 0x08  # idx type code of unsigned bytes


def user_cache_dir() -> Path:
    """$GANPROBE_CACHE/data/fashion-mnist, default ~/.cache/ganprobe/data/fashion-mnist (the
    same root as the model cache in ganprobe.train.cache)."""
    root = os.environ.get("GANPROBE_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "ganprobe"
    return base / "data" / "fashion-mnist"


def search_dirs() -> list[Path]:
    """Folders searched for the idx .gz files, in order (see module docstring)."""
    dirs = []
    env = os.environ.get("GANPROBE_DATA")
    if env:
        dirs += [Path(env), Path(env) / "fashion-mnist"]
    return dirs + [SYSTEM_DIR, user_cache_dir()]


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Decode an (uncompressed) idx file of unsigned bytes into a uint8 array of its shape.

    Header: two zero bytes, type code 0x08, number of dimensions, then one big-endian uint32
    per dimension. Raises DataError naming `source` when the header or size is wrong.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise DataError(f"{source} is not an idx file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{source} has a truncated idx header")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(
            f"{source} holds {len(data) - header} bytes of data, its header says {expected} "
            f"(shape {shape}); the file is damaged, fetch it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_gz(path: Path) -> np.ndarray:
    """Read a gzip-compressed idx file (see `parse_idx`)."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        message = f"cannot read {path} ({exc}); the file is damaged, fetch it again"
        raise DataError(message) from None
    return parse_idx(data, str(path))


def find_files(split: str) -> tuple[Path, Path] | None:
    """(images, labels) .gz paths of `split` from the first search folder holding both."""
    image_name, label_name = FILES[split]
    for folder in search_dirs():
        if (folder / image_name).is_file() and (folder / label_name).is_file():
            return folder / image_name, folder / label_name
    return None


def download(split: str, folder: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download the two files of `split` from URL into `folder`, checking each file's md5."""
    for name in FILES[split]:
        console.print(f"downloading {URL}{name} into {folder}", highlight=False)
        try:
            with urllib.request.urlopen(URL + name, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(
                f"Fashion-MNIST not found ({', '.join(str(d) for d in search_dirs())}) and the "
                f"download of {name} failed ({exc}); install it with "
                "`apt-get install dataset-fashion-mnist` or set GANPROBE_DATA to a folder with "
                "the idx .gz files"
            ) from None
        digest = hashlib.md5(data).hexdigest()
        if digest != MD5[name]:
            raise DataError(
                f"downloaded {name} has md5 {digest}, expected {MD5[name]}; not using it "
                "(retry, or install `dataset-fashion-mnist`)"
            )
        atomic_write_bytes(folder / name, data)


def _not_found_error(split: str) -> DataError:
    searched = ", ".join(str(d) for d in search_dirs())
    return DataError(
        f"Fashion-MNIST {split} files not found (searched {searched}; GANPROBE_OFFLINE=1 forbids "
        "downloading); install them with `apt-get install dataset-fashion-mnist` or set "
        "GANPROBE_DATA to a folder with the idx .gz files"
    )


def _decoded_cache_paths(images_gz: Path, split: str) -> tuple[Path, Path]:
    """Where the decoded arrays of `images_gz` are cached: keyed by its path, size and mtime."""
    stat = images_gz.stat()
    key = f"{images_gz.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = user_cache_dir() / "decoded"
    return folder / f"{split}-{tag}-images.npy", folder / f"{split}-{tag}-labels.npy"


def _save_npy(path: Path, array: np.ndarray) -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue())


def load_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] (memory-mapped when cached) and labels uint8 [N] of `split`.

    Finds, downloads (when allowed) and decodes the files as the module docstring says.
    """
    if split not in FILES:
        raise DataError(f"unknown Fashion-MNIST split {split!r}; use train or test")
    found = find_files(split)
    if found is None:
        if os.environ.get("GANPROBE_OFFLINE") == "1":
            raise _not_found_error(split)
        folder = user_cache_dir()
        download(split, folder)
        found = (folder / FILES[split][0], folder / FILES[split][1])
    images_gz, labels_gz = found
    images_npy, labels_npy = _decoded_cache_paths(images_gz, split)
    if images_npy.is_file() and labels_npy.is_file():
        try:
            return np.load(images_npy, mmap_mode="r"), np.load(labels_npy)
        except (OSError, ValueError):
            pass  # a damaged cache entry: decode again below
    images, labels = read_idx_gz(images_gz), read_idx_gz(labels_gz)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise DataError(
            f"{images_gz} / {labels_gz} have shapes {images.shape} / {labels.shape}, not "
            "Fashion-MNIST's [N, 28, 28] / [N]"
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{labels_gz} has labels above 9; it is not Fashion-MNIST")
    try:
        _save_npy(images_npy, images)
        _save_npy(labels_npy, labels)
    except OSError:
        pass  # read-only home: no cache, still correct
    return images, labels
