"""Fashion-MNIST files: idx decoding, search order, decoded cache, checked download, offline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ganprobe.data import fashion, load_images
from ganprobe.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file of unsigned bytes holding `array`."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_fashion(folder: Path, count: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Both splits as idx .gz files with `count` random images each; returns the test split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        image_name, label_name = fashion.FILES[split]
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        (folder / image_name).write_bytes(gzip.compress(idx_bytes(images)))
        (folder / label_name).write_bytes(gzip.compress(idx_bytes(labels)))
    return images, labels  # the test split, written last


@pytest.fixture
def no_system_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_cache: Path) -> Path:
    """Hide the Debian copy and $GANPROBE_DATA; the user cache is a fresh temporary folder."""
    monkeypatch.setattr(fashion, "SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.delenv("GANPROBE_DATA", raising=False)
    return isolated_cache


def test_parse_idx_shape_and_errors() -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(fashion.parse_idx(idx_bytes(array), "a"), array)
    with pytest.raises(DataError, match="bad magic number"):
        fashion.parse_idx(b"\x00\x00\x0d\x01" + bytes(8), "f.idx")
    with pytest.raises(DataError, match="f.idx holds 23 bytes of data, its header says 24"):
        fashion.parse_idx(idx_bytes(array)[:-1], "f.idx")


def test_ganprobe_data_folder_is_searched_first_and_decoded_cache_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_copy: Path
) -> None:
    images, labels = write_fake_fashion(tmp_path / "mine" / "fashion-mnist")
    monkeypatch.setenv("GANPROBE_DATA", str(tmp_path / "mine"))
    data = load_images("fashion-mnist:test")
    assert torch.equal(data.images[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert data.labels.tolist() == labels.tolist()
    assert data.class_names[0] == "T-shirt/top" and data.num_classes == 10
    cached = sorted(p.name for p in (no_system_copy / "data/fashion-mnist/decoded").iterdir())
    assert len(cached) == 2 and cached[0].startswith("test-") and cached[0].endswith("images.npy")
    again = load_images("fashion-mnist:test", limit=7, seed=2)  # served from the .npy cache
    index = torch.from_numpy(np.sort(np.random.default_rng(2).permutation(20)[:7]))
    assert torch.equal(again.images, data.images[index])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server serving tmp_path/served; yields (url, folder)."""
    folder = tmp_path / "served"
    folder.mkdir()

    def handler(*args, **kwargs):
        return _QuietHandler(*args, directory=str(folder), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    server.shutdown()
    server.server_close()


def test_download_checks_md5_and_lands_in_user_cache(
    file_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, no_system_copy: Path
) -> None:
    url, served = file_server
    images, _ = write_fake_fashion(served)
    monkeypatch.setattr(fashion, "URL", url)
    monkeypatch.delenv("GANPROBE_OFFLINE", raising=False)
    digests = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in served.iterdir()}
    monkeypatch.setattr(fashion, "MD5", digests)
    data = load_images("fashion-mnist:test")
    assert torch.equal(data.images[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert (no_system_copy / "data/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file()

    wrong = dict(digests, **{"train-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setattr(fashion, "MD5", wrong)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz has md5 .* expected 0000"):
        load_images("fashion-mnist:train")


def test_offline_errors_say_how_to_install(
    monkeypatch: pytest.MonkeyPatch, no_system_copy: Path
) -> None:
    monkeypatch.setenv("GANPROBE_OFFLINE", "1")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist.*GANPROBE_DATA"):
        load_images("fashion-mnist:train")
    monkeypatch.delenv("GANPROBE_OFFLINE")
    monkeypatch.setattr(fashion, "URL", "http://127.0.0.1:1/")  # nothing listens on port 1
    with pytest.raises(DataError, match="download of .* failed .*apt-get install dataset-fash"):
        load_images("fashion-mnist:test")


def test_damaged_gzip_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_copy: Path
) -> None:
    write_fake_fashion(tmp_path / "d")
    (tmp_path / "d" / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    monkeypatch.setenv("GANPROBE_DATA", str(tmp_path / "d"))
    with pytest.raises(DataError, match="cannot read .*t10k-images-idx3-ubyte.gz"):
        load_images("fashion-mnist:test")
