"""Training objective and construction of the Gaussian-decoder VAE baseline.

The VAE maximises the ELBO of dequantized images; the loss is the negative ELBO per dimension
(nats / D) of the batch, averaged over images, so its scale does not depend on the image size.
"""

from __future__ import annotations

import torch

from ..config import DensityTrainSettings
from ..models.density.vae import VAE


def build_vae(settings: DensityTrainSettings, image_shape: tuple[int, int, int]) -> VAE:
    """A fresh VAE for images of `image_shape` (C, H, W), weights seeded by settings.seed."""
    torch.manual_seed(settings.seed)
    return VAE(
        image_shape,
        latent_dim=settings.vae_latent_dim,
        architecture=settings.vae_architecture,
        channels=settings.vae_channels,
        sigma=settings.vae_sigma,
        learn_sigma=settings.vae_learn_sigma,
    )


def vae_loss(vae: VAE, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """-ELBO per dimension (nats), mean over the batch [B, C, H, W]."""
    return -vae.elbo(batch, generator).mean() / batch[0].numel()
