"""Train the CNN classifier (ganprobe.models.classifier): Adam, cross-entropy, cosine learning
rate over all steps, one checkpoint per epoch (a killed run resumes from the last one).

Run directory: config.json, checkpoint.safetensors, classifier.json + classifier.safetensors,
per_class.csv (test accuracy per class), summary.json (train / test accuracy), timings.json.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from ..config import ClassifierTrainSettings
from ..models.classifier import Classifier, ClassifierConfig, save_classifier
from ..progress import make_progress
from ..store import RunStore
from ..utils import global_rng_seeded, raise_if_stop_requested, resolve_device
from .common import (
    CHECKPOINT,
    batch_indices,
    load_checkpoint,
    load_training_images,
    save_checkpoint,
)

COMMAND = "train classifier"


def accuracy_per_class(
    predicted: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[float, list[float]]:
    """(overall accuracy, [accuracy of class k for k < num_classes]) of int64 [N] predictions;
    a class with no examples gets NaN."""
    correct = (predicted == labels).float()
    per_class = []
    for k in range(num_classes):
        mask = labels == k
        per_class.append(float(correct[mask].mean()) if mask.any() else math.nan)
    return float(correct.mean()), per_class


def train_classifier(settings: ClassifierTrainSettings, out: Path, device: str = "cpu") -> Path:
    """Train the classifier as `settings` says into `out` (resuming) and return `out`, which
    `load_classifier(out)` loads. Test accuracy is in out/summary.json."""
    out = Path(out)
    store = RunStore.open(out, COMMAND, settings, seed=settings.seed)
    if (out / "summary.json").exists() and (out / "classifier.safetensors").exists():
        return out
    torch_device = resolve_device(device)
    train = load_training_images(settings.data, settings.limit, settings.seed, need_labels=True)
    test = load_training_images(
        settings.test_data, None, settings.seed, need_labels=True, shape=train.shape
    )
    num_classes = max(train.num_classes, test.num_classes)
    config = ClassifierConfig(
        image_shape=train.shape,
        num_classes=num_classes,
        width=settings.width,
        feature_dim=settings.feature_dim,
        class_names=train.class_names,
    )
    with global_rng_seeded(settings.seed):  # initial weights
        model = Classifier(config).to(torch_device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    batch_size = min(settings.batch_size, len(train))
    per_epoch = len(train) // batch_size
    total = settings.epochs * per_epoch
    checkpoint = out / CHECKPOINT
    start = 0
    if checkpoint.exists():
        start = load_checkpoint(checkpoint, {"model": model}, {"opt": optimizer}, {})
    began = time.perf_counter()
    model.train()
    with make_progress() as progress:
        task = progress.add_task("train classifier", total=total, completed=start, info="")
        for step in range(start, total):
            raise_if_stop_requested()
            for group in optimizer.param_groups:
                group["lr"] = settings.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            index = batch_indices(len(train), batch_size, step, settings.seed)
            x, y = train.images[index].to(torch_device), train.labels[index].to(torch_device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.update(task, advance=1, info=f"loss {loss.item():.3f}")
            if (step + 1) % per_epoch == 0:
                save_checkpoint(checkpoint, step + 1, {"model": model}, {"opt": optimizer}, {})
    store.record_time("train", time.perf_counter() - began)
    model.eval()
    test_acc, per_class = accuracy_per_class(
        model.predict(test.images.to(torch_device)).cpu(), test.labels, num_classes
    )
    train_acc, _ = accuracy_per_class(
        model.predict(train.images[:10000].to(torch_device)).cpu(),
        train.labels[:10000],
        num_classes,
    )
    save_classifier(model.cpu(), out)
    names = config.class_names or [str(k) for k in range(num_classes)]
    store.write_csv(
        "per_class.csv",
        [{"class": k, "name": names[k], "test_accuracy": a} for k, a in enumerate(per_class)],
    )
    store.write_summary(
        {
            "test_accuracy": test_acc,
            "train_accuracy_first_10000": train_acc,
            "test_data": settings.test_data,
            "train_images": len(train),
            "num_classes": num_classes,
            "image_shape": list(config.image_shape),
            "epochs": settings.epochs,
            "steps": total,
            "path": str(out),
        }
    )
    return out
