"""The Generator and DensityModel protocols every analysis is written against.

Generator (see DESIGN.md): a callable z -> images with
    latent_dim: int                  size of z
    num_classes: int                 0 if unconditional
    image_shape: tuple[int,int,int]  (C, H, W) of its output
    sample_latent(n, generator=None) -> z [n, latent_dim] from the prior p(z)
    log_prior(z [N, latent_dim]) -> [N] natural-log prior density
    __call__(z [N, latent_dim], c [N] int64 labels or None) -> images [N, C, H, W] in [-1, 1]
Optional for w / w+ spaces (StyleGAN family):
    mapping(z [N, latent_dim], c) -> w [N, w_dim];   num_ws: int;
    synthesis(ws [N, num_ws, w_dim]) -> images;      w_avg: [w_dim] or per class [K, w_dim]

DensityModel: anything with image_shape, name and log_px(x [N,C,H,W] in [-1,1]) -> [N] float64
(nats, model space; bpd via ganprobe.units.bits_per_dim).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    latent_dim: int
    num_classes: int
    image_shape: tuple[int, int, int]

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def log_prior(self, z: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class DensityModel(Protocol):
    name: str
    image_shape: tuple[int, int, int]

    def log_px(self, x: torch.Tensor) -> torch.Tensor: ...


def standard_normal_log_prior(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension: [N, d] -> [N]."""
    d = z.shape[-1]
    return -0.5 * (z.pow(2).sum(-1) + d * math.log(2 * math.pi))


class GaussianPriorMixin:
    """sample_latent / log_prior for a standard-normal prior over z [N, latent_dim].

    Subclasses set `latent_dim`; the device of sampled latents follows `self.device` when the
    class defines it (nn.Module subclasses: the device of their first parameter)."""

    latent_dim: int

    def _latent_device(self) -> torch.device:
        try:
            return next(self.parameters()).device  # type: ignore[attr-defined]
        except (AttributeError, StopIteration):
            return torch.device("cpu")

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of z ~ N(0, I): [n, latent_dim], drawn on the CPU generator then moved."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return z.to(self._latent_device())

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return standard_normal_log_prior(z)
