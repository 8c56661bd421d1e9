"""l2 / rmse exact values; LPIPS through the real lpips code (random trunk)."""

from __future__ import annotations

import math

import pytest
import torch

from ganprobe import distances
from ganprobe.errors import GanprobeError


def test_l2_and_rmse_exact() -> None:
    a = torch.zeros(2, 1, 2, 2)
    b = torch.zeros(2, 1, 2, 2)
    b[0] = 0.5  # four values differ by 0.5 -> l2 = sqrt(4 * 0.25) = 1, rmse = 1 / 2
    b[1, 0, 0, 0] = -2.0
    assert torch.allclose(distances.l2(a, b), torch.tensor([1.0, 2.0]))
    assert torch.allclose(distances.rmse(a, b), torch.tensor([0.5, 2.0 / math.sqrt(4)]))
    assert torch.allclose(distances.squared_l2(a, b), torch.tensor([1.0, 4.0]))


def test_shape_mismatch_rejected() -> None:
    with pytest.raises(ValueError):
        distances.l2(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))


def test_lpips_input_gray_and_upsampling() -> None:
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    prepared = distances.lpips_input(x)
    assert prepared.shape == (3, 3, 64, 64)
    assert torch.equal(prepared[:, 0], prepared[:, 2])
    big = torch.rand(2, 3, 70, 80)
    assert distances.lpips_input(big).shape == big.shape


@pytest.fixture(scope="module")
def lpips_random() -> distances.LpipsDistance:
    return distances.get_lpips("alex", "random")


def test_lpips_properties_random_trunk(lpips_random: distances.LpipsDistance) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(4, 1, 28, 28, generator=gen) * 2 - 1
    b = torch.rand(4, 1, 28, 28, generator=gen) * 2 - 1
    d_ab = lpips_random(a, b)
    assert d_ab.shape == (4,)
    assert torch.all(d_ab > 0)
    assert torch.allclose(d_ab, lpips_random(b, a), atol=1e-6)
    assert torch.allclose(lpips_random(a, a), torch.zeros(4), atol=1e-7)
    # gray image == the same image as RGB with equal channels
    rgb = lpips_random(a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1))
    assert torch.allclose(d_ab, rgb, atol=1e-6)


def test_lpips_is_squared_distance_of_embeddings(lpips_random: distances.LpipsDistance) -> None:
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(3, 3, 32, 32, generator=gen) * 2 - 1
    b = torch.rand(3, 3, 32, 32, generator=gen) * 2 - 1
    via_embedding = (lpips_random.embed(a) - lpips_random.embed(b)).pow(2).sum(1)
    assert torch.allclose(via_embedding, lpips_random(a, b), rtol=1e-4, atol=1e-6)


def test_lpips_differentiable(lpips_random: distances.LpipsDistance) -> None:
    a = torch.zeros(2, 1, 16, 16, requires_grad=True)
    b = torch.rand(2, 1, 16, 16) * 2 - 1
    lpips_random(a, b).sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_missing_imagenet_weights_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(GanprobeError, match="ImageNet alex weights"):
        distances.LpipsDistance("alex", "imagenet")
