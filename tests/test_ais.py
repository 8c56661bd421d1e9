"""AIS against exact answers: linear-Gaussian generators (closed form) and a nonlinear
generator with a 2-D latent (dense quadrature)."""

from __future__ import annotations

import math

import pytest
import torch

from ganprobe.config import AISSettings
from ganprobe.inference.ais import (
    ais_log_px,
    gaussian_log_likelihood,
    sigmoid_schedule,
    summarize_log_weights,
)
from ganprobe.inference.laplace import laplace_start
from ganprobe.models.protocol import standard_normal_log_prior
from ganprobe.units import bits_per_dim


class LinearGenerator:
    """G(z) = W z + b reshaped to (1, D, 1); exact marginal x ~ N(b, W W^T + sigma^2 I)."""

    def __init__(self, latent_dim: int, dim: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        scale = 0.5 / math.sqrt(latent_dim)
        self.weight = torch.randn(dim, latent_dim, generator=generator, dtype=torch.float64)
        self.weight *= scale
        self.bias = 0.1 * torch.randn(dim, generator=generator, dtype=torch.float64)
        self.latent_dim, self.dim = latent_dim, dim

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return (z.double() @ self.weight.T + self.bias).float().view(-1, 1, self.dim, 1)

    def sample(self, n: int, sigma: float, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (z @ self.weight.T + self.bias + sigma * noise).float().view(n, 1, self.dim, 1)

    def exact_log_px(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """log N(x; b, W W^T + sigma^2 I) by Cholesky, float64 [N]."""
        covariance = self.weight @ self.weight.T
        covariance += sigma**2 * torch.eye(self.dim, dtype=torch.float64)
        chol = torch.linalg.cholesky(covariance)
        centred = x.double().view(x.shape[0], -1) - self.bias
        white = torch.linalg.solve_triangular(chol, centred.T, upper=False)
        log_det = 2 * torch.diagonal(chol).log().sum()
        return -0.5 * (white.pow(2).sum(0) + log_det + self.dim * math.log(2 * math.pi))


def estimate(model, x: torch.Tensor, sigma: float, settings: AISSettings, seed: int = 0):
    return ais_log_px(
        standard_normal_log_prior,
        gaussian_log_likelihood(model, sigma),
        model.latent_dim,
        x,
        settings,
        generator=torch.Generator().manual_seed(seed),
    )


def test_sigmoid_schedule_runs_from_zero_to_one() -> None:
    betas = sigmoid_schedule(50, delta=4.0)
    assert betas.shape == (51,) and betas.dtype == torch.float64
    assert betas[0] == 0.0 and betas[-1] == 1.0
    assert (betas.diff() > 0).all()
    assert torch.equal(sigmoid_schedule(1), torch.tensor([0.0, 1.0], dtype=torch.float64))


def test_gaussian_log_likelihood_matches_torch_normal() -> None:
    z = torch.randn(6, 3)
    weight = torch.randn(12, 3)

    def conditional(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (z @ weight.T + c[:, None].float()).view(-1, 3, 2, 2)

    labels = torch.tensor([0, 2])  # two images, three chains each
    x = torch.randn(6, 3, 2, 2)
    log_likelihood = gaussian_log_likelihood(conditional, 0.3, labels)(z, x)
    mean = conditional(z, labels.repeat_interleave(3))
    expected = torch.distributions.Normal(mean.double(), 0.3).log_prob(x.double())
    assert log_likelihood.dtype == torch.float64
    assert torch.allclose(log_likelihood, expected.flatten(1).sum(1), atol=1e-6)


def test_summarize_log_weights() -> None:
    log_w = torch.tensor([[2.0, 2.0, 2.0, 2.0], [0.0, -50.0, -50.0, -50.0]], dtype=torch.float64)
    log_mean, spread, ess = summarize_log_weights(log_w)
    assert torch.allclose(log_mean, torch.tensor([2.0, -math.log(4)], dtype=torch.float64))
    assert spread[0] == 0.0 and spread[1] > 20
    assert torch.allclose(ess, torch.tensor([4.0, 1.0], dtype=torch.float64), atol=1e-12)


def test_laplace_start_is_the_exact_posterior_of_a_linear_generator() -> None:
    model, sigma = LinearGenerator(3, 20, seed=5), 0.2
    x = model.sample(4, sigma, seed=6)
    start = laplace_start(
        standard_normal_log_prior, gaussian_log_likelihood(model, sigma), x, 3,
        steps=50, lr=0.05, restarts=2,
    )
    precision = torch.eye(3, dtype=torch.float64) + model.weight.T @ model.weight / sigma**2
    covariance = torch.linalg.inv(precision)
    centred = x.double().view(4, -1) - model.bias
    posterior_mean = centred @ model.weight @ covariance / sigma**2
    chol = start.precision_cholesky
    assert torch.allclose(start.mean, posterior_mean, atol=1e-4)
    assert torch.allclose(chol @ chol.transpose(-1, -2), precision.expand(4, 3, 3), rtol=1e-4)


LINEAR_CASES = [(2, 16, 0.1), (8, 64, 0.3), (4, 144, 0.05)]


@pytest.mark.parametrize(("latent_dim", "dim", "sigma"), LINEAR_CASES)
def test_default_ais_matches_exact_linear_gaussian(latent_dim: int, dim: int, sigma: float) -> None:
    model = LinearGenerator(latent_dim, dim, seed=latent_dim + dim)
    x = model.sample(4, sigma, seed=1)
    result = estimate(model, x, sigma, AISSettings())
    error = result.log_px - model.exact_log_px(x, sigma)
    assert error.abs().mean() < 0.5 and error.abs().max() < 2.0
    assert result.log_px.shape == (4,) and result.log_w.shape == (4, 4)
    assert torch.allclose(result.bpd, bits_per_dim(result.log_px, dim))
    assert (result.ess >= 1).all() and (result.ess <= 4 + 1e-9).all()
    assert ((result.acceptance > 0.3) & (result.acceptance < 0.95)).all()


@pytest.mark.slow
@pytest.mark.parametrize(("latent_dim", "dim", "sigma"), [(16, 784, 0.05), (12, 400, 0.2)])
def test_default_ais_matches_exact_linear_gaussian_large(
    latent_dim: int, dim: int, sigma: float
) -> None:
    model = LinearGenerator(latent_dim, dim, seed=latent_dim + dim)
    x = model.sample(4, sigma, seed=2)
    error = estimate(model, x, sigma, AISSettings()).log_px - model.exact_log_px(x, sigma)
    assert error.abs().mean() < 0.5 and error.abs().max() < 2.0


def test_prior_start_annealing_matches_exact_linear_gaussian() -> None:
    """Without the Laplace start the annealing alone must get there (more temperatures)."""
    model, sigma = LinearGenerator(2, 16, seed=3), 0.3
    x = model.sample(4, sigma, seed=4)
    settings = AISSettings(start="prior", temperatures=200, leapfrog=3, chains=8)
    error = estimate(model, x, sigma, settings).log_px - model.exact_log_px(x, sigma)
    assert error.abs().mean() < 0.5 and error.abs().max() < 2.0


def test_two_pass_freezes_step_sizes_and_stays_exact() -> None:
    model, sigma = LinearGenerator(2, 16, seed=3), 0.3
    x = model.sample(3, sigma, seed=4)
    settings = AISSettings(start="prior", temperatures=100, leapfrog=3, chains=8,
                           two_pass=True)
    result = estimate(model, x, sigma, settings)
    error = result.log_px - model.exact_log_px(x, sigma)
    assert error.abs().mean() < 0.5
    assert result.step_sizes.shape == (99, 3, 8)
    assert not torch.equal(result.step_sizes[0], result.step_sizes[-1])  # adapted in the pilot


def test_same_seed_same_estimate() -> None:
    model, sigma = LinearGenerator(2, 16, seed=3), 0.3
    x = model.sample(2, sigma, seed=4)
    settings = AISSettings(start="prior", temperatures=20)
    first, second = (estimate(model, x, sigma, settings, seed=9) for _ in range(2))
    assert torch.equal(first.log_w, second.log_w)


class TanhGenerator:
    """G(z) = tanh(A z + c) with a 2-D latent, reshaped to (1, 1, D)."""

    latent_dim = 2

    def __init__(self, dim: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(dim, 2, generator=generator, dtype=torch.float64)
        self.bias = 0.5 * torch.randn(dim, generator=generator, dtype=torch.float64)
        self.dim = dim

    def mean64(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z.double() @ self.weight.T + self.bias)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean64(z).float().view(-1, 1, 1, self.dim)


def quadrature_log_px(model: TanhGenerator, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """log of the integral of N(x; G(z), sigma^2 I) N(z; 0, I) over a dense 2-D grid: a coarse
    grid over [-7, 7]^2 finds where the integrand lives, a 300 x 300 grid there sums it."""

    def grid(lo: torch.Tensor, hi: torch.Tensor, n: int, xi: torch.Tensor):
        axes = [torch.linspace(float(lo[i]), float(hi[i]), n, dtype=torch.float64) for i in (0, 1)]
        z = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).view(-1, 2)
        residual = model.mean64(z) - xi
        log_density = (
            -0.5 * z.pow(2).sum(1) - math.log(2 * math.pi)
            - 0.5 * residual.pow(2).sum(1) / sigma**2
            - model.dim * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
        )
        cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
        return z, log_density, cell

    values = []
    for xi in x.double().view(x.shape[0], -1):
        z, log_density, _ = grid(torch.tensor([-7.0, -7.0]), torch.tensor([7.0, 7.0]), 200, xi)
        alive = z[log_density > log_density.max() - 40]
        lo, hi = alive.min(0).values - 0.1, alive.max(0).values + 0.1
        _, log_density, cell = grid(lo, hi, 300, xi)
        values.append(torch.logsumexp(log_density, 0) + cell.log())
    return torch.stack(values)


@pytest.mark.parametrize(("dim", "sigma"), [(16, 0.2), (32, 0.05)])
def test_default_ais_matches_quadrature_nonlinear(dim: int, sigma: float) -> None:
    model = TanhGenerator(dim, seed=dim)
    generator = torch.Generator().manual_seed(11)
    z = torch.randn(3, 2, generator=generator, dtype=torch.float64)
    noise = torch.randn(3, dim, generator=generator, dtype=torch.float64)
    x = (model.mean64(z) + sigma * noise).float().view(3, 1, 1, dim)
    error = estimate(model, x, sigma, AISSettings()).log_px - quadrature_log_px(model, x, sigma)
    assert error.abs().mean() < 0.5 and error.abs().max() < 2.0


def test_gaussian_mixture_start_density_and_sampling() -> None:
    from ganprobe.inference.laplace import GaussianMixtureStart, GaussianStart

    means = torch.tensor([[[0.0, 0.0], [4.0, -1.0]]], dtype=torch.float64)
    chol = torch.stack([torch.eye(2), 2.0 * torch.eye(2)]).double()[None]
    weights = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    mixture = GaussianMixtureStart(means, chol, weights.log())
    z = torch.randn(5, 2)
    components = [torch.distributions.MultivariateNormal(
        means[0, c], precision_matrix=chol[0, c] @ chol[0, c].T) for c in range(2)]
    expected = torch.logsumexp(torch.stack(
        [weights[0, c].log() + components[c].log_prob(z.double()) for c in range(2)]), 0)
    assert torch.allclose(mixture.log_prob(z), expected, atol=1e-10)
    sample = mixture.sample(1, 20000, torch.Generator().manual_seed(0)).double()
    expected_mean = (weights[0, :, None] * means[0]).sum(0)
    assert torch.allclose(sample.mean(0), expected_mean, atol=0.06)
    single = GaussianStart(means[:, 0], chol[:, 0])
    one = GaussianMixtureStart(means[:, :1], chol[:, :1], torch.zeros(1, 1))
    assert torch.allclose(one.log_prob(z), single.log_prob(z), atol=1e-10)


def test_mixture_laplace_start_stays_exact_on_nonlinear_generator() -> None:
    model, sigma = TanhGenerator(16, seed=16), 0.2
    generator = torch.Generator().manual_seed(12)
    z = torch.randn(3, 2, generator=generator, dtype=torch.float64)
    noise = torch.randn(3, 16, generator=generator, dtype=torch.float64)
    x = (model.mean64(z) + sigma * noise).float().view(3, 1, 1, 16)
    settings = AISSettings(laplace_components=3, mode_restarts=4)
    error = estimate(model, x, sigma, settings).log_px - quadrature_log_px(model, x, sigma)
    assert error.abs().mean() < 0.5 and error.abs().max() < 2.0
