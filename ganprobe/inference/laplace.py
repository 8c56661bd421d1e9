"""Start distributions for AIS: the prior, or a Laplace approximation of each image's posterior.

A start distribution q must be normalised and sampleable; AIS then anneals from q to the
posterior p(z | x) and its weights estimate p(x) without bias whatever q is (a q close to the
posterior only lowers the variance). Rows are image-major: chain m of M = N * K belongs to image
m // K.

Laplace start: z* = argmax_z log p(z) + log p(x | z) by Adam from several prior draws (each image
and restart optimised independently; loss summed over images), precision H = -Hessian of the log
joint at z* (exact, by double backward), eigenvalues floored at `precision_floor` so q is proper,
then q = N(z*, scale^2 H^-1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch


class StartDistribution(Protocol):
    """Normalised start density of AIS over M = N * K image-major chains."""

    def sample(
        self, num_images: int, chains: int, generator: torch.Generator | None
    ) -> torch.Tensor: ...

    def log_prob(self, z: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class StandardNormalStart:
    """q(z) = N(0, I_d), the prior of every ganprobe generator. Samples on `device`."""

    latent_dim: int
    device: torch.device | str = "cpu"
    dtype: torch.dtype = torch.float32

    def sample(
        self, num_images: int, chains: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z [num_images * chains, d]."""
        z = torch.randn(num_images * chains, self.latent_dim, generator=generator, dtype=self.dtype)
        return z.to(self.device)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I) [M] (same dtype as z)."""
        return -0.5 * (z.pow(2).sum(-1) + self.latent_dim * math.log(2 * math.pi))


@dataclass(frozen=True)
class GaussianStart:
    """q_n(z) = N(z; mean_n, (L_n L_n^T)^-1) per image n.

    mean: [N, d]; precision_cholesky: [N, d, d] lower-triangular L_n with precision L_n L_n^T
    (both kept in float64). With M = N * K rows, row m uses image m // K. Samples come out in
    `dtype`; log_prob is computed in float64.
    """

    mean: torch.Tensor
    precision_cholesky: torch.Tensor
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", self.mean.detach().double())
        object.__setattr__(self, "precision_cholesky", self.precision_cholesky.detach().double())

    def _expand(self, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.mean.shape[0]
        if rows % n:
            raise ValueError(f"{rows} chains are not a multiple of {n} images")
        k = rows // n
        return (
            self.mean.repeat_interleave(k, dim=0),
            self.precision_cholesky.repeat_interleave(k, dim=0),
        )

    def sample(
        self, num_images: int, chains: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mean + L^-T eps, eps ~ N(0, I): [num_images * chains, d]."""
        if num_images != self.mean.shape[0]:
            raise ValueError(f"start built for {self.mean.shape[0]} images, got {num_images}")
        mean, chol = self._expand(num_images * chains)
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
        offset = torch.linalg.solve_triangular(chol.transpose(-1, -2), eps[..., None], upper=True)
        return (mean + offset[..., 0]).to(self.dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z) [M] = -d/2 log 2pi + sum log diag L - |L^T (z - mean)|^2 / 2."""
        mean, chol = self._expand(z.shape[0])
        white = (chol.transpose(-1, -2) @ (z.double() - mean)[..., None])[..., 0]
        log_det = torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)
        return log_det - 0.5 * (white.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))


LogJointFn = Callable[[torch.Tensor], torch.Tensor]


def find_mode(
    log_joint: LogJointFn,
    z_init: torch.Tensor,
    steps: int,
    lr: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise log_joint(z [M, d]) -> [M] by Adam from z_init [M, d], each row independently
    (loss summed over rows), learning rate decayed from `lr` to 0 on a cosine. Returns the best
    z seen per row [M, d] and its log_joint [M] float64."""
    z = z_init.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    best_z = z.detach().clone()
    with torch.no_grad():
        best_value = log_joint(best_z).double()
    best_value = torch.nan_to_num(best_value, nan=-torch.inf)
    with torch.enable_grad():  # callers may be inside torch.no_grad()
        best_z, best_value = _adam_loop(log_joint, z, optimizer, schedule, steps, best_z,
                                        best_value)
    with torch.no_grad():
        final = torch.nan_to_num(log_joint(z.detach()).double(), nan=-torch.inf)
        better = final > best_value
        best_value = torch.where(better, final, best_value)
        best_z = torch.where(better[:, None], z.detach(), best_z)
    return best_z, best_value


