"""Figures of `ganprobe train density` (PNG, matplotlib Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_training_loss(loss_bpd: np.ndarray, path: Path, title: str = "") -> Path:
    """Training loss per step (bits per dimension, [steps]) with a 50-step running mean."""
    steps = np.arange(1, len(loss_bpd) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(steps, loss_bpd, lw=0.6, alpha=0.4, label="per step")
    window = min(50, len(loss_bpd))
    smooth = np.convolve(loss_bpd, np.ones(window) / window, mode="valid")
    ax.plot(steps[window - 1 :], smooth, lw=1.5, label=f"mean of {window}")
    low, high = np.percentile(loss_bpd, [0, 95])
    ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low) + 1e-9)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (bits / dim)")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
