"""Training objective and construction of the normalizing-flow baseline.

The flow maximises the exact log-density of dequantized images; the loss is -log p(x) per
dimension (nats / D), averaged over the batch.
"""

from __future__ import annotations

import torch

from ..config import DensityTrainSettings
from ..models.density.flow import FlowDensity
from ..utils import global_rng_seeded


def build_flow(settings: DensityTrainSettings, image_shape: tuple[int, int, int]) -> FlowDensity:
    """A fresh MAF for images of `image_shape` (C, H, W), weights seeded by settings.seed."""
    with global_rng_seeded(settings.seed):
        return FlowDensity(
            image_shape,
            transforms=settings.flow_transforms,
            hidden=settings.flow_hidden,
            hidden_layers=settings.flow_hidden_layers,
            alpha=settings.flow_alpha,
        )


def flow_loss(flow: FlowDensity, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """-log p(x) per dimension (nats), mean over the batch [B, C, H, W]."""
    return -flow.log_prob_rows(batch.flatten(1)).mean() / batch[0].numel()
