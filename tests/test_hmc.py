"""HMC kernel: invariance of a known Gaussian, step-size adaptation, rejection of non-finite
proposals."""

from __future__ import annotations

import math

import torch

from ganprobe.inference.hmc import adapt_step_size, hmc_init, hmc_step

MEAN = torch.tensor([1.0, -2.0])
COVARIANCE = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
PRECISION = torch.linalg.inv(COVARIANCE)


def gaussian_log_density(z: torch.Tensor) -> torch.Tensor:
    """Unnormalised log N(z; MEAN, COVARIANCE), [M, 2] -> [M]."""
    centred = z - MEAN
    return -0.5 * ((centred @ PRECISION) * centred).sum(-1)


def flat(z: torch.Tensor) -> torch.Tensor:
    return torch.zeros(z.shape[0], dtype=z.dtype) + 0.0 * z.sum(-1)


def test_hmc_leaves_gaussian_invariant() -> None:
    generator = torch.Generator().manual_seed(0)
    chains = 4000
    chol = torch.linalg.cholesky(COVARIANCE)
    z = MEAN + torch.randn(chains, 2, generator=generator) @ chol.T
    state = hmc_init(z, flat, gaussian_log_density)
    step = torch.full((chains,), 0.4, dtype=torch.float64)
    accepted = []
    for _ in range(10):
        state, info = hmc_step(state, 1.0, step, 5, flat, gaussian_log_density, generator)
        accepted.append(info.accepted.double().mean())
    sample = state.z.double()
    assert 0.3 < float(torch.stack(accepted).mean()) < 1.0  # the chains really moved
    standard_error = math.sqrt(1.0 / chains)
    assert torch.allclose(sample.mean(0), MEAN.double(), atol=5 * standard_error)
    assert torch.allclose(torch.cov(sample.T), COVARIANCE.double(), atol=0.08)


def test_hmc_beta_interpolates_init_and_joint() -> None:
    z = torch.randn(5, 2)
    state = hmc_init(z, flat, gaussian_log_density)
    expected = 0.3 * gaussian_log_density(z).double()
    assert torch.allclose(state.log_target(0.3), expected, atol=1e-6)
    assert torch.allclose(state.log_ratio, gaussian_log_density(z).double(), atol=1e-6)
    assert torch.allclose(state.grad_joint, -(z - MEAN) @ PRECISION, atol=1e-5)


def run_adaptation(initial_step: float, iterations: int) -> tuple[float, float]:
    """Mean acceptance over the first and the last 10 of `iterations` adapted HMC steps."""
    generator = torch.Generator().manual_seed(1)
    chains = 100
    z = MEAN + 0.5 * torch.randn(chains, 2, generator=generator)
    state = hmc_init(z, flat, gaussian_log_density)
    step = torch.full((chains,), initial_step, dtype=torch.float64)
    history = []
    for _ in range(iterations):
        state, info = hmc_step(state, 1.0, step, 3, flat, gaussian_log_density, generator)
        step = adapt_step_size(step, info.acceptance, target=0.65, rate=0.5, maximum=10.0)
        history.append(float(info.acceptance.mean()))
    return sum(history[:10]) / 10, sum(history[-10:]) / 10


def test_adaptation_moves_acceptance_toward_target() -> None:
    early, late = run_adaptation(initial_step=3.0, iterations=50)
    assert early < 0.35 and abs(late - 0.65) < 0.12
    early, late = run_adaptation(initial_step=0.01, iterations=50)
    assert early > 0.95 and abs(late - 0.65) < 0.12


def test_adapt_step_size_clips() -> None:
    step = torch.tensor([1e-4, 0.9])
    low = adapt_step_size(step, torch.zeros(2), minimum=1e-4, maximum=1.0)
    high = adapt_step_size(step, torch.ones(2), minimum=1e-4, maximum=1.0)
    assert low[0] == 1e-4 and low[1] < 0.9
    assert high[1] == 1.0 and high[0] > 1e-4


def test_non_finite_proposals_are_rejected() -> None:
    def log_density(z: torch.Tensor) -> torch.Tensor:
        value = gaussian_log_density(z)
        # NaN beyond z0 > 1.5 and +inf (an absurd "reward") below z0 < 0.5
        value = torch.where(z[:, 0] > 1.5, torch.full_like(value, math.nan), value)
        return torch.where(z[:, 0] < 0.5, torch.full_like(value, math.inf), value)

    generator = torch.Generator().manual_seed(2)
    chains = 500
    z = torch.stack([torch.ones(chains), torch.full((chains,), -2.0)], dim=1)
    state = hmc_init(z, flat, log_density)
    step = torch.full((chains,), 1.0, dtype=torch.float64)
    for _ in range(5):
        state, info = hmc_step(state, 1.0, step, 2, flat, log_density, generator)
        assert torch.isfinite(state.log_joint).all() and torch.isfinite(state.z).all()
        assert ((state.z[:, 0] >= 0.5) & (state.z[:, 0] <= 1.5)).all()
        assert (info.acceptance[~info.accepted] < 1).all()