def _adam_loop(
    log_joint: LogJointFn,
    z: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    steps: int,
    best_z: torch.Tensor,
    best_value: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`steps` Adam steps on z in place, tracking the best row-wise value seen."""
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        value = log_joint(z)
        # gradient w.r.t. z only: nothing accumulates in the generator's parameters
        (z.grad,) = torch.autograd.grad(-value.sum(), z)
        with torch.no_grad():
            current = torch.nan_to_num(value.detach().double(), nan=-torch.inf)
            better = current > best_value
            best_value = torch.where(better, current, best_value)
            best_z = torch.where(better[:, None], z.detach(), best_z)
        optimizer.step()
        schedule.step()
    return best_z, best_value


def log_joint_hessian(
    log_joint: LogJointFn, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Value [M], gradient [M, d] and Hessian [M, d, d] of log_joint at each row of z [M, d]
    (rows are independent), by d double-backward passes batched over rows."""
    z_leaf = z.detach().requires_grad_(True)
    with torch.enable_grad():
        value = log_joint(z_leaf)
        (grad,) = torch.autograd.grad(value.sum(), z_leaf, create_graph=True)
        rows = []
        d = z.shape[-1]
        for i in range(d):
            (row,) = torch.autograd.grad(
                grad[:, i].sum(), z_leaf, retain_graph=i < d - 1, allow_unused=True
            )
            rows.append(torch.zeros_like(z) if row is None else row.detach())
    hessian = torch.stack(rows, dim=1)
    return value.detach().double(), grad.detach(), 0.5 * (hessian + hessian.transpose(-1, -2))


def laplace_start(
    log_prior: Callable[[torch.Tensor], torch.Tensor],
    log_likelihood: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    latent_dim: int,
    steps: int,
    lr: float,
    restarts: int,
    precision_floor: float = 0.5,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    components: int = 1,
) -> GaussianStart | GaussianMixtureStart:
    """Laplace approximation N(z*, scale^2 H^-1) of each image's posterior (module docstring).

    log_prior(z [M, d]) -> [M]; log_likelihood(z [M, d], x [M, C, H, W]) -> [M]; x [N, C, H, W].
    The mode is searched from `restarts` N(0, I) draws per image. components = 1: the best
    mode, a GaussianStart with N rows. components > 1: the best `components` restarts' modes
    (at most `restarts`), each with its own Laplace Gaussian, weighted by their Laplace
    evidence exp(log_joint(z_r)) det(H_r)^(-1/2): a GaussianMixtureStart (covers a
    multimodal posterior). Everything on x's device.
    """
    num_images = x.shape[0]
    components = max(1, min(components, restarts))
    x_restarts = x.repeat_interleave(restarts, dim=0)
    x_components = x.repeat_interleave(components, dim=0)

    def joint_restarts(z: torch.Tensor) -> torch.Tensor:
        return log_prior(z) + log_likelihood(z, x_restarts)

    def joint(z: torch.Tensor) -> torch.Tensor:
        return log_prior(z) + log_likelihood(z, x_components)

    prior = StandardNormalStart(latent_dim, device=x.device, dtype=dtype)
    z0 = prior.sample(num_images, restarts, generator)
    z_best, value = find_mode(joint_restarts, z0, steps, lr)
    order = value.view(num_images, restarts).argsort(dim=1, descending=True)[:, :components]
    rows = (order + torch.arange(num_images, device=order.device)[:, None] * restarts).flatten()
    z_mode, precision = _laplace_at(joint, z_best[rows], precision_floor, dtype)
    chol = torch.linalg.cholesky(precision / scale**2)
    if components == 1:
        return GaussianStart(mean=z_mode, precision_cholesky=chol, dtype=dtype)
    with torch.no_grad():
        log_joint_mode = torch.nan_to_num(joint(z_mode).double(), nan=-torch.inf)
    log_det_cov = -2 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)
    log_evidence = (log_joint_mode + 0.5 * log_det_cov).view(num_images, components)
    return GaussianMixtureStart(
        means=z_mode.view(num_images, components, -1),
        precision_cholesky=chol.view(num_images, components, latent_dim, latent_dim),
        log_weights=torch.log_softmax(log_evidence, dim=1),
        dtype=dtype,
    )


