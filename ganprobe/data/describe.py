"""Summary statistics of an ImageSet (what `ganprobe data info` prints)."""

from __future__ import annotations

from typing import Any

import torch

from .imageset import ImageSet


def describe(images: ImageSet) -> dict[str, Any]:
    """A JSON-ready summary of an ImageSet.

    Keys: name, count, shape [C, H, W], min, max, mean, std (pixel values in model space),
    num_classes, label_counts {label: count} over known labels, unlabeled (count of label -1),
    class_names (or null), notes.
    """
    pixels = images.images
    labels = images.labels
    known = labels[labels >= 0]
    values, counts = torch.unique(known, return_counts=True)
    return {
        "name": images.name,
        "count": len(images),
        "shape": list(images.shape),
        "min": float(pixels.min()),
        "max": float(pixels.max()),
        "mean": float(pixels.double().mean()),
        "std": float(pixels.double().std()) if pixels.numel() > 1 else 0.0,
        "num_classes": images.num_classes,
        "label_counts": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)},
        "unlabeled": int((labels < 0).sum()),
        "class_names": images.class_names,
        "notes": list(images.notes),
    }
