"""`ganprobe data list|info|show`: acceptance numbers and every bad-input case of issue 2
(one line on stderr, exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ganprobe.cli import app


def run(*args: str) -> tuple[int, str, str]:
    """Invoke the CLI in-process; returns (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def info_json(*args: str) -> dict:
    code, out, err = run("data", "info", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(args: tuple[str, ...], *fragments: str) -> str:
    code, out, err = run(*args)
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------- acceptance
@pytest.mark.needs_fashion_mnist
def test_info_fashion_mnist_train_and_test() -> None:
    train = info_json("fashion-mnist:train")
    assert train["count"] == 60000 and train["shape"] == [1, 28, 28]
    assert train["min"] == -1.0 and train["max"] == 1.0
    assert train["num_classes"] == 10
    assert train["label_counts"] == {str(k): 6000 for k in range(10)}
    test = info_json("fashion-mnist:test")
    assert test["count"] == 10000 and test["label_counts"] == {str(k): 1000 for k in range(10)}


def test_info_digits() -> None:
    digits = info_json("digits")
    assert digits["count"] == 1797 and digits["shape"] == [1, 28, 28]
    assert digits["num_classes"] == 10 and sum(digits["label_counts"].values()) == 1797
    assert digits["min"] == -1.0 and digits["max"] == 1.0


def test_info_limit_shape_and_table(tiny_npz: Path) -> None:
    info = info_json(f"npz:{tiny_npz}", "--limit", "5", "--seed", "1", "--shape", "3,16,16")
    assert info["count"] == 5 and info["shape"] == [3, 16, 16]
    assert info["notes"] == ["adapted from 1x8x8 to 3x16x16"]
    code, out, _ = run("data", "info", f"npz:{tiny_npz}")
    assert code == 0 and "count" in out and "12" in out


def test_list_names_every_source() -> None:
    code, out, _ = run("data", "list")
    assert code == 0
    for pattern in ("fashion-mnist:train", "digits", "ood:constant", "ood:noise", "ood:vflip",
                    "folder:PATH", "npz:PATH", "cifar10:PATH:train|test"):
        assert pattern in out


def test_show_writes_a_grid(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    code, _, err = run("data", "show", "ood:noise", "--out", str(out), "--n", "10", "--nrow", "5")
    assert code == 0, err
    with Image.open(out) as grid:
        # 5 columns x 2 rows of 28 px with 2 px padding (152 x 62), enlarged x4 to reach 512 px
        assert grid.size == (4 * (5 * 30 + 2), 4 * (2 * 30 + 2)) and grid.mode == "L"


# ----------------------------------------------------------------------------- bad input
def test_unknown_spec_lists_valid_ones() -> None:
    assert_one_line_error(("data", "info", "fashion"), "unknown data spec 'fashion'",
                          "valid specs: fashion-mnist:train", "cifar10:PATH:train|test")


def test_missing_paths(tmp_path: Path) -> None:
    assert_one_line_error(("data", "info", f"folder:{tmp_path / 'nope'}"), "does not exist")
    assert_one_line_error(("data", "show", f"npz:{tmp_path / 'x.npz'}", "--out", "g.png"),
                          f"data file {tmp_path / 'x.npz'} does not exist")


def test_corrupt_image_skipped_with_warning_or_error_under_strict(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    code, out, err = run("data", "info", "--json", f"folder:{tmp_path}")
    assert code == 0 and json.loads(out)["count"] == 1
    assert f"warning: skipping unreadable image file {tmp_path / 'bad.jpg'}" in err
    assert_one_line_error(("data", "info", f"folder:{tmp_path}", "--strict"),
                          f"cannot decode image {tmp_path / 'bad.jpg'}")


def test_mixed_sizes_resized_and_reported(tmp_path: Path) -> None:
    for name, size in (("a.png", (6, 6)), ("b.png", (6, 6)), ("c.png", (9, 4))):
        Image.fromarray(np.zeros(size, np.uint8)).save(tmp_path / name)
    info = info_json(f"folder:{tmp_path}")
    assert info["shape"] == [1, 6, 6] and info["count"] == 3
    assert "resized 1 image(s) of size 9x4 to the most common size 6x6" in info["notes"][0]


@pytest.mark.parametrize(
    ("arrays", "fragments"),
    [
        ({"images": np.zeros((2, 4, 4), np.int16)}, ("array 'images'", "dtype int16")),
        ({"images": np.full((2, 4, 4), 3.0)}, ("array 'images'", "outside [-1, 1]")),
        ({"images": np.array([[[0.0, np.nan], [np.inf, 0.0]]])},
         ("array 'images'", "2 NaN/inf values")),
        ({"images": np.zeros((0, 4, 4), np.uint8)}, ("holds no images",)),
        ({"images": np.zeros((3, 4, 4), np.uint8), "labels": np.zeros(4, int)},
         ("array 'labels'", "has shape (4,) but there are 3 images")),
    ],
)
def test_bad_arrays(tmp_path: Path, arrays: dict, fragments: tuple[str, ...]) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)
    assert_one_line_error(("data", "info", f"npz:{tmp_path / 'bad.npz'}"), *fragments)


def test_empty_folder_and_bad_options(tmp_path: Path) -> None:
    assert_one_line_error(("data", "info", f"folder:{tmp_path}"), "empty")
    assert_one_line_error(("data", "info", "digits", "--limit", "0"), "invalid limit")
    assert_one_line_error(("data", "info", "digits", "--shape", "2,8,8"), "invalid shape")
