"""`python:` specs: import a factory and wrap the torch module it returns.

    python:pkg.module:factory        imported with importlib (pkg on PYTHONPATH)
    python:path/to/file.py:factory   loaded from the file (relative to the working directory)

The factory is called with no arguments and returns a torch.nn.Module (see module.py for the
attributes it declares).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from torch import nn

from ...errors import ModelError
from .module import ModuleGenerator, wrap_module


def _split(target: str) -> tuple[str, str]:
    source, sep, factory = target.rpartition(":")
    if not sep or not source or not factory.isidentifier():
        raise ModelError(
            f"python:{target} must be python:pkg.module:factory or python:path/file.py:factory"
        )
    return source, factory


def _import_source(source: str, spec: str):
    if source.endswith(".py") or "/" in source:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ModelError(f"{spec}: file {path} does not exist")
        name = f"_ganprobe_user_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ModelError(f"{spec}: cannot load {path} as a python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ModelError(
                f"{spec}: importing {path} failed: {type(exc).__name__}: {exc}"
            ) from None
        return module
    try:
        return importlib.import_module(source)
    except ImportError as exc:
        raise ModelError(
            f"{spec}: cannot import {source!r} ({exc}); put its package on PYTHONPATH"
        ) from None


def load_python(target: str, device: str = "cpu") -> ModuleGenerator:
    """Generator from `python:TARGET` (TARGET = 'pkg.module:factory' or 'file.py:factory')."""
    spec = f"python:{target}"
    source, factory_name = _split(target)
    factory = getattr(_import_source(source, spec), factory_name, None)
    if not callable(factory):
        raise ModelError(f"{spec}: {source} has no callable {factory_name!r}")
    try:
        module = factory()
    except Exception as exc:
        raise ModelError(f"{spec}: {factory_name}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(
            f"{spec}: {factory_name}() returned {type(module).__name__}, not a torch.nn.Module"
        )
    return wrap_module(module.to(device), spec)
