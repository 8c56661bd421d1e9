"""Classification by distance to class-conditional manifolds (paper Figure 3, bottom).

Predicted class = argmin over c of d_c(x), the distance of x to the manifold of G(., c), computed
by projection batched over (image, class) pairs. Baselines: the label of the nearest training
image (1-NN, same metric) and a trained classifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ClassifySettings
from ..data import adapt_images
from ..errors import GanprobeError
from ..inference.projection import project_all_classes
from ..parallel import run_sharded
from ..report.manifold_figures import plot_accuracy_bars, plot_confusion_matrix
from ..store import RunStore, Timer
from ._common import (
    check_validity,
    distance_metrics,
    load_checked_generator,
    load_group,
    nn_group,
)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted]: int64 [K, K]."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def run_classify(settings: ClassifySettings, out: Path) -> dict[str, Any]:
    """`ganprobe classify`: writes classify.csv (per image: index, label, predictions of every
    method, distance to each class manifold), summary.json (accuracy -> gan_l2, nn_l2,
    classifier [, gan_lpips, nn_lpips]; confusion -> method -> [K, K]; validity: the check of
    generated images, each projected under its own class), accuracy.png and
    confusion_gan_l2.png. Returns the summary."""
    store = RunStore.open(out, "classify", settings, seed=settings.seed)
    generator = load_checked_generator(settings.generator, settings.projection.device,
                                       settings.trust_pickle)
    num_classes = int(getattr(generator, "num_classes", 0))
    if num_classes < 2:
        raise GanprobeError(
            f"classify needs a class-conditional generator; {settings.generator} has "
            f"{num_classes} classes (train one with conditional=true)"
        )
    shape = tuple(generator.image_shape)
    data = load_group(settings.data, settings.limit, settings.seed, shape)
    labels = data.labels.numpy()
    if (labels < 0).any() or labels.max() >= num_classes:
        raise GanprobeError(
            f"classify needs labels 0..{num_classes - 1} for every image of {settings.data}"
        )
    train = load_group(settings.train, settings.train_limit, settings.seed, shape)
    if (train.labels < 0).any():
        raise GanprobeError(f"the 1-NN reference {settings.train} must have labels")
    metrics = distance_metrics(settings.projection)
    with Timer() as timer:
        validity, warnings = check_validity(
            store, generator, settings.projection, settings.validity_count,
            settings.validity_threshold, settings.seed, settings.shard_size, settings.backend)
    store.record_time("validity check", timer.seconds)

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        pairs = project_all_classes(generator, data.images[start:stop], settings.projection,
                                    settings.seed, torch.arange(start, stop))
        return {f"class_{m}": pairs.distance(m).view(-1, num_classes).numpy() for m in metrics}

    with Timer() as timer:
        per_class = run_sharded(store, "classes", len(data), settings.shard_size, compute,
                                description="project x classes", backend=settings.backend)
    store.record_time("projection", timer.seconds)
    predictions = {f"gan_{m}": per_class[f"class_{m}"].argmin(1) for m in metrics}
    with Timer() as timer:
        nearest = nn_group(store, settings.data, data.images, train.images, metrics,
                           settings.shard_size, settings.nn_memory_budget_mb, settings.projection,
                           settings.backend)
    store.record_time("1-NN", timer.seconds)
    train_labels = train.labels.numpy()
    for m in metrics:
        predictions[f"nn_{m}"] = train_labels[nearest[f"nn_{m}_index"]]
    if settings.classifier:
        predictions["classifier"] = _classifier_predictions(settings.classifier, data.images)
    accuracy = {k: float(np.mean(v == labels)) for k, v in predictions.items()}
    confusion = {k: confusion_matrix(labels, v, num_classes) for k, v in predictions.items()}
    rows = []
    for i in range(len(data)):
        row: dict[str, Any] = {"index": i, "label": int(labels[i])}
        row.update({f"pred_{k}": int(v[i]) for k, v in predictions.items()})
        for m in metrics:
            row.update({f"{m}_class_{c}": float(per_class[f"class_{m}"][i, c])
                        for c in range(num_classes)})
        rows.append(row)
    store.write_csv("classify.csv", rows)
    plot_accuracy_bars(accuracy, store.path("accuracy.png"), chance=1.0 / num_classes,
                       title=f"Classification accuracy on {settings.data}")
    for method in ("gan_l2", "gan_lpips"):
        if method in confusion:
            plot_confusion_matrix(confusion[method], store.path(f"confusion_{method}.png"),
                                  data.class_names, title=f"Confusion ({method})")
    summary = {
        "generator": settings.generator,
        "data": settings.data,
        "train": settings.train,
        "classifier": settings.classifier,
        "count": len(data),
        "num_classes": num_classes,
        "accuracy": accuracy,
        "confusion": {k: v.tolist() for k, v in confusion.items()},
        "median_true_class_rmse": float(np.median(
            per_class["class_l2"][np.arange(len(data)), labels]) / np.sqrt(np.prod(shape))),
        "validity": validity,
        "warnings": warnings,
    }
    store.write_summary(summary)
    return summary


def _classifier_predictions(spec: str, images: torch.Tensor) -> np.ndarray:
    """Labels predicted by a trained classifier (ganprobe.models.classifier): int64 [N]."""
    from ..models.classifier import load_classifier

    classifier = load_classifier(spec)
    adapted = adapt_images(images, tuple(classifier.image_shape))
    with torch.no_grad():
        predicted = torch.cat([classifier.predict(adapted[s:s + 512])
                               for s in range(0, adapted.shape[0], 512)])
    return predicted.cpu().numpy().astype(np.int64)
