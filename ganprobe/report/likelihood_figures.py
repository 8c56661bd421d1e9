"""Figures of the likelihood analysis (matplotlib, Agg backend, PNG): bpd against sigma and
per-group histograms of bits per dimension."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def bpd_against_sigma(
    sigmas: Sequence[float],
    mean_bpd: Sequence[float],
    stderr_bpd: Sequence[float],
    path: Path,
    best_sigma: float | None = None,
    baselines: Mapping[str, float] | None = None,
    label: str = "GAN + N(0, sigma^2 I)",
) -> Path:
    """The GAN's mean held-out bpd (bits per dimension, lower is better) at each sigma (model-
    space std, log axis) with +-1 standard error, the chosen sigma marked, and each baseline's
    bpd on the same data as a horizontal line."""
    fig, ax = plt.subplots(figsize=(6.8, 4.2), dpi=110)
    order = np.argsort(np.asarray(sigmas, dtype=float))
    s = np.asarray(sigmas, dtype=float)[order]
    m = np.asarray(mean_bpd, dtype=float)[order]
    e = np.asarray(stderr_bpd, dtype=float)[order]
    ax.errorbar(s, m, yerr=e, marker="o", color="black", capsize=3, label=label)
    if best_sigma is not None:
        ax.axvline(best_sigma, color="gray", ls=":", label=f"best sigma = {best_sigma:.3g}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, color=colors[i % len(colors)], ls="--", label=f"{name}: {value:.2f}")
    ax.set_xscale("log")
    ax.set_xticks(s, [f"{v:g}" for v in s])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("sigma (observation noise std, model space [-1, 1])")
    ax.set_ylabel("bits per dimension (8-bit), lower = better")
    ax.set_title("Held-out likelihood against observation noise")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def bpd_histograms(
    bpd_by_model: Mapping[str, Mapping[str, np.ndarray]],
    path: Path,
) -> Path:
    """One panel per model: overlaid histograms of per-image bpd for each data group
    (model -> group -> bpd [N_g]); the in-distribution group is expected first. The x range
    stops at 6 spreads (5-95% range, at least 0.5 bpd) above the first group's median; larger
    values are counted in the last bin, whose edge the x label states."""
    names = list(bpd_by_model)
    cols = min(3, max(1, len(names)))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), dpi=110,
                             squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        groups = bpd_by_model[name]
        values = [np.asarray(v, dtype=float) for v in groups.values()]
        finite = np.concatenate([v[np.isfinite(v)] for v in values] or [np.zeros(1)])
        if finite.size == 0:
            finite = np.zeros(1)
        low, high = np.quantile(finite, [0.005, 0.995])
        reference = values[0][np.isfinite(values[0])]
        if reference.size:
            q05, q50, q95 = np.quantile(reference, [0.05, 0.5, 0.95])
            high = min(high, q50 + 6 * max(q95 - q05, 0.5))
        pad = 0.05 * (high - low) + 1e-6
        bins = np.linspace(low - pad, high + pad, 40)
        for group, v in zip(groups, values, strict=True):
            ax.hist(np.clip(v[np.isfinite(v)], bins[0], bins[-1]), bins=bins, density=True,
                    histtype="step", lw=1.5, label=group)
        ax.set_title(name, fontsize=10)
        clipped = finite.max() > bins[-1]
        ax.set_xlabel("bits per dimension" + (f" (last bin: >= {bins[-2]:.1f})" if clipped
                                              else ""))
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
