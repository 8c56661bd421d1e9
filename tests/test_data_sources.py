"""Data sources through load_images: npz/npy, folders, CIFAR-10 batches, OOD sets, digits."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from ganprobe.config import DataSettings, format_validation_error
from ganprobe.data import DataWarning, load_images
from ganprobe.errors import DataError


def _save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


# ----------------------------------------------------------------------------- npz / npy
def test_npz_uint8_nhwc_with_labels(tiny_npz: Path) -> None:
    data = load_images(f"npz:{tiny_npz}")
    assert data.images.shape == (12, 1, 8, 8) and data.images.dtype == torch.float32
    expected = torch.arange(12, dtype=torch.float32) * 20 / 127.5 - 1  # float32, as documented
    assert torch.equal(data.images[:, 0, 3, 5], expected)
    assert data.labels.tolist() == [i % 3 for i in range(12)]
    assert data.num_classes == 3 and data.name == f"npz:{tiny_npz}"


def test_npz_limit_subsets_images_and_labels_together(tiny_npz: Path) -> None:
    data = load_images(f"npz:{tiny_npz}", limit=5, seed=3)
    index = ((data.images[:, 0, 0, 0] + 1) * 127.5 / 20).round().long()
    assert len(data) == 5 and torch.equal(data.labels, index % 3)
    assert torch.equal(data.images, load_images(f"npz:{tiny_npz}", limit=5, seed=3).images)


def test_npy_float_nchw_and_rgb_shape(tmp_path: Path) -> None:
    images = np.linspace(-1, 1, 2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.save(tmp_path / "x.npy", images)
    data = load_images(f"npz:{tmp_path / 'x.npy'}")
    assert torch.equal(data.images, torch.from_numpy(images))
    assert data.labels.tolist() == [-1, -1]
    adapted = load_images(f"npz:{tmp_path / 'x.npy'}", shape=(1, 8, 8))
    assert adapted.shape == (1, 8, 8) and "adapted from 3x4x5 to 1x8x8" in adapted.notes


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": np.zeros((3, 4, 4), np.int32)}, "array 'images' in {p} has dtype int32"),
        ({"x": np.linspace(0, 255, 48).reshape(3, 4, 4)},
         "array 'x' in {p} is float with values in [0, 255]"),
        ({"images": np.array([[[np.nan]]], np.float32)}, "array 'images' in {p} holds 1 NaN/inf"),
        ({"images": np.zeros((3, 4, 4), np.uint8), "labels": np.zeros(2, np.int64)},
         "array 'labels' in {p} has shape (2,) but there are 3 images"),
        ({"images": np.zeros((0, 4, 4), np.uint8)}, "array 'images' in {p} holds no images"),
        ({"a": np.zeros(3), "b": np.zeros(3)}, "{p} has arrays ['a', 'b']"),
    ],
)
def test_npz_bad_arrays(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load_images(f"npz:{path}")
    assert message.format(p=path) in str(info.value)


def test_npz_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_images(f"npz:{tmp_path / 'nope.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="cannot read .*junk.npz"):
        load_images(f"npz:{tmp_path / 'junk.npz'}")


# ----------------------------------------------------------------------------- folders
def test_folder_labels_from_subfolders(tmp_path: Path) -> None:
    _save_png(tmp_path / "cats" / "a.png", np.full((6, 6), 255, np.uint8))
    _save_png(tmp_path / "cats" / "deep" / "b.PNG", np.full((6, 6), 0, np.uint8))
    _save_png(tmp_path / "dogs" / "c.jpg", np.full((6, 6), 128, np.uint8))
    _save_png(tmp_path / "loose.png", np.full((6, 6), 10, np.uint8))
    (tmp_path / "readme.txt").write_text("not an image")
    data = load_images(f"folder:{tmp_path}")
    assert data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1, -1]  # sorted paths: cats/a, cats/deep/b, dogs, loose
    assert data.images.shape == (4, 1, 6, 6)
    assert data.images[0].min() == 1.0 and data.images[1].max() == -1.0
    assert data.images[3, 0, 0, 0] == pytest.approx(10 / 127.5 - 1)


def test_folder_corrupt_file_warns_or_fails_under_strict(tmp_path: Path) -> None:
    _save_png(tmp_path / "good.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.warns(DataWarning, match=r"skipping unreadable image file .*broken\.png"):
        data = load_images(f"folder:{tmp_path}")
    assert len(data) == 1 and data.shape == (3, 4, 4)
    assert any("broken.png" in note for note in data.notes)
    with pytest.raises(DataError, match=r"cannot decode image .*broken\.png.*--strict"):
        load_images(f"folder:{tmp_path}", strict=True)


def test_folder_mixed_sizes_resized_to_most_common_and_reported(tmp_path: Path) -> None:
    for i in range(3):
        _save_png(tmp_path / f"a{i}.png", np.full((8, 8), 200, np.uint8))
    _save_png(tmp_path / "big.png", np.full((16, 12, 3), 50, np.uint8))
    data = load_images(f"folder:{tmp_path}")
    assert data.images.shape == (4, 3, 8, 8)
    assert torch.allclose(data.images[3], torch.full((3, 8, 8), 50 / 127.5 - 1), atol=1e-6)
    assert "resized 1 image(s) of size 16x12 to the most common size 8x8" in " ".join(data.notes)
    assert "3 grayscale image(s) repeated to RGB" in data.notes


def test_folder_missing_empty_and_all_corrupt(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_images(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match="no images .* empty"):
        load_images(f"folder:{tmp_path}")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.warns(DataWarning), pytest.raises(DataError, match="no readable images"):
        load_images(f"folder:{tmp_path}")


# ----------------------------------------------------------------------------- CIFAR-10
def _write_cifar(folder: Path, per_batch: int = 4) -> list[tuple[np.ndarray, list[int]]]:
    """Fake CIFAR-10 python batches (protocol-2 pickles like the official ones) in `folder`."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        payload = pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, 2)
        # the official batches (pickled by NumPy 1) name numpy.core, not numpy._core
        payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        (folder / name).write_bytes(payload)
        rows.append((data, labels))
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, handle, 2)
    return rows


