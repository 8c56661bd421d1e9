"""Normalizing flow over the logit of the dequantized image (a zuko MAF), exact log-density.

Model-space x (dequantized, so in [-1 - 1/255, 1 + 1/255]) is mapped to an unbounded h by

    y = (x + 1 + 1/255) * 127.5 / 256           in [0, 1]   (the usual (u + noise) / 256)
    s = alpha + (1 - 2 alpha) y                 in [alpha, 1 - alpha]
    h = logit(s) = log s - log(1 - s)

and h is modelled by a masked autoregressive flow (Papamakarios et al., 2017) with a standard
normal base. The change of variables is accounted for exactly:

    log p(x) = log p_flow(h)
               + sum_i [log(127.5 / 256) + log(1 - 2 alpha) - log s_i - log(1 - s_i)]

Values outside [-1 - 1/255, 1 + 1/255] have density zero (log p(x) = -inf).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import zuko
from torch import nn

from .base import LEVEL_WIDTH, flatten_images, save_model_files

SUPPORT_LOW = -1.0 - LEVEL_WIDTH / 2
SUPPORT_HIGH = 1.0 + LEVEL_WIDTH / 2
_Y_SCALE = 127.5 / 256.0


def logit_transform(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x [N, D] model space -> (h [N, D], log |det dh/dx| [N]); see the module docstring.

    Entries outside the support give non-finite h; callers mask them (see `in_support`)."""
    y = (x - SUPPORT_LOW) * _Y_SCALE
    s = alpha + (1.0 - 2.0 * alpha) * y
    h = torch.log(s) - torch.log1p(-s)
    log_det = (
        math.log(_Y_SCALE) + math.log(1.0 - 2.0 * alpha) - torch.log(s) - torch.log1p(-s)
    ).sum(1)
    return h, log_det


def in_support(x: torch.Tensor) -> torch.Tensor:
    """[N] bool: every value of row x [N, D] lies in [-1 - 1/255, 1 + 1/255]."""
    return ((x >= SUPPORT_LOW) & (x <= SUPPORT_HIGH)).all(1)


class FlowDensity(nn.Module):
    """MAF over logit-transformed images [N, C, H, W]; `log_px` is exact (float64 [N], nats)."""

    name = "flow"

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        transforms: int = 5,
        hidden: int = 512,
        hidden_layers: int = 1,
        alpha: float = 1e-6,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.dim = math.prod(self.image_shape)
        self.transforms = int(transforms)
        self.hidden = int(hidden)
        self.hidden_layers = int(hidden_layers)
        self.alpha = float(alpha)
        self.flow = zuko.flows.MAF(
            self.dim, transforms=self.transforms, hidden_features=[self.hidden] * self.hidden_layers
        )

    def log_prob_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Differentiable log-density of rows [N, D] in model space, in their dtype: [N] nats
        (-inf outside the support)."""
        inside = in_support(rows)
        safe = torch.where(inside[:, None], rows, torch.zeros_like(rows))
        h, log_det = logit_transform(safe, self.alpha)
        log_p = self.flow().log_prob(h) + log_det
        return torch.where(inside, log_p, torch.full_like(log_p, -math.inf))

    @torch.no_grad()
    def log_px(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Exact log-density of images x [N, C, H, W] in model space: float64 [N], nats."""
        rows = flatten_images(x, self.image_shape).to(next(self.parameters()).dtype)
        parts = [
            self.log_prob_rows(rows[s : s + batch_size])
            for s in range(0, len(rows), batch_size)
        ]
        return torch.cat(parts).to(torch.float64)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of the model: h = flow^{-1}(u), u ~ N(0, I), then the inverse of the logit
        preprocessing; [n, C, H, W] in model space. (D sequential passes: slow for big D.)"""
        dtype = next(self.parameters()).dtype
        u = torch.randn(n, self.dim, generator=generator, dtype=dtype)
        h = self.flow().transform.inv(u)
        y = (torch.sigmoid(h) - self.alpha) / (1.0 - 2.0 * self.alpha)
        return (y / _Y_SCALE + SUPPORT_LOW).reshape(n, *self.image_shape)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON) that rebuild this flow."""
        return {
            "transforms": self.transforms,
            "hidden": self.hidden,
            "hidden_layers": self.hidden_layers,
            "alpha": self.alpha,
        }

    def save(self, run_dir: Path) -> None:
        save_model_files(run_dir, "flow", self.image_shape, self.state_dict(), **self.config())

    @classmethod
    def from_files(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> FlowDensity:
        args = {k: meta[k] for k in ("transforms", "hidden", "hidden_layers", "alpha")}
        flow = cls(tuple(meta["image_shape"]), **args)
        flow.load_state_dict(tensors)
        return flow.eval()
