"""Annealed importance sampling (AIS) of log p_sigma(x) for a latent-variable generator.

    p(x) = integral p(x | z) p(z) dz,   here p(x | z) = N(x; G(z), sigma^2 I)   (nats, model space)

AIS (Neal, 2001; Wu et al., 2017) anneals K chains per image from a normalised start density q
(the prior, or a Laplace approximation of the posterior: see laplace.py) to the posterior along
f_beta(z) = q(z)^(1 - beta) [p(z) p(x | z)]^beta with betas 0 = b_0 < ... < b_T = 1 on a sigmoid
schedule. Each chain accumulates, in float64,

    log w = sum_t (b_t - b_{t-1}) [log p(z_{t-1}, x) - log q(z_{t-1})]

with one HMC trajectory (hmc.py) leaving f_{b_t} invariant between increments. E[w] = p(x), so
log_px = logsumexp_k(log w_k) - log K is a stochastic lower bound of log p(x) (Jensen) that
tightens as T grows. All N * K chains go through the generator in one batch per leapfrog step.

Chains are image-major: chain m of M = N * K belongs to image m // K. The log-likelihood
callable receives x repeated K times, `x_rep` [M, C, H, W], built once per call (not per step).

The sampler is split blackjax-style into `ais_init` / `ais_step` over an `AISState`, and
`anneal` runs a whole schedule forward (b increasing) or in reverse (b decreasing, for BDMC).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import AISSettings
from ..units import bits_per_dim
from .hmc import HMCState, adapt_step_size, hmc_init, hmc_step
from .laplace import StandardNormalStart, StartDistribution, laplace_start

LogPriorFn = Callable[[torch.Tensor], torch.Tensor]
LogLikelihoodFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sigmoid_schedule(temperatures: int, delta: float = 4.0) -> torch.Tensor:
    """Betas [T + 1] float64 from exactly 0 to exactly 1: the sigmoid of a linear grid on
    [-delta, delta], rescaled (Grosse et al., 2015). T = 1 gives [0, 1] (importance sampling)."""
    if temperatures < 1:
        raise ValueError("temperatures must be >= 1")
    grid = torch.linspace(-delta, delta, temperatures + 1, dtype=torch.float64)
    s = torch.sigmoid(grid)
    return (s - s[0]) / (s[-1] - s[0])


@dataclass(frozen=True)
class AISState:
    """Chains in the middle of an annealing run.

    hmc: positions and cached densities ([M] rows); log_w: [M] float64 accumulated log-weights;
    step_size: [M] current leapfrog steps; acceptance_sum: [M] float64 summed acceptance
    probabilities; transitions: number of HMC steps taken.
    """

    hmc: HMCState
    log_w: torch.Tensor
    step_size: torch.Tensor
    acceptance_sum: torch.Tensor
    transitions: int


def ais_init(
    z: torch.Tensor,
    log_init: Callable[[torch.Tensor], torch.Tensor],
    log_joint: Callable[[torch.Tensor], torch.Tensor],
    step_size: float,
) -> AISState:
    """Chains at positions z [M, d] with zero log-weight and a uniform step size."""
    hmc = hmc_init(z, log_init, log_joint)
    m = z.shape[0]
    return AISState(
        hmc=hmc,
        log_w=torch.zeros(m, dtype=torch.float64, device=z.device),
        step_size=torch.full((m,), float(step_size), dtype=torch.float64, device=z.device),
        acceptance_sum=torch.zeros(m, dtype=torch.float64, device=z.device),
        transitions=0,
    )


def ais_step(
    state: AISState,
    beta_from: float,
    beta_to: float,
    log_init: Callable[[torch.Tensor], torch.Tensor],
    log_joint: Callable[[torch.Tensor], torch.Tensor],
    settings: AISSettings,
    transition: bool = True,
    frozen_step_size: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> AISState:
    """Add (beta_to - beta_from) * [log p(z, x) - log q(z)] to log w (cached: no generator pass),
    then, if `transition`, one HMC trajectory at beta_to with the chains' step sizes (adapted
    afterwards) or with `frozen_step_size` [M] (not adapted)."""
    log_w = state.log_w + (beta_to - beta_from) * state.hmc.log_ratio
    if not transition:
        return AISState(state.hmc, log_w, state.step_size, state.acceptance_sum, state.transitions)
    step_size = state.step_size if frozen_step_size is None else frozen_step_size
    hmc, info = hmc_step(
        state.hmc, beta_to, step_size, settings.leapfrog, log_init, log_joint, generator
    )
    if frozen_step_size is None:
        step_size = adapt_step_size(
            step_size,
            info.acceptance,
            target=settings.target_acceptance,
            rate=settings.adapt_rate,
            minimum=settings.step_size_min,
            maximum=settings.step_size_max,
        )
    return AISState(
        hmc=hmc,
        log_w=log_w,
        step_size=step_size,
        acceptance_sum=state.acceptance_sum + info.acceptance,
        transitions=state.transitions + 1,
    )


@dataclass(frozen=True)
class AnnealRun:
    """Result of `anneal` over M chains: final state, and the step size used at each
    transition [T - 1, M] (row t - 1 is the step used at b_t)."""

    state: AISState
    step_sizes: torch.Tensor


def anneal(
    z0: torch.Tensor,
    betas: torch.Tensor,
    log_init: Callable[[torch.Tensor], torch.Tensor],
    log_joint: Callable[[torch.Tensor], torch.Tensor],
    settings: AISSettings,
    frozen_step_sizes: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> AnnealRun:
    """Run chains from z0 [M, d] (a draw of f_{betas[0]}) through `betas` [T + 1].

    Increasing betas give forward AIS (log w estimates log Z_1 - log Z_0 = log p(x));
    decreasing betas give reverse AIS (log w estimates log Z_0 - log Z_1 = -log p(x)).
    Transitions run at betas[1:-1]. frozen_step_sizes [T - 1, M]: use these instead of
    adapting. Cost: (T - 1) * L generator passes with gradient, plus one.
    """
    state = ais_init(z0, log_init, log_joint, settings.step_size)
    used = []
    last = len(betas) - 1
    for t in range(1, last + 1):
        transition = t < last
        frozen = None
        if frozen_step_sizes is not None and transition:
            frozen = frozen_step_sizes[t - 1]
        if transition:
            used.append(state.step_size if frozen is None else frozen)
        state = ais_step(
            state,
            float(betas[t - 1]),
            float(betas[t]),
            log_init,
            log_joint,
            settings,
            transition=transition,
            frozen_step_size=frozen,
            generator=generator,
        )
    m = z0.shape[0]
    steps = torch.stack(used) if used else torch.zeros(0, m, dtype=torch.float64)
    return AnnealRun(state=state, step_sizes=steps)


@dataclass(frozen=True)
class AISResult:
    """Per-image AIS estimates (N images, K chains).

    log_px: [N] float64, logsumexp(log w) - log K (nats, model space); bpd: [N] bits per
    dimension of the 8-bit image; log_w: [N, K] float64; log_w_std: [N] spread (standard
    deviation) of the log-weights; ess: [N] effective sample size (sum w)^2 / sum w^2 in
    [1, K]; acceptance: [N] mean HMC acceptance probability; step_sizes: [T - 1, N, K] step used
    at each transition (the frozen ones in two-pass mode).
    """

    log_px: torch.Tensor
    bpd: torch.Tensor
    log_w: torch.Tensor
    log_w_std: torch.Tensor
    ess: torch.Tensor
    acceptance: torch.Tensor
    step_sizes: torch.Tensor


def summarize_log_weights(log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log_w [N, K] float64 -> (log mean exp [N], std of log w [N], ESS [N])."""
    k = log_w.shape[1]
    log_mean = torch.logsumexp(log_w, dim=1) - math.log(k)
    normalised = torch.softmax(log_w, dim=1)
    ess = 1.0 / normalised.pow(2).sum(dim=1)
    spread = log_w.std(dim=1, unbiased=False) if k > 1 else torch.zeros_like(log_mean)
    return log_mean, spread, ess