def test_cifar10_batches(tmp_path: Path) -> None:
    rows = _write_cifar(tmp_path / "cifar-10-batches-py")
    train = load_images(f"cifar10:{tmp_path}:train")
    test = load_images(f"cifar10:{tmp_path / 'cifar-10-batches-py'}:test")
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4
    first = torch.from_numpy(rows[0][0][0].reshape(3, 32, 32).astype(np.float32)) / 127.5 - 1
    assert torch.equal(train.images[0], first)
    assert train.labels.tolist() == sum((r[1] for r in rows[:5]), [])
    assert train.class_names == [f"c{i}" for i in range(10)]


def test_cifar10_refuses_pickled_code(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": Path("/etc")}, handle)  # a non-array global
    with pytest.raises(DataError, match="refusing to load"):
        load_images(f"cifar10:{folder}:test")
    with pytest.raises(DataError, match="does not exist"):
        load_images(f"cifar10:{tmp_path / 'none'}:test")


# ----------------------------------------------------------------------------- built-in sets
def test_ood_constant_and_noise_are_8bit_seeded_and_shaped() -> None:
    const = load_images("ood:constant", limit=50, seed=1)
    assert const.images.shape == (50, 1, 28, 28) and const.labels.eq(-1).all()
    flat = const.images.flatten(1)
    assert torch.equal(flat.min(1).values, flat.max(1).values)  # one value per image
    levels = (const.images + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    noise = load_images("ood:noise", limit=6, seed=1, shape=(3, 10, 9))
    assert noise.images.shape == (6, 3, 10, 9) and noise.notes == []
    assert torch.equal(noise.images, load_images("ood:noise", limit=6, seed=1,
                                                 shape=(3, 10, 9)).images)
    assert not torch.equal(noise.images, load_images("ood:noise", limit=6, seed=2,
                                                     shape=(3, 10, 9)).images)
    rgb_const = load_images("ood:constant", limit=4, shape=(3, 5, 5)).images
    assert torch.equal(rgb_const, rgb_const[:, :, :1, :1].expand(-1, -1, 5, 5))
    assert len(load_images("ood:noise")) == 10000


def test_vflip_of_a_named_base(tiny_npz: Path) -> None:
    base = load_images(f"npz:{tiny_npz}")
    base.images[:, :, 0] = 1.0  # mark the top row (tiny_npz images are constant)
    flipped = load_images(f"ood:vflip:npz:{tiny_npz}")
    original = load_images(f"npz:{tiny_npz}").images
    assert torch.equal(flipped.images, torch.flip(original, dims=[2]))
    assert torch.equal(flipped.labels, base.labels)
    assert flipped.notes[0] == f"vertical flip of npz:{tiny_npz}"


def test_digits_rescaled() -> None:
    digits = load_images("digits", limit=40, seed=0)
    assert digits.images.shape == (40, 1, 28, 28) and digits.num_classes == 10
    assert digits.images.min() >= -1 and digits.images.max() <= 1
    native = load_images("digits", limit=40, seed=0, shape=(1, 8, 8))
    from sklearn.datasets import load_digits

    index = np.sort(np.random.default_rng(0).permutation(1797)[:40])
    expected = torch.from_numpy(load_digits().images[index].astype(np.float32)) / 8 - 1
    assert torch.equal(native.images[:, 0], expected)


@pytest.mark.parametrize("spec", ["nope", "fashion-mnist", "fashion-mnist:val", "ood:blur",
                                  "cifar10:/x", "digits:3", "folder:", "ood:noise:digits"])
def test_unknown_specs_list_the_valid_ones(spec: str) -> None:
    with pytest.raises(DataError, match="valid specs: fashion-mnist:train, .*cifar10:PATH"):
        load_images(spec)


def test_data_settings_validate_early_and_load() -> None:
    with pytest.raises(DataError, match="unknown data spec 'fashion-mnist:val'"):
        DataSettings(spec="fashion-mnist:val")
    with pytest.raises(ValidationError) as info:
        DataSettings(spec="digits", limit=0)
    assert format_validation_error(info.value).startswith("invalid limit: Input should be")
    loaded = DataSettings(spec="ood:constant", limit=3, seed=4, shape=(3, 6, 6)).load()
    assert loaded.images.shape == (3, 3, 6, 6)
    assert torch.equal(loaded.images, load_images("ood:constant", 3, 4, shape=(3, 6, 6)).images)


def test_folder_16bit_and_palette_images(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "a16.png")
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([100, 100, 100] * 256)
    palette.save(tmp_path / "b_palette.png")
    data = load_images(f"folder:{tmp_path}")
    assert data.shape == (1, 4, 4)  # both read as grayscale
    assert data.images[0].eq(1.0).all()  # 65535 / 257 = 255
    assert torch.allclose(data.images[1], torch.full((1, 4, 4), 100 / 127.5 - 1))
