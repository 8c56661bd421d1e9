"""Bidirectional Monte Carlo (Grosse et al., 2015; Wu et al., 2017): sandwich log p(x) on
simulated data to measure how far AIS is from the truth at given settings.

For (z, x) drawn from the model (z ~ p(z), x = G(z) + sigma * eps), z is an exact sample of the
posterior p(z | x). Forward AIS (q -> posterior) gives E[log p_hat] <= log p(x): a stochastic
lower bound. Reverse AIS starts at the true z and anneals posterior -> prior; its weights
estimate 1 / p(x), so -log mean exp(log w_rev) is a stochastic upper bound. The gap
upper - lower bounds the error of forward AIS on data like x; it is reported next to real-data
numbers.

Both bounds hold for any normalised start density, so each direction uses the one that suits
it. The forward run uses `settings.start`. The reverse run always ends at the prior: a Laplace
start is fitted around the mode that a search found, and a multimodal GAN posterior may hold
the true z in another mode, where q is vanishingly small. With start = 'prior' the reverse run
uses the forward run's kernels (step sizes frozen, reversed); otherwise a pilot reverse run
adapts step sizes along the prior path and the measured reverse run uses them frozen (a step
size adapted on the fly depends on the chain's current state, which breaks the invariance the
bound relies on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import AISSettings
from .ais import LogLikelihoodFn, LogPriorFn, anneal, make_start, sigmoid_schedule
from .laplace import StandardNormalStart


def simulate_observations(
    generator_model: Callable[..., torch.Tensor],
    latent_dim: int,
    sigma: float,
    num_images: int,
    generator: torch.Generator | None = None,
    class_labels: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(z [n, d], x [n, C, H, W]) with z ~ N(0, I) and x = G(z) + sigma * eps, eps ~ N(0, I).
    Draws use the CPU `generator`; tensors end on `device`."""
    z = torch.randn(num_images, latent_dim, generator=generator).to(device)
    with torch.no_grad():
        mean = generator_model(z) if class_labels is None else generator_model(z, class_labels)
    noise = torch.randn(mean.shape, generator=generator).to(mean.device)
    return z, mean + sigma * noise


@dataclass(frozen=True)
class BDMCResult:
    """Per-image bounds on log p(x) (nats): lower [N] (forward AIS), upper [N] (reverse AIS),
    gap [N] = upper - lower; mean_gap: their mean over images (float)."""

    lower: torch.Tensor
    upper: torch.Tensor
    gap: torch.Tensor
    mean_gap: float


def bdmc(
    log_prior: LogPriorFn,
    log_likelihood: LogLikelihoodFn,
    latent_dim: int,
    x: torch.Tensor,
    z_true: torch.Tensor,
    settings: AISSettings,
    generator: torch.Generator | None = None,
) -> BDMCResult:
    """Forward and reverse AIS for simulated x [N, C, H, W] with true latents z_true [N, d].

    Forward from settings.start, reverse to the prior with the same betas (module docstring).
    Callables follow `ais.ais_log_px` (x repeated K times, image-major); the prior is N(0, I).
    """
    num_images = x.shape[0]
    k = settings.chains
    x_rep = x.repeat_interleave(k, dim=0)
    start = make_start(log_prior, log_likelihood, latent_dim, x, settings, generator)
    betas = sigmoid_schedule(settings.temperatures, settings.schedule_delta)

    def log_joint(z: torch.Tensor) -> torch.Tensor:
        return log_prior(z) + log_likelihood(z, x_rep)

    forward = anneal(
        start.sample(num_images, k, generator), betas, start.log_prob, log_joint, settings,
        None, generator,
    )
    prior = StandardNormalStart(latent_dim, device=x.device)
    z0 = z_true.to(x.device).repeat_interleave(k, dim=0)
    if settings.start == "prior":
        frozen = forward.step_sizes.flip(0)
    else:  # pilot run on the prior path; step sizes adapted on the fly would bias the bound
        pilot = anneal(z0, betas.flip(0), prior.log_prob, log_joint, settings, None, generator)
        frozen = pilot.step_sizes
    reverse = anneal(z0, betas.flip(0), prior.log_prob, log_joint, settings, frozen, generator)
    lower = torch.logsumexp(forward.state.log_w.view(num_images, k), 1) - math.log(k)
    upper = -(torch.logsumexp(reverse.state.log_w.view(num_images, k), 1) - math.log(k))
    gap = (upper - lower).cpu()
    return BDMCResult(
        lower=lower.cpu(), upper=upper.cpu(), gap=gap, mean_gap=float(gap.mean())
    )
