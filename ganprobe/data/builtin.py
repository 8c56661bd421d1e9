"""Built-in sets: Fashion-MNIST, scikit-learn's digits and the synthetic OOD sets.

Synthetic sets are 8-bit like real images: each pixel is an integer level u in 0..255 mapped
to u / 127.5 - 1, drawn with numpy's default_rng(seed).
"""

from __future__ import annotations

import numpy as np
import torch

from . import fashion
from .adapt import adapt_images
from .arrays import subsample_indices
from .imageset import ImageSet

OOD_DEFAULT_COUNT = 10000
DEFAULT_SHAPE = (1, 28, 28)
DIGITS_SHAPE = (1, 28, 28)


def _uint8_to_model(levels: np.ndarray) -> torch.Tensor:
    """uint8 levels (any shape; may be a read-only memory map) -> float32 u / 127.5 - 1."""
    owned = np.array(levels, dtype=np.uint8, copy=True)
    return torch.from_numpy(owned).to(torch.float32).div_(127.5).sub_(1.0)


def load_fashion_mnist(split: str, limit: int | None, seed: int, name: str) -> ImageSet:
    """Fashion-MNIST `split` ('train' | 'test') as 1x28x28 images, labels 0..9."""
    images, labels = fashion.load_arrays(split)
    index = subsample_indices(images.shape[0], limit, seed)
    picked = images if index.shape[0] == images.shape[0] else images[index]
    return ImageSet(
        images=_uint8_to_model(np.asarray(picked)[:, None]),
        labels=torch.from_numpy(np.asarray(labels)[index].astype(np.int64)),
        name=name,
        class_names=list(fashion.CLASS_NAMES),
    )


def load_digits(limit: int | None, seed: int, name: str, shape=None) -> ImageSet:
    """scikit-learn's 1797 8x8 digits (values 0..16 mapped to v / 8 - 1 in [-1, 1]), resized
    once to `shape` (default 1x28x28: the rescaled-SVHN analogue of the paper)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    index = subsample_indices(bunch.images.shape[0], limit, seed)
    values = torch.from_numpy(bunch.images[index].astype(np.float32))[:, None]
    images = values / 8.0 - 1.0
    target = tuple(shape) if shape is not None else DIGITS_SHAPE
    return ImageSet(
        images=adapt_images(images, target),
        labels=torch.from_numpy(bunch.target[index].astype(np.int64)),
        name=name,
        class_names=[str(d) for d in range(10)],
        notes=[f"8x8 digits resized to {target[1]}x{target[2]} (bilinear, antialiased)"],
    )


def _ood_count(limit: int | None) -> int:
    subsample_indices(1, limit, 0)  # validates limit
    return OOD_DEFAULT_COUNT if limit is None else int(limit)


def load_constant(limit: int | None, seed: int, name: str, shape=None) -> ImageSet:
    """Single-colour images: one uniform 8-bit level per image and channel.

    Returns `limit` (default 10000) images of `shape` (default 1x28x28), labels -1.
    """
    channels, height, width = shape if shape is not None else DEFAULT_SHAPE
    count = _ood_count(limit)
    levels = np.random.default_rng(seed).integers(0, 256, size=(count, channels, 1, 1))
    levels = np.broadcast_to(levels.astype(np.uint8), (count, channels, height, width))
    return ImageSet(
        images=_uint8_to_model(levels),
        labels=torch.full((count,), -1, dtype=torch.int64),
        name=name,
    )


def load_noise(limit: int | None, seed: int, name: str, shape=None) -> ImageSet:
    """I.i.d. uniform 8-bit noise: `limit` (default 10000) images of `shape` (default
    1x28x28), labels -1."""
    channels, height, width = shape if shape is not None else DEFAULT_SHAPE
    count = _ood_count(limit)
    levels = np.random.default_rng(seed).integers(
        0, 256, size=(count, channels, height, width), dtype=np.uint8
    )
    return ImageSet(
        images=_uint8_to_model(levels),
        labels=torch.full((count,), -1, dtype=torch.int64),
        name=name,
    )


def vflip(base: ImageSet, name: str) -> ImageSet:
    """`base` flipped upside down (rows reversed); labels, class names and notes kept."""
    return ImageSet(
        images=torch.flip(base.images, dims=[2]),
        labels=base.labels.clone(),
        name=name,
        class_names=base.class_names,
        notes=[f"vertical flip of {base.name}", *base.notes],
    )
