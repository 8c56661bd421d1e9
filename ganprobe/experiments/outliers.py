"""Is the manifold closer to out-of-distribution images than to in-distribution ones?
(paper Figure 3, top)

Score of an image = its distance to the generator's manifold (projection), against the baseline
score = its distance to the nearest training image (1-NN), same metric. OOD is the positive
class; AUROC, AUPR and FPR at 95% TPR per OOD set and method (ganprobe.metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import OutlierSettings
from ..metrics import detection_metrics
from ..report.manifold_figures import plot_detection_bars, plot_distance_histograms
from ..store import RunStore, Timer
from ._common import (
    check_validity,
    distance_metrics,
    group_for,
    load_checked_generator,
    load_group,
    nn_group,
    project_group,
)

METRIC_NAMES = ("auroc", "aupr", "fpr_at_95_tpr")


def run_outliers(settings: OutlierSettings, out: Path) -> dict[str, Any]:
    """`ganprobe outliers`: writes outliers.csv (per image: group, index, label, gan_<metric>,
    nn_<metric>), summary.json (auroc / aupr / fpr_at_95_tpr -> OOD spec -> gan_l2, nn_l2 [,
    gan_lpips, nn_lpips]; groups -> name -> medians; validity: the check of generated images),
    auroc.png and distance histograms."""
    store = RunStore.open(out, "outliers", settings, seed=settings.seed)
    generator = load_checked_generator(settings.generator, settings.projection.device,
                                       settings.trust_pickle)
    shape = tuple(generator.image_shape)
    metrics = distance_metrics(settings.projection)
    train = load_group(settings.train, settings.train_limit, settings.seed, shape)
    with Timer() as timer:
        validity, warnings = check_validity(
            store, generator, settings.projection, settings.validity_count,
            settings.validity_threshold, settings.seed, settings.shard_size, settings.backend)
    store.record_time("validity check", timer.seconds)
    specs = [settings.in_data, *[s for s in settings.ood if s != settings.in_data]]
    scores: dict[str, dict[str, np.ndarray]] = {}
    rows: list[dict[str, Any]] = []
    groups_summary: dict[str, Any] = {}
    for spec in specs:
        data = load_group(spec, settings.limit, settings.seed, shape)
        group = group_for(spec, data, generator)
        with Timer() as timer:
            projected = project_group(store, generator, group, settings.projection,
                                      settings.seed, settings.shard_size, settings.backend)
            nearest = nn_group(store, spec, data.images, train.images, metrics,
                               settings.shard_size, settings.nn_memory_budget_mb,
                               settings.projection, settings.backend)
        store.record_time(f"group {spec}", timer.seconds)
        group_scores = {f"gan_{m}": projected[m] for m in metrics}
        group_scores.update({f"nn_{m}": nearest[f"nn_{m}"] for m in metrics})
        scores[spec] = group_scores
        groups_summary[spec] = {
            "count": len(data),
            "median_rmse": float(np.median(projected["rmse"])),
            **{f"median_{k}": float(np.median(v)) for k, v in group_scores.items()},
        }
        for i in range(len(data)):
            row = {"group": spec, "index": i, "label": int(data.labels[i])}
            row.update({k: float(v[i]) for k, v in group_scores.items()})
            rows.append(row)
    store.write_csv("outliers.csv", rows)
    summary: dict[str, Any] = {name: {} for name in METRIC_NAMES}
    closer = {}
    for spec in specs[1:]:
        for name in METRIC_NAMES:
            summary[name][spec] = {}
        for method in scores[spec]:
            result = detection_metrics(scores[settings.in_data][method], scores[spec][method])
            for name in METRIC_NAMES:
                summary[name][spec][method] = result[name]
        closer[spec] = {m: bool(np.mean(scores[spec][f"gan_{m}"])
                                < np.mean(scores[settings.in_data][f"gan_{m}"])) for m in metrics}
    summary.update({
        "generator": settings.generator,
        "in": settings.in_data,
        "train": settings.train,
        "train_count": len(train),
        "groups": groups_summary,
        "ood_closer_to_manifold_than_in": closer,
        "validity": validity,
        "warnings": warnings,
    })
    if summary["auroc"]:
        plot_detection_bars(summary["auroc"], store.path("auroc.png"),
                            title=f"OOD detection vs {settings.in_data} (AUROC)")
    for metric in metrics:
        plot_distance_histograms({s: scores[s][f"gan_{metric}"] for s in specs},
                                 store.path(f"gan_{metric}_histogram.png"),
                                 xlabel=f"{metric} to the manifold")
        plot_distance_histograms({s: scores[s][f"nn_{metric}"] for s in specs},
                                 store.path(f"nn_{metric}_histogram.png"),
                                 xlabel=f"{metric} to the nearest training image",
                                 title="Distance to the nearest training image")
    store.write_summary(summary)
    return summary
