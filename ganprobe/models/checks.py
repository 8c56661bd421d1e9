"""Load-time checks of the Generator protocol: one probe batch, one-line refusals.

`probe_generator` draws a small batch z ~ p(z) (labels 0, 1, ... for conditional generators),
runs the generator once without gradients and verifies that the output is a floating tensor of
shape [n, C, H, W] equal to the declared image_shape with only finite values. A wrong shape,
dtype or non-finite value raises a one-line ModelError naming the spec; values outside
[-1.05, 1.05] (the protocol promises [-1, 1]) only warn, with the observed range.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ModelError
from ..utils import torch_generator

RANGE_TOLERANCE = 1.05


class RangeWarning(UserWarning):
    """A generator's output leaves [-1.05, 1.05]."""


@dataclass
class ProbeReport:
    """What one probe batch showed: output shape [n, C, H, W], dtype, min and max value."""

    shape: tuple[int, ...]
    dtype: str
    min_value: float
    max_value: float
    warnings: list[str] = field(default_factory=list)


def check_attributes(generator: Any, spec: str) -> None:
    """Refuse a generator whose latent_dim / num_classes / image_shape are missing or invalid."""
    for name in ("latent_dim", "num_classes", "image_shape", "sample_latent", "log_prior"):
        if not hasattr(generator, name):
            raise ModelError(f"generator {spec} lacks the protocol attribute {name!r}")
    if not isinstance(generator.latent_dim, int) or generator.latent_dim < 1:
        raise ModelError(f"generator {spec}: latent_dim must be a positive int")
    if not isinstance(generator.num_classes, int) or generator.num_classes < 0:
        raise ModelError(f"generator {spec}: num_classes must be an int >= 0")
    shape = tuple(generator.image_shape)
    if len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape):
        raise ModelError(f"generator {spec}: image_shape must be (C, H, W) (got {shape})")


def probe_labels(
    num_classes: int, n: int, device: torch.device | str = "cpu"
) -> torch.Tensor | None:
    """Labels 0, 1, ..., cycling through the classes: int64 [n], or None when unconditional."""
    if num_classes == 0:
        return None
    return torch.arange(n, device=device) % num_classes


def probe_generator(generator: Any, spec: str, n: int = 2, seed: int = 0) -> ProbeReport:
    """Run one probe batch of `n` latents through `generator`; see the module docstring."""
    check_attributes(generator, spec)
    z = generator.sample_latent(n, torch_generator(seed))
    if not isinstance(z, torch.Tensor) or tuple(z.shape[:1]) != (n,):
        raise ModelError(f"generator {spec}: sample_latent({n}) must return a tensor [{n}, ...]")
    labels = probe_labels(generator.num_classes, n, z.device)
    try:
        with torch.no_grad():
            x = generator(z, labels) if labels is not None else generator(z)
    except ModelError:
        raise
    except Exception as exc:  # the user's code may raise anything
        message = " ".join(str(exc).split())[:300]
        raise ModelError(
            f"generator {spec} failed on a probe batch z [{n}, {generator.latent_dim}]: "
            f"{type(exc).__name__}: {message}"
        ) from None
    if not isinstance(x, torch.Tensor):
        raise ModelError(f"generator {spec} returned {type(x).__name__}, not a torch.Tensor")
    want = (n, *tuple(generator.image_shape))
    if tuple(x.shape) != want:
        raise ModelError(
            f"generator {spec} returned shape {list(x.shape)}, want {list(want)} [N, C, H, W]; "
            "fix its image_shape or its output"
        )
    if not x.dtype.is_floating_point:
        raise ModelError(
            f"generator {spec} returned dtype {x.dtype}; images must be floating point"
        )
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ModelError(f"generator {spec} returned {bad} non-finite values (NaN/inf) on a probe")
    low, high = float(x.min()), float(x.max())
    report = ProbeReport(tuple(x.shape), str(x.dtype).removeprefix("torch."), low, high)
    if low < -RANGE_TOLERANCE or high > RANGE_TOLERANCE:
        message = (
            f"generator {spec} output range [{low:.3g}, {high:.3g}] leaves [-1, 1]; ganprobe "
            "expects images in [-1, 1] (rescale its output)"
        )
        report.warnings.append(message)
        warnings.warn(message, RangeWarning, stacklevel=2)
    return report


def latent_spaces(generator: Any) -> list[str]:
    """Latent spaces the generator supports: 'z', plus 'w' and 'w+' when it has mapping,
    synthesis and num_ws."""
    spaces = ["z"]
    if all(hasattr(generator, a) for a in ("mapping", "synthesis", "num_ws")):
        spaces += ["w", "w+"]
    return spaces


def generator_info(generator: Any) -> dict[str, Any]:
    """Protocol fields as a plain dict: latent_dim, num_classes, image_shape, spaces (and
    num_ws / w_dim / parameters when known)."""
    info: dict[str, Any] = {
        "latent_dim": int(generator.latent_dim),
        "num_classes": int(generator.num_classes),
        "image_shape": [int(v) for v in generator.image_shape],
        "spaces": latent_spaces(generator),
    }
    if "w" in info["spaces"]:
        info["num_ws"] = int(generator.num_ws)
        w_dim = getattr(generator, "w_dim", None)
        if w_dim is not None:
            info["w_dim"] = int(w_dim)
    if hasattr(generator, "parameters"):
        info["parameters"] = int(sum(p.numel() for p in generator.parameters()))
    return info
