"""BDMC: forward and reverse AIS bracket the exact log p(x) of simulated data."""

from __future__ import annotations

import math

import torch

from ganprobe.config import AISSettings
from ganprobe.inference.ais import gaussian_log_likelihood
from ganprobe.inference.bdmc import bdmc, simulate_observations
from ganprobe.models.protocol import standard_normal_log_prior

LATENT, SIDE, SIGMA = 4, 6, 0.1


def linear_model():
    rng = torch.Generator().manual_seed(0)
    weight = torch.randn(SIDE * SIDE, LATENT, generator=rng, dtype=torch.float64)
    weight /= math.sqrt(LATENT)
    bias = 0.1 * torch.randn(SIDE * SIDE, generator=rng, dtype=torch.float64)

    def model(z: torch.Tensor) -> torch.Tensor:
        return (z.double() @ weight.T + bias).float().view(-1, 1, SIDE, SIDE)

    covariance = weight @ weight.T + SIGMA**2 * torch.eye(SIDE * SIDE, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(bias, covariance)
    return model, exact


def run(settings: AISSettings, images: int = 6):
    model, exact = linear_model()
    rng = torch.Generator().manual_seed(3)
    z, x = simulate_observations(model, LATENT, SIGMA, images, rng)
    result = bdmc(standard_normal_log_prior, gaussian_log_likelihood(model, SIGMA), LATENT, x,
                  z, settings, rng)
    return result, exact.log_prob(x.double().view(images, -1))


def test_simulated_observations_have_the_model_noise() -> None:
    model, _ = linear_model()
    z, x = simulate_observations(model, LATENT, SIGMA, 400, torch.Generator().manual_seed(0))
    residual = x - model(z)
    assert z.shape == (400, LATENT) and x.shape == (400, 1, SIDE, SIDE)
    assert abs(float(residual.std()) - SIGMA) < 0.03 * SIGMA  # ~5 standard errors


def test_bdmc_brackets_exact_value_with_a_loose_schedule() -> None:
    """Prior start, few temperatures: the bounds are far apart and must sandwich the truth."""
    result, exact = run(AISSettings(start="prior", temperatures=30, chains=4, leapfrog=3))
    assert (result.lower < exact).all() and (result.upper > exact).all()
    assert result.mean_gap > 1.0
    assert torch.allclose(result.gap, result.upper - result.lower)


def test_bdmc_gap_shrinks_with_more_temperatures() -> None:
    loose, _ = run(AISSettings(start="prior", temperatures=30, chains=4, leapfrog=3), 4)
    tight, exact = run(AISSettings(start="prior", temperatures=300, chains=4, leapfrog=3), 4)
    assert tight.mean_gap < 0.5 * loose.mean_gap
    assert float(tight.lower.mean()) < float(exact.mean()) < float(tight.upper.mean())


def test_bdmc_with_laplace_start_exact_lower_bound_and_valid_upper_bound() -> None:
    """Laplace start on a linear model: the forward run is exact; the reverse run (to the
    prior, few temperatures) stays above the truth on average."""
    result, exact = run(AISSettings(temperatures=30, chains=4, leapfrog=3))
    assert (result.lower - exact).abs().max() < 0.05
    # a stochastic bound: above the truth on average, single images may dip slightly below
    assert float(result.upper.mean()) > float(exact.mean())
    assert (result.upper > exact - 1.0).all()
