"""Figures of the manifold analyses (PNG, matplotlib Agg backend).

- `plot_distance_histograms`: distance to the manifold per group (paper Figures 2 and 4).
- `plot_reconstruction_grid`: target images beside their reconstructions, per group.
- `plot_detection_bars`: AUROC of OOD detection per OOD set and method (Figure 3, top).
- `plot_accuracy_bars`: classification accuracy per method (Figure 3, bottom).
- `plot_confusion_matrix`: row-normalised confusion matrix of a classifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 150


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_distance_histograms(
    distances: Mapping[str, np.ndarray], path: Path, xlabel: str = "rmse to the manifold",
    title: str = "Distance to the generator's manifold",
) -> Path:
    """Overlaid histograms (shared bins, density-normalised) of one distance per group, with
    each group's median as a dashed line. distances: group name -> [N_group] values."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    finite = [np.asarray(v, dtype=float) for v in distances.values() if len(v)]
    everything = np.concatenate(finite) if finite else np.zeros(1)
    bins = np.linspace(float(everything.min()), float(everything.max()) + 1e-12, 41)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, values) in enumerate(distances.items()):
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            continue
        color = colors[i % len(colors)]
        ax.hist(values, bins=bins, density=True, histtype="stepfilled", alpha=0.25, color=color)
        median = float(np.median(values))
        ax.hist(values, bins=bins, density=True, histtype="step", color=color,
                label=f"{name} (median {median:.3g}, n={values.size})")
        ax.axvline(median, color=color, linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _to_display(images: np.ndarray) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> [N, H, W] or [N, H, W, 3] in [0, 1]."""
    images = np.clip((np.asarray(images, dtype=float) + 1) / 2, 0, 1)
    if images.shape[1] == 1:
        return images[:, 0]
    return images[:, :3].transpose(0, 2, 3, 1)


def plot_reconstruction_grid(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path, columns: int = 8
) -> Path:
    """For each group two rows: targets and their reconstructions G(best latent).

    pairs: group name -> (targets [k, C, H, W], reconstructions [k, C, H, W]) in [-1, 1].
    """
    rows = 2 * len(pairs)
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns + 1.6, 1.15 * rows),
                             squeeze=False)
    for g, (name, (targets, recons)) in enumerate(pairs.items()):
        for r, (images, kind) in enumerate(((targets, "target"), (recons, "reconstruction"))):
            shown = _to_display(images[:columns])
            for c in range(columns):
                ax = axes[2 * g + r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if c < len(shown):
                    ax.imshow(shown[c], cmap="gray", vmin=0, vmax=1)
            axes[2 * g + r, 0].set_ylabel(f"{name}\n{kind}", fontsize=6, rotation=0,
                                          ha="right", va="center")
    return _save(fig, path)


def plot_detection_bars(
    scores: Mapping[str, Mapping[str, float]], path: Path, ylabel: str = "AUROC",
    title: str = "OOD detection by distance",
) -> Path:
    """Grouped bars: scores[ood set][method] (e.g. 'gan_l2', 'nn_l2'); chance line at 0.5."""
    ood_names = list(scores)
    methods = sorted({m for v in scores.values() for m in v})
    width = 0.8 / max(1, len(methods))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(ood_names) + 2), 4.0))
    x = np.arange(len(ood_names))
    for i, method in enumerate(methods):
        values = [scores[o].get(method, np.nan) for o in ood_names]
        bars = ax.bar(x + (i - (len(methods) - 1) / 2) * width, values, width, label=method)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(0.5, color="gray", linestyle=":", linewidth=1, label="chance")
    ax.set_xticks(x, ood_names, rotation=15)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def plot_accuracy_bars(
    accuracy: Mapping[str, float], path: Path, chance: float | None = None,
    title: str = "Classification accuracy",
) -> Path:
    """One bar per method (e.g. gan_l2, nn_l2, classifier); optional chance level line."""
    names = list(accuracy)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 1.5), 3.8))
    bars = ax.bar(names, [accuracy[n] for n in names],
                  color=plt.rcParams["axes.prop_cycle"].by_key()["color"][: len(names)])
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", linewidth=1, label="chance")
        ax.legend(fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    return _save(fig, path)


def plot_confusion_matrix(
    matrix: np.ndarray, path: Path, class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
) -> Path:
    """Row-normalised confusion matrix; matrix[true, predicted] holds counts."""
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(1, keepdims=True)
    normalised = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    k = matrix.shape[0]
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    fig, ax = plt.subplots(figsize=(0.5 * k + 2.5, 0.5 * k + 2))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=6,
                    color="white" if normalised[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)
