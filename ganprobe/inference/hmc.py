"""Hamiltonian Monte Carlo on an annealed latent target, as pure init / step functions.

The target at inverse temperature beta is the geometric path

    log f_beta(z) = (1 - beta) * log q(z) + beta * log p(z, x),     z [M, d]

between a normalised start density q (the prior, or a Gaussian around the posterior mode) and
the unnormalised posterior log p(z, x) = log p(z) + log p(x | z). An `HMCState` caches, per
chain, log q, log p(z, x) and both gradients at its position, so an AIS weight increment and the
gradient at any beta need no extra generator pass. Nothing in a state carries an autograd graph.

One `hmc_step` = momentum p ~ N(0, I), `n_leapfrog` leapfrog steps of per-chain size eps [M],
Metropolis accept / reject on H = -log f_beta(z) + |p|^2 / 2. Proposals whose energy or
gradient is not finite are rejected. `adapt_step_size` moves log eps toward the target
acceptance (0.65) and clips it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# log q(z [M, d]) -> [M] and log p(z, x) (x bound inside) -> [M]
LogDensityFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class HMCState:
    """Per-chain position and cached densities (no autograd graph).

    z:          [M, d] latent positions (dtype of the generator, usually float32)
    log_init:   [M] float64, log q(z) of the normalised start density
    log_joint:  [M] float64, log p(z) + log p(x | z) (unnormalised posterior)
    grad_init:  [M, d] gradient of log q at z
    grad_joint: [M, d] gradient of log p(z, x) at z
    """

    z: torch.Tensor
    log_init: torch.Tensor
    log_joint: torch.Tensor
    grad_init: torch.Tensor
    grad_joint: torch.Tensor

    def log_target(self, beta: float) -> torch.Tensor:
        """log f_beta(z) [M] float64."""
        return (1.0 - beta) * self.log_init + beta * self.log_joint

    def grad_target(self, beta: float) -> torch.Tensor:
        """Gradient of log f_beta at z, [M, d]."""
        return (1.0 - beta) * self.grad_init + beta * self.grad_joint

    @property
    def log_ratio(self) -> torch.Tensor:
        """log p(z, x) - log q(z) [M] float64: d log f_beta / d beta, the AIS weight slope."""
        return self.log_joint - self.log_init


def hmc_init(z: torch.Tensor, log_init: LogDensityFn, log_joint: LogDensityFn) -> HMCState:
    """Evaluate both log densities and their gradients at z [M, d] (one generator pass)."""
    with torch.enable_grad():
        z_leaf = z.detach().requires_grad_(True)
        joint = log_joint(z_leaf)
        (grad_joint,) = torch.autograd.grad(joint.sum(), z_leaf)
        init = log_init(z_leaf)
        (grad_init,) = torch.autograd.grad(init.sum(), z_leaf)
    return HMCState(
        z=z.detach(),
        log_init=init.detach().double(),
        log_joint=joint.detach().double(),
        grad_init=grad_init.detach(),
        grad_joint=grad_joint.detach(),
    )


def _finite_rows(state: HMCState) -> torch.Tensor:
    """[M] bool: the state's densities and gradients are all finite."""
    return (
        torch.isfinite(state.log_init)
        & torch.isfinite(state.log_joint)
        & torch.isfinite(state.grad_init).all(-1)
        & torch.isfinite(state.grad_joint).all(-1)
        & torch.isfinite(state.z).all(-1)
    )


def _select(keep_new: torch.Tensor, new: HMCState, old: HMCState) -> HMCState:
    """Row-wise choice between two states: new where keep_new [M] is True."""
    row = keep_new[:, None]
    return HMCState(
        z=torch.where(row, new.z, old.z),
        log_init=torch.where(keep_new, new.log_init, old.log_init),
        log_joint=torch.where(keep_new, new.log_joint, old.log_joint),
        grad_init=torch.where(row, new.grad_init, old.grad_init),
        grad_joint=torch.where(row, new.grad_joint, old.grad_joint),
    )


@dataclass(frozen=True)
class HMCInfo:
    """What one HMC step did, per chain: acceptance probability min(1, exp(-dH)) [M] float64
    (0 for non-finite proposals) and whether the proposal was accepted [M] bool."""

    acceptance: torch.Tensor
    accepted: torch.Tensor


def hmc_step(
    state: HMCState,
    beta: float,
    step_size: torch.Tensor,
    n_leapfrog: int,
    log_init: LogDensityFn,
    log_joint: LogDensityFn,
    generator: torch.Generator | None = None,
) -> tuple[HMCState, HMCInfo]:
    """One HMC trajectory targeting f_beta; leaves f_beta invariant.

    step_size: [M] per-chain leapfrog step (same device as z). Costs `n_leapfrog` passes of
    log_joint with gradient. Momentum is drawn on `generator` (a CPU torch.Generator) and moved
    to z's device, so results do not depend on the device's random stream.
    """
    z0 = state.z
    eps = step_size.to(z0.dtype)[:, None]
    momentum0 = torch.randn(z0.shape, generator=generator, dtype=z0.dtype).to(z0.device)
    momentum = momentum0 + 0.5 * eps * state.grad_target(beta)
    proposal = state
    finite = torch.ones(z0.shape[0], dtype=torch.bool, device=z0.device)
    z = z0
    for step in range(n_leapfrog):
        z = z + eps * momentum
        finite &= torch.isfinite(z).all(-1)
        z = torch.where(torch.isfinite(z), z, z0)  # keep the generator's input finite
        proposal = hmc_init(z, log_init, log_joint)
        finite &= _finite_rows(proposal)
        grad = torch.nan_to_num(proposal.grad_target(beta), nan=0.0, posinf=0.0, neginf=0.0)
        momentum = momentum + (eps if step < n_leapfrog - 1 else 0.5 * eps) * grad
    kinetic0 = 0.5 * momentum0.double().pow(2).sum(-1)
    kinetic1 = 0.5 * momentum.double().pow(2).sum(-1)
    log_accept = proposal.log_target(beta) - kinetic1 - state.log_target(beta) + kinetic0
    finite &= torch.isfinite(log_accept) & torch.isfinite(momentum).all(-1)
    log_accept = torch.where(finite, log_accept, torch.full_like(log_accept, -torch.inf))
    acceptance = log_accept.clamp(max=0.0).exp()
    uniform = torch.rand(z0.shape[0], generator=generator, dtype=torch.float64)
    accepted = finite & (uniform.to(z0.device).log() < log_accept)
    return _select(accepted, proposal, state), HMCInfo(acceptance=acceptance, accepted=accepted)


def adapt_step_size(
    step_size: torch.Tensor,
    acceptance: torch.Tensor,
    target: float = 0.65,
    rate: float = 0.5,
    minimum: float = 1e-4,
    maximum: float = 1.0,
) -> torch.Tensor:
    """Per-chain update log eps += rate * (acceptance - target), clipped to [minimum, maximum].

    step_size [M], acceptance [M] (probabilities from `HMCInfo`) -> new step_size [M]. Below the
    target the step shrinks, above it grows, so the acceptance settles near `target`.
    """
    factor = torch.exp(rate * (acceptance.to(step_size.dtype) - target))
    return (step_size * factor).clamp(minimum, maximum)
