"""Training objective and construction of the Gaussian-decoder VAE baseline.

The VAE maximises the ELBO of dequantized images; the loss is the negative ELBO per dimension
(nats / D) of the batch, averaged over images, so its scale does not depend on the image size.
"""

from __future__ import annotations

import torch

from ..config import DensityTrainSettings
from ..models.density.vae import VAE
from ..utils import global_rng_seeded


def build_vae(settings: DensityTrainSettings, image_shape: tuple[int, int, int]) -> VAE:
    """A fresh VAE for images of `image_shape` (C, H, W), weights seeded by settings.seed."""
    with global_rng_seeded(settings.seed):
        return VAE(
            image_shape,
            latent_dim=settings.vae_latent_dim,
            architecture=settings.vae_architecture,
            channels=settings.vae_channels,
            sigma=settings.vae_sigma,
            calibrated=settings.vae_calibrated_sigma,
            sigma_per_pixel=settings.vae_sigma_per_pixel,
        )


def vae_loss(vae: VAE, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """-ELBO per dimension (nats), mean over the batch [B, C, H, W]; a calibrated VAE's sigma
    is first set to its optimum for the batch (VAE.elbo)."""
    return -vae.elbo(batch, generator, calibrate=vae.calibrated).mean() / batch[0].numel()
