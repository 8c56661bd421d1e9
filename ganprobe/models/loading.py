"""`load_generator(spec)`: one entry point from a spec string to a checked Generator.

Specs (see DESIGN.md):
    builtin:RUN_DIR                  ganprobe's own checkpoint (JSON + safetensors; no pickle)
    python:pkg.module:factory        a factory returning a torch module
    python:path/file.py:factory
    torchscript:FILE                 a scripted / traced module (attributes as for python:)
    stylegan:FILE.pkl                NVIDIA StyleGAN2-ADA / 3 / XL pickle (needs trust_pickle)
    biggan:NAME                      pytorch-pretrained-biggan (e.g. biggan-deep-128)

Every loaded generator is put in eval mode with its parameters frozen, then checked by one
probe batch (ganprobe.models.checks.probe_generator).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .checks import probe_generator

KINDS = ("builtin", "python", "torchscript", "stylegan", "biggan")


def parse_spec(spec: str) -> tuple[str, str]:
    """'kind:target' -> (kind, target); refuses unknown kinds with the list of known ones."""
    kind, sep, target = spec.partition(":")
    if not sep or kind not in KINDS or not target:
        raise ModelError(
            f"generator spec {spec!r} not understood; use one of "
            + ", ".join(f"{k}:..." for k in KINDS)
        )
    return kind, target


def _load_builtin(target: str, device: str, trust_pickle: bool, options: dict[str, Any]) -> Any:
    from .dcgan import load_generator_dir

    return load_generator_dir(Path(target).expanduser(), device=device)


def _load_python(target: str, device: str, trust_pickle: bool, options: dict[str, Any]) -> Any:
    from .adapters.python_spec import load_python

    return load_python(target, device=device)


def _load_torchscript(target: str, device: str, trust_pickle: bool, options: dict[str, Any]) -> Any:
    from .adapters.torchscript import load_torchscript

    return load_torchscript(target, device=device)


def _load_stylegan(target: str, device: str, trust_pickle: bool, options: dict[str, Any]) -> Any:
    from .adapters.stylegan import load_stylegan

    return load_stylegan(target, device=device, trust_pickle=trust_pickle)


def _load_biggan(target: str, device: str, trust_pickle: bool, options: dict[str, Any]) -> Any:
    from .adapters.biggan import load_biggan

    return load_biggan(target, device=device, truncation=options.get("truncation", 1.0))


_LOADERS: dict[str, Callable[[str, str, bool, dict[str, Any]], Any]] = {
    "builtin": _load_builtin,
    "python": _load_python,
    "torchscript": _load_torchscript,
    "stylegan": _load_stylegan,
    "biggan": _load_biggan,
}


def load_generator(
    spec: str,
    device: str = "cpu",
    trust_pickle: bool = False,
    truncation: float = 1.0,
    probe: bool = True,
) -> Any:
    """Load the generator named by `spec` on `device` (eval mode, parameters frozen) and check
    it with one probe batch. `trust_pickle` must be True for stylegan: pickles (they run code);
    `truncation` applies to biggan: only. Raises ModelError with a one-line message."""
    kind, target = parse_spec(spec)
    generator = _LOADERS[kind](target, device, trust_pickle, {"truncation": truncation})
    if hasattr(generator, "eval"):
        generator.eval()
    if hasattr(generator, "requires_grad_"):
        generator.requires_grad_(False)
    if probe:
        probe_generator(generator, spec)
    return generator
