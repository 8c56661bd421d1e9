"""Gaussian and PPCA baselines against exact answers (scipy), the PPCA closed form against its
likelihood surface, the bpd convention, save/load round trips and spec errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from ganprobe.errors import GanprobeError
from ganprobe.models.density import GaussianDensity, PPCADensity, load_density
from ganprobe.models.density.base import LEVEL_WIDTH, dequantize
from ganprobe.models.density.gaussian import select_ridge
from ganprobe.units import bits_per_dim


def correlated_images(n: int, shape=(1, 2, 3), seed: int = 0) -> torch.Tensor:
    """n images [n, *shape] from a random correlated Gaussian (float64)."""
    g = torch.Generator().manual_seed(seed)
    dim = math.prod(shape)
    mix = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim**0.5
    rows = torch.randn(n, dim, generator=g, dtype=torch.float64) @ mix + 0.3
    return rows.reshape(n, *shape)


def test_gaussian_log_px_matches_scipy():
    x = correlated_images(200)
    model = GaussianDensity.fit(x, ridge=1e-3)
    rows = x.reshape(200, -1).numpy()
    cov = np.cov(rows.T, bias=True) + 1e-3 * np.eye(rows.shape[1])
    expected = multivariate_normal(rows.mean(0), cov).logpdf(rows[:7])
    np.testing.assert_allclose(model.log_px(x[:7]).numpy(), expected, rtol=0, atol=1e-9)
    assert model.log_px(x).dtype == torch.float64


def test_ridge_is_chosen_on_heldout_data():
    # full-rank data: a tiny ridge wins; rank-deficient data (3 of 6 dims): it must not be 0
    x = correlated_images(400)
    assert select_ridge(x.reshape(400, -1)) <= 1e-4
    low_rank = torch.cat([x[:, :, :1], x[:, :, :1] * 2.0, x[:, :, 2:]], dim=2)
    ridge = select_ridge(low_rank.reshape(400, -1), grid=(1e-8, 1e-4, 1e-2))
    assert ridge > 0
    model = GaussianDensity.fit(low_rank)  # ridge=None chooses; must be non-singular
    assert torch.isfinite(model.log_px(low_rank)).all()


def test_ppca_log_px_matches_scipy_with_its_covariance():
    x = correlated_images(300, shape=(1, 3, 3))
    model = PPCADensity.fit(x, rank=3)
    rows = x.reshape(300, -1).numpy()
    expected = multivariate_normal(rows.mean(0), model.covariance.numpy()).logpdf(rows[:9])
    np.testing.assert_allclose(model.log_px(x[:9]).numpy(), expected, rtol=0, atol=1e-9)


def test_ppca_closed_form_is_the_maximum_likelihood():
    x = correlated_images(300, shape=(1, 3, 3))
    model = PPCADensity.fit(x, rank=2)
    rows = x.reshape(300, -1)
    weight = model.weight.clone().requires_grad_(True)
    log_sigma2 = torch.tensor(math.log(model.sigma2), dtype=torch.float64, requires_grad=True)

    def mean_log_lik(w: torch.Tensor, log_s2: torch.Tensor) -> torch.Tensor:
        cov = w @ w.T + log_s2.exp() * torch.eye(9, dtype=torch.float64)
        dist = torch.distributions.MultivariateNormal(rows.mean(0), covariance_matrix=cov)
        return dist.log_prob(rows).mean()

    best = mean_log_lik(weight, log_sigma2)
    grad_w, grad_s = torch.autograd.grad(best, (weight, log_sigma2))
    assert grad_w.abs().max() < 1e-8 and abs(float(grad_s)) < 1e-8  # stationary point
    g = torch.Generator().manual_seed(1)
    for _ in range(20):  # and a maximum: every perturbation lowers the likelihood
        dw = 0.05 * torch.randn(weight.shape, generator=g, dtype=torch.float64)
        ds = 0.05 * torch.randn((), generator=g, dtype=torch.float64)
        assert mean_log_lik(weight.detach() + dw, log_sigma2.detach() + ds) < best
    # the full Gaussian has more parameters: never a lower training likelihood
    full = GaussianDensity.fit(x, ridge=0.0)
    assert full.log_px(x).mean() >= model.log_px(x).mean()


@pytest.mark.parametrize("kind", ["gaussian", "ppca"])
def test_samples_have_the_model_mean_and_covariance(kind):
    x = correlated_images(200)
    model = GaussianDensity.fit(x, ridge=1e-3) if kind == "gaussian" else PPCADensity.fit(x, 2)
    samples = model.sample(20000, torch.Generator().manual_seed(0)).double().reshape(20000, -1)
    assert samples.shape == (20000, 6)
    torch.testing.assert_close(samples.mean(0), model.mean, rtol=0, atol=0.05)
    cov = torch.cov(samples.T)
    torch.testing.assert_close(cov, model.covariance, rtol=0, atol=0.05)


def test_ppca_with_rank_d_minus_1_is_the_full_gaussian():
    x = correlated_images(100)
    ppca, full = PPCADensity.fit(x, rank=5), GaussianDensity.fit(x, ridge=0.0)
    torch.testing.assert_close(ppca.log_px(x), full.log_px(x), rtol=0, atol=1e-8)


def test_ppca_bad_rank_is_a_one_line_error():
    with pytest.raises(GanprobeError, match="ppca-rank"):
        PPCADensity.fit(correlated_images(20), rank=6)


def test_bpd_of_uniform_density_over_the_256_levels_is_8():
    # dequantized 8-bit values fill [-1 - 1/255, 1 + 1/255]: 256 levels of width 1/127.5
    dim = 784
    width = 256 * LEVEL_WIDTH
    assert bits_per_dim(-dim * math.log(width), dim) == pytest.approx(8.0, abs=1e-12)
    # uniform on [-1, 1] itself spans 255 levels: log2(255) bits
    assert bits_per_dim(-dim * math.log(2.0), dim) == pytest.approx(math.log2(255), abs=1e-12)


def test_dequantize_adds_one_level_of_uniform_noise():
    x = torch.linspace(-1, 1, 256).repeat(100, 1)
    noisy = dequantize(x, torch.Generator().manual_seed(0))
    noise = (noisy - x).double()
    assert noise.abs().max() <= LEVEL_WIDTH / 2 + 1e-6
    assert noise.std().item() == pytest.approx(LEVEL_WIDTH / math.sqrt(12), rel=0.02)


@pytest.mark.parametrize("kind", ["gaussian", "ppca"])
def test_save_load_round_trip_gives_identical_log_px(tmp_path, kind):
    x = correlated_images(80)
    model = GaussianDensity.fit(x) if kind == "gaussian" else PPCADensity.fit(x, rank=2)
    model.save(tmp_path / "run")
    loaded = load_density(f"density:{tmp_path / 'run'}")
    assert loaded.name == kind and tuple(loaded.image_shape) == (1, 2, 3)
    assert torch.equal(loaded.log_px(x), model.log_px(x))


@pytest.mark.parametrize("spec", ["gaussian:/tmp", "density:", "density:/nonexistent/run"])
def test_bad_density_spec_is_a_one_line_error(spec):
    with pytest.raises(GanprobeError) as info:
        load_density(spec)
    assert "\n" not in str(info.value) and "density" in str(info.value)


def test_wrong_image_shape_is_a_one_line_error():
    model = GaussianDensity.fit(correlated_images(50), ridge=1e-2)
    with pytest.raises(GanprobeError, match="shape"):
        model.log_px(torch.zeros(3, 1, 4, 4))
