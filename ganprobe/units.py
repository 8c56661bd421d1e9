"""Unit conventions shared by every density model (see DESIGN.md, "The science, precisely").

Images live in model space [-1, 1]; uint8 pixel u maps to u / 127.5 - 1, so one 8-bit level is
1/127.5 wide. `log_px` is the natural-log density of x in model space (nats); bits per
dimension of the 8-bit image are bpd = -(log_px - D ln 127.5) / (D ln 2).
"""

from __future__ import annotations

import math

import numpy as np
import torch

LOG_SCALE_PER_DIM = math.log(127.5)


def bits_per_dim(log_px: torch.Tensor | np.ndarray | float, dim: int):
    """bpd of the 8-bit image from log_px (nats, model space) of a D-dimensional image."""
    return -(log_px - dim * LOG_SCALE_PER_DIM) / (dim * math.log(2.0))


def log_px_from_bpd(bpd: torch.Tensor | np.ndarray | float, dim: int):
    """Inverse of `bits_per_dim`."""
    return -bpd * dim * math.log(2.0) + dim * LOG_SCALE_PER_DIM
