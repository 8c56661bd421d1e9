"""Model cache: trained models live in run directories named by their config hash, so the demo
(and anyone) reuses a model trained with the same settings instead of training it again.

Root: $GANPROBE_CACHE, else ~/.cache/ganprobe. A model counts as cached once its run directory
holds the file DONE (written last, atomically, by `cached_run`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..store import config_hash
from ..utils import atomic_write_text

DONE = "DONE"


def cache_root() -> Path:
    """$GANPROBE_CACHE or ~/.cache/ganprobe."""
    root = os.environ.get("GANPROBE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "ganprobe"


def cached_run(
    kind: str,
    settings: Mapping[str, Any] | Any,
    train: Callable[[Path], Any],
    root: Path | None = None,
) -> Path:
    """Return the run directory of `kind` trained with `settings`, calling `train(run_dir)`
    first when it is not cached yet. `train` may resume from what a killed earlier call left."""
    if hasattr(settings, "model_dump"):
        settings = settings.model_dump(mode="json")
    run_dir = (root or cache_root()) / "models" / f"{kind}-{config_hash(dict(settings))}"
    if not (run_dir / DONE).exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        train(run_dir)
        atomic_write_text(run_dir / DONE, "ok\n")
    return run_dir
