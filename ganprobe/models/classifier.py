"""A small CNN image classifier; its penultimate features define ganprobe's Frechet distance.

Architecture for images (C, H, W):
    conv3x3(C->w) BN ReLU maxpool2 -> conv3x3(w->2w) BN ReLU maxpool2 -> conv3x3(2w->2w) BN ReLU
    -> flatten -> linear(-> feature_dim) ReLU = features phi(x) -> linear(-> K) = logits
Saved as classifier.json (architecture, class names) + classifier.safetensors; never pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ModelError
from ..utils import atomic_write_bytes, atomic_write_json

CLASSIFIER_CONFIG = "classifier.json"
CLASSIFIER_WEIGHTS = "classifier.safetensors"


@dataclass(frozen=True)
class ClassifierConfig:
    """image_shape (C, H, W) it was trained on; num_classes K; width w; feature_dim F."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    width: int = 32
    feature_dim: int = 128
    class_names: list[str] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["image_shape"] = list(self.image_shape)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierConfig:
        data = dict(data)
        data["image_shape"] = tuple(data["image_shape"])
        return cls(**data)


class Classifier(nn.Module):
    """CNN classifier: logits(x) [N, K], features(x) [N, F], predict(x) int64 [N] for images
    x [N, C, H, W] in [-1, 1] of shape `image_shape`."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if config.num_classes < 2:
            raise ModelError(f"a classifier needs at least 2 classes (got {config.num_classes})")
        self.config = config
        self.image_shape = tuple(config.image_shape)
        self.num_classes = config.num_classes
        self.class_names = config.class_names
        c, w = config.image_shape[0], config.width

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]

        self.body = nn.Sequential(
            *block(c, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 2 * w),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.body.eval()(torch.zeros(1, *config.image_shape)).shape[1]
        self.body.train()
        self.embed = nn.Sequential(nn.Linear(flat, config.feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ModelError(
                f"classifier expects images [N, {', '.join(map(str, self.image_shape))}] "
                f"(got {list(x.shape)}); adapt them with ganprobe.data.adapt_images"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features phi(x): [N, feature_dim] (post-ReLU)."""
        self._check(x)
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [N, K]."""
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Predicted labels int64 [N] (argmax of the logits), computed in batches."""
        return torch.cat(
            [self(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
        )

    @torch.no_grad()
    def features_batched(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """features(x) [N, F] computed in batches without gradients."""
        return torch.cat(
            [self.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        )


def save_classifier(classifier: Classifier, directory: Path) -> None:
    """Write directory/classifier.json + classifier.safetensors (atomically)."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    atomic_write_bytes(directory / CLASSIFIER_WEIGHTS, save(state))
    atomic_write_json(
        directory / CLASSIFIER_CONFIG, {"kind": "cnn", "config": classifier.config.to_dict()}
    )


def load_classifier(path_or_spec: str | Path, device: str = "cpu") -> Classifier:
    """Classifier from a run directory of `ganprobe train classifier` ('DIR' or 'builtin:DIR'),
    in eval mode with frozen parameters."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    text = str(path_or_spec)
    directory = Path(text.removeprefix("builtin:")).expanduser()
    config_path, weights_path = directory / CLASSIFIER_CONFIG, directory / CLASSIFIER_WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(
            f"classifier {text} has no {CLASSIFIER_CONFIG} + {CLASSIFIER_WEIGHTS}; give a run "
            "directory written by 'ganprobe train classifier'"
        )
    try:
        meta = json.loads(config_path.read_text())
        classifier = Classifier(ClassifierConfig.from_dict(meta["config"]))
        classifier.load_state_dict(load_file(str(weights_path)))
    except (
        OSError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        SafetensorError,
        RuntimeError,
    ) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"classifier {text} is unreadable ({first}); retrain it") from None
    return classifier.to(device).eval().requires_grad_(False)