def gaussian_log_likelihood(
    generator_model: Callable[..., torch.Tensor],
    sigma: float,
    class_labels: torch.Tensor | None = None,
) -> LogLikelihoodFn:
    """log N(x; G(z), sigma^2 I) as a callable (z [M, d], x [M, C, H, W]) -> [M] float64.

    sigma: standard deviation in model space (not a variance). class_labels: int64 labels of
    the N images for a conditional G; when M = N * K they are repeated K times (image-major).
    The residual is squared and summed in float64.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 (got {sigma})")
    log_sigma = math.log(sigma)

    def log_likelihood(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        labels = None
        if class_labels is not None:
            labels = class_labels.to(z.device)
            if labels.shape[0] != z.shape[0]:
                labels = labels.repeat_interleave(z.shape[0] // labels.shape[0])
        mean = generator_model(z) if labels is None else generator_model(z, labels)
        residual = (mean - x.to(mean.device)).flatten(1).double()
        dim = residual.shape[1]
        return (
            -0.5 * residual.pow(2).sum(1) / sigma**2
            - dim * (log_sigma + 0.5 * math.log(2 * math.pi))
        )

    return log_likelihood


def make_start(
    log_prior: LogPriorFn,
    log_likelihood: LogLikelihoodFn,
    latent_dim: int,
    x: torch.Tensor,
    settings: AISSettings,
    generator: torch.Generator | None = None,
) -> StartDistribution:
    """The start distribution `settings.start` asks for: N(0, I) for 'prior', else the Laplace
    approximation of each image's posterior (laplace.laplace_start)."""
    if settings.start == "prior":
        return StandardNormalStart(latent_dim, device=x.device)
    return laplace_start(
        log_prior,
        log_likelihood,
        x,
        latent_dim,
        steps=settings.mode_steps,
        lr=settings.mode_lr,
        restarts=settings.mode_restarts,
        precision_floor=settings.precision_floor,
        scale=settings.laplace_scale,
        generator=generator,
        components=settings.laplace_components,
    )


