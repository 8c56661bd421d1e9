"""`biggan:NAME`: BigGAN-deep through the `pytorch-pretrained-biggan` package (extra `biggan`).

NAME is one of the package's pretrained names (biggan-deep-128 / -256 / -512; weights are
downloaded once by the package into its cache, so they must be there when offline) or a
directory holding its `config.json` and `pytorch_model.bin`.

Class-conditional with 1000 ImageNet classes: labels c (int64 [N]) become one-hot vectors.
Prior: with truncation t = 1, z ~ N(0, I) (the training prior). With t < 1 the package's
truncation trick: z = t * u, u_i ~ N(0, 1) truncated to [-2, 2], so
    log p(z) = sum_i [log N(z_i / t; 0, 1) - log t - log(Phi(2) - Phi(-2))]  for |z_i| <= 2t,
and -inf outside; t is also passed to the network (it selects batch-norm statistics).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ModelError
from ..protocol import GaussianPriorMixin, standard_normal_log_prior

TRUNCATION_BOUND = 2.0
_LOG_MASS = math.log(math.erf(TRUNCATION_BOUND / math.sqrt(2)))  # log(Phi(2) - Phi(-2))


class BigGANGenerator(GaussianPriorMixin, nn.Module):
    """Generator protocol around a pytorch_pretrained_biggan.BigGAN (see module docstring)."""

    def __init__(self, network: nn.Module, truncation: float = 1.0, name: str = "biggan") -> None:
        super().__init__()
        if not 0 < truncation <= 1:
            raise ModelError(f"biggan truncation must be in (0, 1] (got {truncation})")
        self.network = network
        self.truncation = float(truncation)
        self.spec = f"biggan:{name}"
        config = network.config
        self.latent_dim = int(config.z_dim)
        self.num_classes = int(config.num_classes)
        self.image_shape = (3, int(config.output_dim), int(config.output_dim))

    def _latent_device(self) -> torch.device:
        return next(self.network.parameters()).device

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z [n, latent_dim]: N(0, I) for t = 1, else t * (N(0, 1) truncated to [-2, 2])."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        if self.truncation < 1:
            outside = z.abs() > TRUNCATION_BOUND
            while outside.any():  # rejection sampling of the truncated normal
                z[outside] = torch.randn(int(outside.sum()), generator=generator)
                outside = z.abs() > TRUNCATION_BOUND
            z = z * self.truncation
        return z.to(self._latent_device())

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) [N] in nats for z [N, latent_dim] (see module docstring)."""
        if self.truncation == 1:
            return standard_normal_log_prior(z)
        t = self.truncation
        log_p = standard_normal_log_prior(z / t) - z.shape[-1] * (math.log(t) + _LOG_MASS)
        inside = (z.abs() <= TRUNCATION_BOUND * t).all(-1)
        return torch.where(inside, log_p, torch.full_like(log_p, -math.inf))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, latent_dim], labels int64 [N] -> images [N, 3, H, W] in [-1, 1]."""
        if c is None:
            raise ModelError(
                f"{self.spec} is class-conditional ({self.num_classes} classes); pass c"
            )
        one_hot = F.one_hot(c.long(), self.num_classes).to(z.dtype)
        return self.network(z, one_hot, self.truncation)


def load_biggan(name: str, device: str = "cpu", truncation: float = 1.0) -> BigGANGenerator:
    """BigGAN from a pretrained NAME or a directory with config.json + pytorch_model.bin."""
    try:
        from pytorch_pretrained_biggan import BigGAN
    except ImportError:
        raise ModelError(
            f"biggan:{name} needs the pytorch-pretrained-biggan package: "
            "pip install 'ganprobe[biggan]'"
        ) from None
    import logging

    logging.getLogger("pytorch_pretrained_biggan").setLevel(logging.CRITICAL)
    try:
        network = BigGAN.from_pretrained(name)
    except Exception as exc:
        message = " ".join(str(exc).split())[:160]
        raise ModelError(
            f"biggan:{name}: weights not available ({type(exc).__name__}: {message}); offline, "
            "download them once where there is network (into the package's cache) or give a "
            "directory holding config.json + pytorch_model.bin"
        ) from None
    return BigGANGenerator(network.to(device), truncation=truncation, name=name)
