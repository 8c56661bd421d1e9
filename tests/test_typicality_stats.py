"""Typical-set statistics against exact answers (standard Gaussians with exact log-densities)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from ganprobe.errors import GanprobeError
from ganprobe.inference.typicality import (
    batch_statistic,
    bootstrap_threshold,
    chi_mean,
    entropy_estimate,
    fraction_in_band,
    ks_two_sample,
    latent_norm_test,
    typical_band,
    typicality_test,
)

DIM = 40


def gaussian_log_px(x: np.ndarray) -> np.ndarray:
    """Exact log N(x; 0, I_D) for x [N, D]."""
    return -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    rng = np.random.default_rng(0)
    return gaussian_log_px(rng.standard_normal((20000, DIM)))


def test_band_by_hand() -> None:
    values = np.array([-4.0, -3.0, -2.0, -1.0, 0.0])  # mean -2, H_hat = 2
    band = typical_band(values, level=0.5)
    # |values + H| = [2, 1, 0, 1, 2]; 0.5 quantile = 1
    assert band.entropy == 2.0 and band.epsilon == 1.0
    assert (band.low, band.high) == (-3.0, -1.0)
    assert fraction_in_band(values, band) == pytest.approx(0.6)
    quantile = typical_band(values, level=0.5, kind="quantile")
    assert (quantile.low, quantile.high) == (-3.0, -1.0)


def test_entropy_and_epsilon_match_exact_gaussian(samples: np.ndarray) -> None:
    exact_entropy = 0.5 * DIM * (1 + math.log(2 * math.pi))
    assert entropy_estimate(samples) == pytest.approx(exact_entropy, abs=0.1)
    # -log p - H = (Q - D) / 2 with Q ~ chi2(D): eps solves P(|Q - D| <= 2 eps) = 0.99
    chi2 = stats.chi2(DIM)

    def coverage(eps: float) -> float:
        return chi2.cdf(DIM + 2 * eps) - chi2.cdf(max(DIM - 2 * eps, 0.0)) - 0.99

    exact_eps = optimize.brentq(coverage, 0.1, 100.0)
    assert typical_band(samples).epsilon == pytest.approx(exact_eps, rel=0.05)


def test_held_out_samples_are_typical_shifted_are_not(samples: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    band = typical_band(samples, level=0.99)
    held_out = gaussian_log_px(rng.standard_normal((4000, DIM)))
    shifted = gaussian_log_px(rng.standard_normal((4000, DIM)) + 1.0)
    far = gaussian_log_px(rng.standard_normal((4000, DIM)) + 2.0)
    assert 0.985 <= fraction_in_band(held_out, band) <= 0.995
    # exact: ||x||^2 ~ noncentral chi2(D, D s^2) for a shift s in every dimension
    const = 0.5 * DIM * math.log(2 * math.pi)
    q_low, q_high = -2 * (band.high + const), -2 * (band.low + const)
    exact = stats.ncx2(DIM, DIM * 1.0).cdf(q_high) - stats.ncx2(DIM, DIM * 1.0).cdf(q_low)
    assert fraction_in_band(shifted, band) == pytest.approx(exact, abs=0.02)
    assert fraction_in_band(far, band) < 0.01
    # the origin has the highest density but is not typical
    assert fraction_in_band(gaussian_log_px(np.zeros((3, DIM))), band) == 0.0


@pytest.mark.parametrize("batch_size", [1, 10])
def test_bootstrap_threshold_is_calibrated(samples: np.ndarray, batch_size: int) -> None:
    alpha = 0.05
    rng = np.random.default_rng(2)
    null = gaussian_log_px(rng.standard_normal((20000, DIM)))
    result = typicality_test(null, samples, batch_size=batch_size, alpha=alpha, seed=3)
    assert result.n_batches == 20000 // batch_size
    assert result.reject_rate == pytest.approx(alpha, abs=0.015 if batch_size == 1 else 0.02)


def test_typicality_test_rejects_shifted_batches(samples: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    shifted = gaussian_log_px(rng.standard_normal((500, DIM)) + 0.5)
    single = typicality_test(shifted, samples, batch_size=1, alpha=0.01)
    batched = typicality_test(shifted, samples, batch_size=25, alpha=0.01)
    assert batched.reject_rate == 1.0
    assert single.reject_rate < batched.reject_rate


def test_batch_statistic_exact() -> None:
    stat = batch_statistic(np.array([[-1.0, -3.0], [-10.0, -10.0]]), entropy=2.0)
    np.testing.assert_allclose(stat, [0.0, 8.0])
    # M = 1 with one value: threshold is the (1 - alpha) quantile of a constant
    assert bootstrap_threshold(np.array([-5.0, -5.0]), batch_size=1) == 0.0


def test_ks_two_sample(samples: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    same = gaussian_log_px(rng.standard_normal((2000, DIM)))
    other = gaussian_log_px(1.2 * rng.standard_normal((2000, DIM)))
    assert ks_two_sample(same, samples)[1] > 0.01
    statistic, pvalue = ks_two_sample(other, samples)
    assert pvalue < 1e-10 and 0.0 < statistic <= 1.0


def test_latent_norms_against_chi() -> None:
    rng = np.random.default_rng(6)
    prior = rng.standard_normal((3000, 16))
    accepted = latent_norm_test(prior)
    rejected = latent_norm_test(0.8 * prior)
    assert accepted.ks_pvalue > 0.01
    assert rejected.ks_pvalue < 1e-10
    assert accepted.expected_norm == pytest.approx(stats.chi(16).mean())
    assert accepted.mean_norm == pytest.approx(accepted.expected_norm, rel=0.02)


@pytest.mark.parametrize("dim", [1, 2, 100, 512])
def test_chi_mean(dim: int) -> None:
    assert chi_mean(dim) == pytest.approx(stats.chi(dim).mean(), rel=1e-10)


def test_bad_inputs() -> None:
    with pytest.raises(GanprobeError, match="level"):
        typical_band(np.zeros(3), level=1.5)
    with pytest.raises(GanprobeError, match="non-finite"):
        typical_band(np.array([0.0, np.nan]))
    with pytest.raises(GanprobeError, match="empty"):
        fraction_in_band(np.array([]), typical_band(np.zeros(3)))
    with pytest.raises(GanprobeError, match="batch size"):
        typicality_test(np.zeros(3), np.zeros(3), batch_size=0)
    with pytest.raises(GanprobeError, match="kind"):
        typical_band(np.zeros(3), kind="median")
    with pytest.raises(GanprobeError, match="latents"):
        latent_norm_test(np.zeros(4))
