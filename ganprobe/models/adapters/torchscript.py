"""`torchscript:FILE`: a scripted or traced module saved with torch.jit.save.

Protocol attributes come from the file's extra file `ganprobe.json` when present (keys
latent_dim, num_classes, image_shape, latent_shape; traced modules lose Python attributes, so
save them there: torch.jit.save(m, f, _extra_files={"ganprobe.json": json.dumps({...})})),
otherwise from the scripted module's attributes (latent_dim or z_dim, ...), as for python:.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ...errors import ModelError
from .module import ModuleGenerator, wrap_module

METADATA = "ganprobe.json"


def load_torchscript(target: str, device: str = "cpu") -> ModuleGenerator:
    """Generator from a TorchScript file (see module docstring)."""
    spec = f"torchscript:{target}"
    path = Path(target).expanduser()
    if not path.is_file():
        raise ModelError(f"{spec}: file {path} does not exist")
    extra = {METADATA: ""}
    try:
        with warnings.catch_warnings():  # torch >= 2.9 marks TorchScript as deprecated
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    except Exception as exc:
        message = " ".join(str(exc).split())[:200]
        raise ModelError(
            f"{spec}: not a TorchScript file ({message}); save with torch.jit.save"
        ) from None
    declared = {}
    if extra[METADATA]:
        try:
            declared = json.loads(extra[METADATA])
        except json.JSONDecodeError as exc:
            raise ModelError(f"{spec}: its {METADATA} is not valid JSON ({exc})") from None
        if not isinstance(declared, dict):
            raise ModelError(f"{spec}: its {METADATA} must hold a JSON object")
    return wrap_module(module, spec, declared)