def ais_log_px(
    log_prior: LogPriorFn,
    log_likelihood: LogLikelihoodFn,
    latent_dim: int,
    x: torch.Tensor,
    settings: AISSettings,
    generator: torch.Generator | None = None,
    init: StartDistribution | None = None,
) -> AISResult:
    """AIS estimate of log p(x) for each image of x [N, C, H, W] (module docstring).

    log_prior: z [M, d] -> [M] (normalised); log_likelihood: (z [M, d], x_rep [M, C, H, W]) ->
    [M] (normalised in x); generator: CPU torch.Generator for every random draw (seeded ->
    reproducible); init: start distribution (default: `settings.start`; 'prior' assumes
    p(z) = N(0, I) for sampling). With settings.two_pass a pilot run adapts the step sizes,
    and a second, independent run uses them frozen and gives the estimate.
    """
    num_images = x.shape[0]
    k = settings.chains
    x_rep = x.repeat_interleave(k, dim=0)
    start = init or make_start(log_prior, log_likelihood, latent_dim, x, settings, generator)
    betas = sigmoid_schedule(settings.temperatures, settings.schedule_delta)

    def log_joint(z: torch.Tensor) -> torch.Tensor:
        return log_prior(z) + log_likelihood(z, x_rep)

    frozen = None
    if settings.two_pass:
        z_pilot = start.sample(num_images, k, generator)
        frozen = anneal(z_pilot, betas, start.log_prob, log_joint, settings, None, generator)
        frozen = frozen.step_sizes
    z0 = start.sample(num_images, k, generator)
    run = anneal(z0, betas, start.log_prob, log_joint, settings, frozen, generator)
    state = run.state
    log_w = state.log_w.view(num_images, k)
    log_px, spread, ess = summarize_log_weights(log_w)
    acceptance = state.acceptance_sum / max(state.transitions, 1)
    dim = int(x[0].numel())
    return AISResult(
        log_px=log_px.cpu(),
        bpd=bits_per_dim(log_px, dim).cpu(),
        log_w=log_w.cpu(),
        log_w_std=spread.cpu(),
        ess=ess.cpu(),
        acceptance=acceptance.view(num_images, k).mean(1).cpu(),
        step_sizes=run.step_sizes.view(-1, num_images, k).cpu(),
    )
