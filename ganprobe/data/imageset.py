"""ImageSet: what every data source yields."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageSet:
    """A set of images in model space.

    images: float32 [N, C, H, W] in [-1, 1]
    labels: int64 [N], -1 where unknown
    name:   the spec string it came from (e.g. 'fashion-mnist:test')
    class_names: names of label values 0..K-1, when known
    notes: human-readable remarks made while loading (resizing, skipped files, ...)
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        """Number of classes: len(class_names) when the source names its classes (so a subset
        of Fashion-MNIST still has 10), else the largest known label + 1 (0 when none)."""
        known = self.labels[self.labels >= 0]
        largest = int(known.max().item()) + 1 if known.numel() else 0
        return max(len(self.class_names or []), largest)
