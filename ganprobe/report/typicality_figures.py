"""Figures of the typicality analysis (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from ..inference.typicality import TypicalBand  # noqa: E402

SAMPLES_LABEL = "model samples"


def log_px_histograms(
    sample_log_px: np.ndarray,
    group_log_px: Mapping[str, np.ndarray],
    band: TypicalBand,
    path: Path,
    dim: int | None = None,
) -> Path:
    """Overlaid density histograms of log_px (nats; or bpd on a twin axis label when `dim` is
    given) for the model's samples [S] and each group [N_g], with the typical band shaded."""
    fig, ax = plt.subplots(figsize=(9.0, 4.2), dpi=110)
    everything = [np.asarray(sample_log_px, dtype=float)] + [
        np.asarray(v, dtype=float) for v in group_log_px.values()
    ]
    finite = np.concatenate([v[np.isfinite(v)] for v in everything])
    low, high = np.quantile(finite, [0.001, 0.999])
    low, high = min(low, band.low), max(high, band.high)
    pad = 0.05 * (high - low + 1e-9)
    bins = np.linspace(low - pad, high + pad, 60)
    ax.axvspan(band.low, band.high, color="tab:green", alpha=0.12,
               label=f"typical band ({band.level:.0%} of samples)")
    ax.hist(sample_log_px, bins=bins, density=True, histtype="stepfilled", alpha=0.35,
            color="0.3", label=SAMPLES_LABEL)
    for name, values in group_log_px.items():
        ax.hist(values, bins=bins, density=True, histtype="step", linewidth=1.6, label=name)
    ax.axvline(-band.entropy, color="k", linestyle="--", linewidth=1, label="-H (entropy est.)")
    ax.set_xlabel("log p_sigma(x)  [nats, model space]")
    ax.set_ylabel("density")
    ax.set_title("Log-likelihood of model samples and data under the GAN")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if dim:
        ax.text(0.01, 0.97, f"D = {dim}", transform=ax.transAxes, va="top", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latent_norm_histograms(
    norms: Mapping[str, np.ndarray], latent_dim: int, path: Path
) -> Path:
    """Histograms of recovered-latent norms [N_g] per group against the chi(latent_dim) pdf of
    the prior's norms."""
    fig, ax = plt.subplots(figsize=(8.0, 3.8), dpi=110)
    values = np.concatenate([np.asarray(v, dtype=float) for v in norms.values()])
    chi = stats.chi(df=latent_dim)
    low = min(float(values.min()), chi.ppf(0.001))
    high = max(float(values.max()), chi.ppf(0.999))
    grid = np.linspace(low, high, 200)
    ax.plot(grid, chi.pdf(grid), "k-", linewidth=1.5, label=f"prior: chi({latent_dim})")
    bins = np.linspace(low, high, 40)
    for name, group in norms.items():
        ax.hist(group, bins=bins, density=True, histtype="step", linewidth=1.5, label=name)
    ax.set_xlabel("||z|| of projected latents")
    ax.set_ylabel("density")
    ax.set_title("Latent view: norms of recovered latents vs the prior")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
