"""Small shared helpers: seeding, devices, atomic file writes, environment versions."""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

GLOBAL_RNG_LOCK = threading.RLock()
"""Held while a block seeds and draws from the process-wide random generators."""


@contextmanager
def global_rng_seeded(seed: int) -> Iterator[None]:
    """Seed python, numpy and torch's global generators with `seed` and hold them for the block
    (module construction draws its initial weights from them). The lock keeps a concurrent
    thread from drawing in between, so models built in parallel threads get the same weights
    as models built alone."""
    with GLOBAL_RNG_LOCK:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        yield


STOP_REQUESTED = threading.Event()
"""Set (by the thread that caught Ctrl-C) to stop long loops running in other threads."""


def raise_if_stop_requested() -> None:
    """Called once per step by long loops: raises KeyboardInterrupt when STOP_REQUESTED is set,
    so loops in worker threads stop at a step boundary (their checkpoints stay valid)."""
    if STOP_REQUESTED.is_set():
        raise KeyboardInterrupt("stop requested")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (a process-wide setting), then restore
    the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on `device` seeded with `seed`."""
    return torch.Generator(device=device).manual_seed(int(seed))


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; otherwise torch.device(device)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temporary file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomic text write (UTF-8); see `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy / torch scalars and arrays, Paths and tuples into JSON-serialisable values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().numpy())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Atomic JSON write with sorted keys and indentation."""
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def environment_info() -> dict[str, str]:
    """Versions of python, ganprobe and the main dependencies, plus the hardware."""
    import importlib.metadata as md

    info = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("ganprobe", "torch", "numpy", "scipy", "scikit-learn", "zuko", "lpips"):
        try:
            info[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    info["cpu_count"] = str(os.cpu_count())
    info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return info
