"""Probabilistic PCA (Tipping & Bishop, 1999): x = W z + mu + eps, z ~ N(0, I_q),
eps ~ N(0, sigma^2 I_D), so x ~ N(mu, C) with C = W W^T + sigma^2 I_D.

Maximum likelihood in closed form from the eigendecomposition S = U diag(lambda) U^T of the
sample covariance (eigenvalues descending):

    sigma^2 = mean(lambda_{q+1..D}),     W = U_q (diag(lambda_{1..q}) - sigma^2 I)^{1/2}

The log-density never forms the D x D matrix C (Woodbury and the determinant lemma, with
M = W^T W + sigma^2 I_q):

    C^{-1} = (I - W M^{-1} W^T) / sigma^2,     log det C = (D - q) log sigma^2 + log det M
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import ModelError
from .base import flatten_images, gaussian_log_norm, save_model_files
from .gaussian import mean_and_covariance


@dataclass
class PPCADensity:
    """mean [D], weight W [D, q] and sigma2 (a variance, model space), all float64."""

    mean: torch.Tensor
    weight: torch.Tensor
    sigma2: float
    image_shape: tuple[int, int, int]
    name: str = "ppca"

    @property
    def rank(self) -> int:
        return int(self.weight.shape[1])

    @classmethod
    def fit(cls, x: torch.Tensor, rank: int) -> PPCADensity:
        """Closed-form maximum-likelihood PPCA of images x [N, C, H, W] with q = `rank`."""
        image_shape = tuple(int(s) for s in x.shape[1:])
        rows = x.reshape(x.shape[0], -1).to(torch.float64)
        dim = rows.shape[1]
        if not 1 <= rank < dim:
            raise ModelError(f"--ppca-rank must be in [1, {dim - 1}] for D={dim}, got {rank}")
        mean, cov = mean_and_covariance(rows)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
        sigma2 = float(eigenvalues[rank:].clamp_min(0.0).mean())
        if sigma2 <= 0.0:
            raise ModelError(
                f"PPCA noise variance is 0: the data spans at most {rank} dimensions; "
                "use a smaller --ppca-rank or dequantized data"
            )
        scales = (eigenvalues[:rank] - sigma2).clamp_min(0.0).sqrt()
        # row-major like a loaded model (eigh's column-major W rounds the products differently)
        weight = (eigenvectors[:, :rank] * scales).contiguous()
        return cls(mean, weight, sigma2, image_shape)  # type: ignore[arg-type]

    @property
    def covariance(self) -> torch.Tensor:
        """C = W W^T + sigma^2 I: [D, D] float64 (for tests; log_px never forms it)."""
        eye = torch.eye(self.mean.numel(), dtype=torch.float64)
        return self.weight @ self.weight.T + self.sigma2 * eye

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of images x [N, C, H, W] in model space: float64 [N], nats."""
        rows = flatten_images(x, self.image_shape).to(torch.float64) - self.mean
        dim, rank = self.weight.shape
        inner = self.weight.T @ self.weight + self.sigma2 * torch.eye(rank, dtype=torch.float64)
        inner_cholesky = torch.linalg.cholesky(inner)
        projected = rows @ self.weight  # [N, q]
        solved = torch.cholesky_solve(projected.T, inner_cholesky).T  # M^{-1} W^T x
        quad = (rows.pow(2).sum(1) - (projected * solved).sum(1)) / self.sigma2
        log_det = (dim - rank) * torch.log(torch.tensor(self.sigma2, dtype=torch.float64))
        log_det = log_det + 2.0 * inner_cholesky.diagonal().log().sum()
        return gaussian_log_norm(dim) - 0.5 * (log_det + quad)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws x = W z + mean + sigma eps: float32 [n, C, H, W] in model space."""
        z = torch.randn(n, self.rank, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, self.mean.numel(), generator=generator, dtype=torch.float64)
        rows = self.mean + z @ self.weight.T + self.sigma2**0.5 * eps
        return rows.float().reshape(n, *self.image_shape)

    def save(self, run_dir: Path) -> None:
        save_model_files(
            run_dir, "ppca", self.image_shape,
            {"mean": self.mean, "weight": self.weight}, sigma2=self.sigma2, rank=self.rank,
        )

    @classmethod
    def from_files(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> PPCADensity:
        return cls(tensors["mean"], tensors["weight"], meta["sigma2"], tuple(meta["image_shape"]))
