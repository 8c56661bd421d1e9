"""DCGAN-style generator and discriminator for any image shape (C, H, W).

Generator: z [N, latent_dim] (concatenated with a learned class embedding when conditional) ->
linear -> [width * 2^(k-1), h0, w0] -> k x (ConvTranspose 4x4 stride 2, BatchNorm, ReLU) ->
3x3 conv -> tanh -> centre crop to (H, W). The number of doublings k is the largest with
min(H, W) / 2^k >= 4, and (h0, w0) = ceil((H, W) / 2^k); e.g. 28x28 -> 7x7 and k = 2,
32x32 -> 4x4 and k = 3, 64x64 -> 4x4 and k = 4.

Discriminator: the mirror image (stride-2 4x4 convs with LeakyReLU(0.2), BatchNorm after the
first) -> flattened features phi(x); logit = w . phi(x) + b, plus for conditional models the
projection term <embed(c), phi(x)> (Miyato & Koyama, 2018) and an auxiliary class head whose
cross-entropy the trainer may use (AC-GAN).

The architecture is a plain JSON-serialisable dict (`DCGANConfig.to_dict` / `from_dict`), so a
checkpoint is that dict plus safetensors weights; nothing is pickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ModelError
from ..utils import atomic_write_bytes, atomic_write_json
from .protocol import GaussianPriorMixin

D_NORMS = ("batch", "spectral", "none")


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture of a DCGAN generator / discriminator pair.

    image_shape: (C, H, W) of the images; latent_dim: size of z; num_classes: 0 for
    unconditional; width: channels at full resolution (doubling at each halving, capped at
    8 * width); embed_dim: size of the generator's class embedding (conditional only);
    d_norm: the discriminator's normalisation, 'batch' (BatchNorm after each strided conv),
    'spectral' (spectral normalisation of every D weight, Miyato et al. 2018) or 'none'.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 64
    num_classes: int = 0
    width: int = 16
    embed_dim: int = 16
    d_norm: str = "batch"

    def __post_init__(self) -> None:
        if self.d_norm not in D_NORMS:
            raise ModelError(f"d_norm {self.d_norm!r} unknown; use one of {', '.join(D_NORMS)}")
        shape = tuple(int(v) for v in self.image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ModelError(
                f"image_shape {self.image_shape} must be (C, H, W) with positive sizes"
            )
        if min(shape[1:]) < 4:
            raise ModelError(f"image_shape {shape}: H and W must be at least 4 pixels")
        object.__setattr__(self, "image_shape", shape)
        for name in ("latent_dim", "width"):
            if int(getattr(self, name)) < 1:
                raise ModelError(f"DCGAN {name} must be >= 1 (got {getattr(self, name)})")
        if int(self.num_classes) < 0:
            raise ModelError(f"DCGAN num_classes must be >= 0 (got {self.num_classes})")

    @property
    def num_doublings(self) -> int:
        """k: the largest number of 2x upsamplings with min(H, W) / 2^k >= 4."""
        return max(0, int(math.floor(math.log2(min(self.image_shape[1:]) / 4))))

    @property
    def base_size(self) -> tuple[int, int]:
        """(h0, w0) = ceil((H, W) / 2^k): spatial size of the first feature map."""
        scale = 2**self.num_doublings
        return (math.ceil(self.image_shape[1] / scale), math.ceil(self.image_shape[2] / scale))

    def channels(self, level: int) -> int:
        """Channels at `level` halvings below full resolution (capped at 8 * width)."""
        return self.width * min(2**level, 8)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples become lists); inverse of `from_dict`."""
        out = asdict(self)
        out["image_shape"] = list(self.image_shape)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DCGANConfig:
        """Build from `to_dict` output; unknown keys are refused with a ModelError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"DCGAN config has unknown keys {unknown}; known: {sorted(known)}")
        data = dict(data)
        if "image_shape" in data:
            data["image_shape"] = tuple(data["image_shape"])
        return cls(**data)


def _check_labels(c: torch.Tensor | None, n: int, num_classes: int) -> torch.Tensor | None:
    """Validate class labels c (int64 [n], values in [0, num_classes)) for a conditional model."""
    if num_classes == 0:
        if c is not None:
            raise ModelError("this generator is unconditional; do not pass class labels")
        return None
    if c is None:
        raise ModelError(f"this generator is class-conditional ({num_classes} classes); pass c")
    if c.dtype not in (torch.int64, torch.int32) or c.shape != (n,):
        raise ModelError(
            f"class labels must be int64 of shape [{n}] (got {c.dtype} {tuple(c.shape)})"
        )
    if n and (int(c.min()) < 0 or int(c.max()) >= num_classes):
        raise ModelError(f"class labels must lie in [0, {num_classes}) (got {c.min()}..{c.max()})")
    return c.long()


CONV_MEMORY_FORMAT = torch.channels_last
"""Layout of the convolution weights (and so of the activations). On CPU, generator forward +
backward passes (the cost unit of projection and AIS) run 1.10-1.16x faster channels-last than
NCHW; training runs at 0.90-1.02x (benchmarks/bench_training.py, two runs). Shapes are
unchanged; values agree up to float rounding."""


class DCGANGenerator(GaussianPriorMixin, nn.Module):
    """G(z, c) -> images [N, C, H, W] in [-1, 1]; implements the Generator protocol.

    z: [N, latent_dim] standard normal; c: int64 labels [N] (conditional models only).
    """

    def __init__(self, config: DCGANConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = DCGANConfig(**overrides)
        elif overrides:
            config = DCGANConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.latent_dim = config.latent_dim
        self.num_classes = config.num_classes
        self.image_shape = config.image_shape
        k = config.num_doublings
        h0, w0 = config.base_size
        c0 = config.channels(k)
        in_dim = config.latent_dim + (config.embed_dim if config.num_classes else 0)
        self.embed = (
            nn.Embedding(config.num_classes, config.embed_dim) if config.num_classes else None
        )
        self.stem = nn.Sequential(
            nn.Linear(in_dim, c0 * h0 * w0, bias=False),
            nn.Unflatten(1, (c0, h0, w0)),
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        for level in range(k, 0, -1):
            c_in, c_out = config.channels(level), config.channels(level - 1)
            blocks += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(config.channels(0), config.image_shape[0], 3, padding=1)
        self.to(memory_format=CONV_MEMORY_FORMAT)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, latent_dim], c int64 [N] or None -> images [N, C, H, W] in [-1, 1]."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ModelError(f"z must have shape [N, {self.latent_dim}] (got {tuple(z.shape)})")
        c = _check_labels(c, z.shape[0], self.num_classes)
        h = z if self.embed is None else torch.cat([z, self.embed(c)], dim=1)
        x = self.to_image(self.blocks(self.stem(h)))
        _, height, width = self.image_shape
        top = (x.shape[2] - height) // 2
        left = (x.shape[3] - width) // 2
        return torch.tanh(x[:, :, top : top + height, left : left + width])


def _spectral(module: nn.Module) -> nn.Module:
    """Spectral normalisation of module.weight (one power iteration per training forward)."""
    return nn.utils.parametrizations.spectral_norm(module)


class DCGANDiscriminator(nn.Module):
    """D(x, c) -> (logit [N], class_logits [N, K] or None) for images [N, C, H, W]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        k = config.num_doublings
        sn = _spectral if config.d_norm == "spectral" else (lambda module: module)
        layers: list[nn.Module] = [
            sn(nn.Conv2d(config.image_shape[0], config.channels(0), 3, padding=1)),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for level in range(k):
            c_in, c_out = config.channels(level), config.channels(level + 1)
            batch_norm = config.d_norm == "batch"
            layers += [
                sn(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=not batch_norm)),
                nn.BatchNorm2d(c_out) if batch_norm else nn.Identity(),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            feature_dim = self.features.eval()(torch.zeros(1, *config.image_shape)).shape[1]
        self.features.train()
        self.feature_dim = int(feature_dim)
        self.head = sn(nn.Linear(self.feature_dim, 1))
        if config.num_classes:
            self.class_embed = nn.Embedding(config.num_classes, self.feature_dim)
            nn.init.normal_(self.class_embed.weight, std=0.01)
            self.class_head = sn(nn.Linear(self.feature_dim, config.num_classes))
        else:
            self.class_embed = None
            self.class_head = None
        self.to(memory_format=CONV_MEMORY_FORMAT)

    def forward(
        self, x: torch.Tensor, c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x [N, C, H, W], c int64 [N] -> (real/fake logit [N], class logits [N, K] or None)."""
        c = _check_labels(c, x.shape[0], self.config.num_classes)
        phi = self.features(x)
        logit = self.head(phi).squeeze(1)
        if self.class_embed is None:
            return logit, None
        logit = logit + (self.class_embed(c) * phi).sum(1)
        return logit, self.class_head(phi)


def generator_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(z))) = -mean log sigmoid(D(G(z)))."""
    return F.softplus(-fake_logit).mean()


def discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """Standard GAN discriminator loss: mean softplus(-D(x)) + mean softplus(D(G(z)))."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


GENERATOR_CONFIG = "generator.json"
GENERATOR_WEIGHTS = "generator.safetensors"


def save_generator(generator: DCGANGenerator, directory: Path) -> None:
    """Write `generator` as directory/generator.json (architecture) + generator.safetensors
    (parameters and buffers), both atomically; this is what `builtin:DIR` loads."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    atomic_write_bytes(directory / GENERATOR_WEIGHTS, save(state))
    atomic_write_json(
        directory / GENERATOR_CONFIG, {"kind": "dcgan", "config": generator.config.to_dict()}
    )


def load_generator_dir(directory: Path, device: str = "cpu") -> DCGANGenerator:
    """Inverse of `save_generator`: a DCGANGenerator in eval mode on `device`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config_path, weights_path = directory / GENERATOR_CONFIG, directory / GENERATOR_WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(
            f"builtin:{directory} has no {GENERATOR_CONFIG} + {GENERATOR_WEIGHTS}; give a run "
            "directory written by 'ganprobe train gan'"
        )
    try:
        meta = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{config_path} is not valid JSON ({exc}); retrain or restore it"
        ) from None
    if meta.get("kind") != "dcgan":
        raise ModelError(f"{config_path}: unknown generator kind {meta.get('kind')!r}")
    generator = DCGANGenerator(DCGANConfig.from_dict(meta["config"]))
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{weights_path} is unreadable ({exc}); retrain or restore it") from None
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{weights_path} does not match {config_path}: {first}") from None
    return generator.to(device).eval()
