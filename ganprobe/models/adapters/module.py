"""`ModuleGenerator`: the Generator protocol around any torch module mapping z to images.

The module declares its latent size as `latent_dim` (or `z_dim`, StyleGAN naming), optionally
`num_classes` (or `c_dim`), `image_shape` (C, H, W) and `latent_shape` (e.g. (d, 1, 1) for a
forward that wants z as [N, d, 1, 1]). Conditional modules are called as module(z, c) with
int64 labels c [N]. When the module has `mapping`, `synthesis` and `num_ws` they are exposed
for the w and w+ spaces. A missing image_shape is read off one forward pass. `declared`
values (e.g. from a TorchScript file's metadata) take precedence over module attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ...errors import ModelError
from ...utils import torch_generator
from ..protocol import GaussianPriorMixin


def _int_attribute(
    module: Any, names: tuple[str, ...], default: int | None, declared: Mapping[str, Any]
) -> int | None:
    for name in names:
        value = declared.get(name, getattr(module, name, None))
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ModelError(f"attribute {name}={value!r} must be an int") from None
    return default


class ModuleGenerator(GaussianPriorMixin, nn.Module):
    """Generator protocol around `module` (see module docstring); `spec` names it in errors.

    z [N, latent_dim] ~ N(0, I); __call__(z, c) -> module(z reshaped to latent_shape, c).
    """

    def __init__(
        self, module: nn.Module, spec: str, declared: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        declared = dict(declared or {})
        if not callable(module):
            raise ModelError(f"{spec} gave a {type(module).__name__}, not a callable torch module")
        self.module = module
        self.spec = spec
        latent_dim = _int_attribute(module, ("latent_dim", "z_dim"), None, declared)
        if latent_dim is None or latent_dim < 1:
            raise ModelError(
                f"{spec}: the module needs a positive int attribute latent_dim (or z_dim)"
            )
        self.latent_dim = latent_dim
        self.num_classes = _int_attribute(module, ("num_classes", "c_dim"), 0, declared) or 0
        latent_shape = declared.get("latent_shape", getattr(module, "latent_shape", None))
        self.latent_shape = tuple(int(v) for v in latent_shape) if latent_shape else None
        if self.latent_shape and math.prod(self.latent_shape) != latent_dim:
            raise ModelError(
                f"{spec}: latent_shape {self.latent_shape} does not hold latent_dim={latent_dim}"
            )
        if all(hasattr(module, a) for a in ("mapping", "synthesis", "num_ws")):
            self.num_ws = int(module.num_ws)
            w_dim = getattr(module, "w_dim", None)
            if w_dim is not None:
                self.w_dim = int(w_dim)
            if getattr(module, "w_avg", None) is not None:
                self.w_avg = module.w_avg
        shape = declared.get("image_shape", getattr(module, "image_shape", None))
        self.image_shape = tuple(int(v) for v in shape) if shape else self._infer_image_shape()

    def _latent_device(self) -> torch.device:
        for tensor in list(self.module.parameters()) + list(self.module.buffers()):
            return tensor.device
        return torch.device("cpu")

    def _infer_image_shape(self) -> tuple[int, int, int]:
        z = self.sample_latent(1, torch_generator(0))
        c = torch.zeros(1, dtype=torch.int64, device=z.device) if self.num_classes else None
        try:
            with torch.no_grad():
                x = self.forward(z, c)
        except Exception as exc:
            message = " ".join(str(exc).split())[:300]
            raise ModelError(
                f"{self.spec} failed on one latent [1, {self.latent_dim}]: "
                f"{type(exc).__name__}: {message}"
            ) from None
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ModelError(f"{self.spec} must return images [N, C, H, W] (got {got})")
        return tuple(int(v) for v in x.shape[1:])  # type: ignore[return-value]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, latent_dim], c int64 [N] (conditional only) -> images [N, C, H, W]."""
        if self.latent_shape:
            z = z.reshape(z.shape[0], *self.latent_shape)
        if self.num_classes:
            if c is None:
                raise ModelError(f"{self.spec} is class-conditional; pass class labels c")
            return self.module(z, c)
        return self.module(z)


class MappedModuleGenerator(ModuleGenerator):
    """ModuleGenerator for modules with mapping / synthesis / num_ws (w and w+ spaces)."""

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, latent_dim] (and labels c [N]) -> w as the module's mapping returns it."""
        return self.module.mapping(z, c) if self.num_classes else self.module.mapping(z)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images [N, C, H, W]."""
        return self.module.synthesis(ws)


def wrap_module(
    module: nn.Module, spec: str, declared: Mapping[str, Any] | None = None
) -> ModuleGenerator:
    """The right ModuleGenerator for `module`: with w / w+ spaces when it has mapping,
    synthesis and num_ws."""
    if all(hasattr(module, a) for a in ("mapping", "synthesis", "num_ws")):
        return MappedModuleGenerator(module, spec, declared)
    return ModuleGenerator(module, spec, declared)