def _laplace_at(
    joint: LogJointFn, z: torch.Tensor, precision_floor: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Polished modes [M, d] and precisions [M, d, d] float64 (-Hessian, eigenvalues floored)."""
    value, grad, hessian = log_joint_hessian(joint, z)
    eigenvalues, eigenvectors = torch.linalg.eigh(-hessian.double())
    eigenvalues = torch.nan_to_num(eigenvalues, nan=precision_floor).clamp(min=precision_floor)
    precision = (eigenvectors * eigenvalues[..., None, :]) @ eigenvectors.transpose(-1, -2)
    precision = 0.5 * (precision + precision.transpose(-1, -2))
    # One Newton step z + P^-1 grad polishes the mode (exact for a linear G); kept per row
    # only where it raises the log joint.
    newton = z + torch.linalg.solve(precision, grad.double()[..., None])[..., 0].to(dtype)
    with torch.no_grad():
        newton_value = torch.nan_to_num(joint(newton).double(), nan=-torch.inf)
    return torch.where((newton_value > value)[:, None], newton, z), precision


@dataclass(frozen=True)
class GaussianMixtureStart:
    """q_n(z) = sum_c pi_nc N(z; mean_nc, (L_nc L_nc^T)^-1) per image n.

    means: [N, C, d]; precision_cholesky: [N, C, d, d]; log_weights: [N, C] (log pi, rows sum
    to one in probability). Kept in float64; samples come out in `dtype`. Row m of M = N * K
    chains belongs to image m // K.
    """

    means: torch.Tensor
    precision_cholesky: torch.Tensor
    log_weights: torch.Tensor
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        for name in ("means", "precision_cholesky", "log_weights"):
            object.__setattr__(self, name, getattr(self, name).detach().double())

    def sample(
        self, num_images: int, chains: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Component c ~ pi_n, then z ~ N(mean_nc, P_nc^-1): [num_images * chains, d]."""
        n, _, d = self.means.shape
        if num_images != n:
            raise ValueError(f"start built for {n} images, got {num_images}")
        probabilities = self.log_weights.exp().cpu().repeat_interleave(chains, dim=0)
        picks = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
        picks = picks.to(self.means.device)
        images = torch.arange(n * chains, device=self.means.device) // chains
        mean = self.means[images, picks]
        chol = self.precision_cholesky[images, picks]
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
        offset = torch.linalg.solve_triangular(chol.transpose(-1, -2), eps[..., None], upper=True)
        return (mean + offset[..., 0]).to(self.dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z) [M] = logsumexp_c (log pi_c + log N(z; mean_c, P_c^-1)), float64."""
        n, _, d = self.means.shape
        if z.shape[0] % n:
            raise ValueError(f"{z.shape[0]} chains are not a multiple of {n} images")
        k = z.shape[0] // n
        centred = z.double().view(n, k, 1, d) - self.means[:, None]  # [N, K, C, d]
        white = torch.einsum("ncji,nkcj->nkci", self.precision_cholesky, centred)
        log_det = torch.diagonal(self.precision_cholesky, dim1=-2, dim2=-1).log().sum(-1)
        log_normal = log_det[:, None] - 0.5 * (white.pow(2).sum(-1) + d * math.log(2 * math.pi))
        return torch.logsumexp(self.log_weights[:, None] + log_normal, dim=-1).reshape(-1)
