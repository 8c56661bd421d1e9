"""Full-covariance Gaussian density: x ~ N(mu, Sigma + r I) over the flattened image.

    log p(x) = -D/2 log 2pi - 1/2 log det C - 1/2 (x - mu)^T C^{-1} (x - mu),   C = Sigma + r I

with mu and Sigma the maximum-likelihood mean and covariance of the (dequantized) training
images and r >= 0 a ridge. Fitted and evaluated in float64 through the Cholesky factor of C.
With `ridge=None` the ridge is the value of a geometric grid that maximises the log-likelihood
of a held-out 10% of the training rows (one eigendecomposition scores the whole grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import ModelError
from .base import flatten_images, gaussian_log_norm, save_model_files

RIDGE_GRID = tuple(10.0**e for e in range(-8, 0))
"""Candidate ridges (model-space variances) tried when none is given."""


def mean_and_covariance(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood mean [D] and covariance [D, D] (divided by N) of rows [N, D], float64."""
    rows = rows.to(torch.float64)
    mean = rows.mean(0)
    centred = rows - mean
    return mean, centred.T @ centred / rows.shape[0]


def heldout_log_likelihood(
    eigenvalues: torch.Tensor, eigenvectors: torch.Tensor, mean: torch.Tensor,
    heldout: torch.Tensor, ridge: float,
) -> float:
    """Mean log N(heldout; mean, U diag(eigenvalues + ridge) U^T) over rows [M, D], nats."""
    variances = eigenvalues + ridge
    coords = (heldout.to(torch.float64) - mean) @ eigenvectors
    quad = (coords.pow(2) / variances).sum(1)
    log_px = gaussian_log_norm(mean.numel()) - 0.5 * (variances.log().sum() + quad)
    return float(log_px.mean())


def select_ridge(rows: torch.Tensor, seed: int = 0, grid: tuple[float, ...] = RIDGE_GRID) -> float:
    """The ridge of `grid` maximising held-out log-likelihood: fit on 90% of rows [N, D] (a
    seeded random split), score the other 10%. Grid values whose covariance is singular lose."""
    n = rows.shape[0]
    if n < 10:
        raise ModelError(f"choosing the Gaussian ridge needs >= 10 training images, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_heldout = max(1, n // 10)
    heldout, fit = rows[order[:n_heldout]], rows[order[n_heldout:]]
    mean, cov = mean_and_covariance(fit)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)
    eigenvalues = eigenvalues.clamp_min(0.0)
    scores = {}
    for ridge in grid:
        if ridge <= 0 and float(eigenvalues.min()) <= 0:
            continue
        scores[ridge] = heldout_log_likelihood(eigenvalues, eigenvectors, mean, heldout, ridge)
    return max(scores, key=scores.__getitem__)


@dataclass
class GaussianDensity:
    """x ~ N(mean, covariance) over flattened images; `cholesky` is the lower factor of the
    covariance. mean [D] and cholesky [D, D] are float64; `ridge` records what was added."""

    mean: torch.Tensor
    cholesky: torch.Tensor
    image_shape: tuple[int, int, int]
    ridge: float = 0.0
    name: str = "gaussian"

    @classmethod
    def fit(
        cls, x: torch.Tensor, ridge: float | None = None, seed: int = 0
    ) -> GaussianDensity:
        """Fit to images x [N, C, H, W] (already dequantized when wanted); ridge None = chosen on
        held-out data (see `select_ridge`, split seeded by `seed`)."""
        image_shape = tuple(int(s) for s in x.shape[1:])
        rows = x.reshape(x.shape[0], -1).to(torch.float64)
        if ridge is None:
            ridge = select_ridge(rows, seed=seed)
        mean, cov = mean_and_covariance(rows)
        cov = cov + ridge * torch.eye(cov.shape[0], dtype=torch.float64)
        cholesky, info = torch.linalg.cholesky_ex(cov)
        if int(info) != 0:
            raise ModelError(
                f"the covariance of {rows.shape[0]} images is singular with ridge {ridge}; "
                "use a larger --ridge or more images"
            )
        cholesky = cholesky.contiguous()
        return cls(mean, cholesky, image_shape, float(ridge))  # type: ignore[arg-type]

    @property
    def covariance(self) -> torch.Tensor:
        """[D, D] float64."""
        return self.cholesky @ self.cholesky.T

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of images x [N, C, H, W] in model space: float64 [N], nats."""
        rows = flatten_images(x, self.image_shape).to(torch.float64)
        white = torch.linalg.solve_triangular(
            self.cholesky, (rows - self.mean).T, upper=False
        )
        log_det = 2.0 * self.cholesky.diagonal().log().sum()
        return gaussian_log_norm(self.mean.numel()) - 0.5 * (log_det + white.pow(2).sum(0))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws x ~ N(mean, covariance): float32 [n, C, H, W] in model space."""
        eps = torch.randn(n, self.mean.numel(), generator=generator, dtype=torch.float64)
        return (self.mean + eps @ self.cholesky.T).float().reshape(n, *self.image_shape)

    def save(self, run_dir: Path) -> None:
        save_model_files(
            run_dir, "gaussian", self.image_shape,
            {"mean": self.mean, "cholesky": self.cholesky}, ridge=self.ridge,
        )

    @classmethod
    def from_files(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> GaussianDensity:
        return cls(
            tensors["mean"], tensors["cholesky"], tuple(meta["image_shape"]), meta["ridge"]
        )
