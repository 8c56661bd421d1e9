"""adapt_images, array conversion and subsampling, against exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganprobe.data import adapt_images, subsample_indices, to_model_space
from ganprobe.errors import DataError, GanprobeError


def test_uint8_maps_to_model_space_exactly() -> None:
    levels = np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8).reshape(1, 1, 3, 2)
    out = to_model_space(levels, "x")
    expected = torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.float32) / 127.5 - 1
    assert out.dtype == torch.float32 and out.shape == (1, 1, 3, 2)
    assert torch.equal(out.flatten(), expected)
    assert out.min() == -1.0 and out.max() == 1.0


def test_layouts_nhwc_nchw_nhw_agree() -> None:
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, size=(2, 3, 5, 4), dtype=np.uint8)
    from_nhwc = to_model_space(np.transpose(nchw, (0, 2, 3, 1)), "x")
    assert torch.equal(from_nhwc, to_model_space(nchw, "x"))
    gray = nchw[:, 0]
    assert torch.equal(to_model_space(gray, "x"), to_model_space(nchw[:, :1], "x"))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 4, 4), dtype=np.int64), "array imgs has dtype int64"),
        (np.full((2, 4, 4), 2.0, dtype=np.float32), "outside [-1, 1]"),
        (np.array([[[0.0, np.nan]]], dtype=np.float32), "NaN/inf"),
        (np.array([[[0.0, np.inf]]], dtype=np.float64), "NaN/inf"),
        (np.zeros((0, 4, 4), dtype=np.uint8), "holds no images"),
        (np.zeros((2, 5, 4, 4), dtype=np.uint8), "has shape (2, 5, 4, 4)"),
    ],
)
def test_bad_arrays_name_the_array(array: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match="array imgs") as info:
        to_model_space(array, "imgs")
    assert message in str(info.value)


def test_gray_to_rgb_repeats_and_rgb_to_gray_is_luma() -> None:
    gray = torch.tensor([[[[-1.0, 0.5]]]])
    rgb = adapt_images(gray, (3, 1, 2))
    assert torch.equal(rgb, gray.repeat(1, 3, 1, 1))
    colour = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)
    luma = adapt_images(colour, (1, 1, 1))
    assert luma.item() == pytest.approx(0.299 * 1 - 0.587 * 1 + 0.0, abs=1e-7)
    # gray -> RGB -> gray is the identity (luma weights sum to 1)
    assert torch.allclose(adapt_images(rgb, (1, 1, 2)), gray, atol=1e-6)


def test_resize_keeps_constants_and_range() -> None:
    constant = torch.full((2, 1, 8, 8), 0.25)
    for size in ((28, 28), (3, 5), (64, 64)):
        out = adapt_images(constant, (1, *size))
        assert out.shape == (2, 1, *size)
        assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    checker = (torch.arange(64).view(8, 8) % 2 * 2 - 1).float().view(1, 1, 8, 8)
    up = adapt_images(checker, (3, 37, 23))
    assert up.min() >= -1 and up.max() <= 1
    # antialiased 2x downsampling of a +-1 checkerboard averages it to 0 away from the border
    down = adapt_images(checker, (1, 4, 4))
    assert torch.allclose(down[..., 1:3, 1:3], torch.zeros(1, 1, 2, 2), atol=1e-6)


def test_adapt_same_shape_is_identity_and_bad_shape_is_an_error() -> None:
    images = torch.rand(3, 1, 4, 4) * 2 - 1
    assert adapt_images(images, (1, 4, 4)) is images
    with pytest.raises(GanprobeError, match="C 1 or 3"):
        adapt_images(images, (2, 4, 4))


@settings(max_examples=30, deadline=None)
@given(n_items=st.integers(1, 300), small=st.integers(1, 300), extra=st.integers(0, 300),
       seed=st.integers(0, 2**31))
def test_subsample_is_deterministic_sorted_and_nested(
    n_items: int, small: int, extra: int, seed: int
) -> None:
    a = subsample_indices(n_items, small, seed)
    assert np.array_equal(a, subsample_indices(n_items, small, seed))
    assert len(a) == min(small, n_items) and len(np.unique(a)) == len(a)
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < n_items
    assert set(a) <= set(subsample_indices(n_items, small + extra, seed))


def test_subsample_limit_must_be_positive() -> None:
    with pytest.raises(DataError, match="--limit"):
        subsample_indices(10, 0, 0)


def test_image_grid_places_images_exactly() -> None:
    from ganprobe.data import image_grid

    images = torch.stack([torch.full((1, 2, 2), -1.0), torch.full((1, 2, 2), 1.0)])
    grid = image_grid(images, nrow=2, pad=1)
    assert grid.shape == (4, 7) and grid.dtype == np.uint8
    assert (grid[1:3, 1:3] == 0).all() and (grid[1:3, 4:6] == 255).all()
    assert grid[0].tolist() == [255] * 7 and (grid[:, 3] == 255).all()  # white padding
    rgb = image_grid(torch.zeros(3, 3, 2, 2), pad=0)  # 2 per row -> 2 rows, last cell padding
    assert rgb.shape == (4, 4, 3) and (rgb[:2, :2] == 128).all() and (rgb[2:, 2:] == 255).all()
