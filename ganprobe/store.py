"""Run directories: the full config with its hash, atomic result shards, resume.

Layout of a run directory::

    RUN/config.json          command, config, config_hash, seed, versions, created
    RUN/shards/NAME.npz      one finished shard of results (arrays), written atomically
    RUN/shards/manifest.json names of finished shards; a shard counts only once listed here
    RUN/*.csv, summary.json, *.png   tables, summary and figures
    RUN/timings.json         wall time per stage (seconds)

A shard is written to a temporary file, fsynced and renamed; only then is the manifest
(itself written atomically) updated. A crash therefore loses at most the shard being written,
and a resumed run recomputes exactly the shards missing from the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StoreError
from .utils import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    environment_info,
    to_jsonable,
)

CONFIG_FILE = "config.json"
MANIFEST = "manifest.json"


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(to_jsonable(dict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _differing_keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys if to_jsonable(a.get(k)) != to_jsonable(b.get(k))]


class RunStore:
    """A run directory bound to one command and config; see the module docstring."""

    def __init__(self, root: Path, command: str, config: dict[str, Any], seed: int | None) -> None:
        self.root = root
        self.command = command
        self.config = config
        self.seed = seed
        self.hash = config_hash({"command": command, "config": config, "seed": seed})

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        root: str | Path,
        command: str,
        config: Mapping[str, Any] | Any,
        seed: int | None = None,
    ) -> RunStore:
        """Create `root` or reopen it for resuming.

        `config` is a dict or a pydantic model (dumped in JSON mode). Reopening a directory
        whose config hash differs raises StoreError naming the differing keys.
        """
        if hasattr(config, "model_dump"):
            config = config.model_dump(mode="json")
        config = to_jsonable(dict(config))
        store = cls(Path(root), command, config, seed)
        path = store.root / CONFIG_FILE
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(
                    f"run directory {store.root} has an unreadable {CONFIG_FILE} ({exc}); "
                    "delete it or use another --out"
                ) from None
            if old.get("config_hash") != store.hash:
                diff = _differing_keys(old.get("config", {}), config)
                if old.get("command") != command:
                    diff.insert(0, "command")
                if old.get("seed") != seed:
                    diff.append("seed")
                raise StoreError(
                    f"run directory {store.root} holds a run of '{old.get('command')}' with "
                    f"another config (hash {old.get('config_hash')} != {store.hash}; differs in: "
                    f"{', '.join(diff) or 'unknown'}); use another --out or delete the directory"
                )
        else:
            if store.root.exists() and not store.root.is_dir():
                raise StoreError(f"--out {store.root} is a file; give a directory path")
            store.root.mkdir(parents=True, exist_ok=True)
            atomic_write_json(
                path,
                {
                    "command": command,
                    "config": config,
                    "config_hash": store.hash,
                    "seed": seed,
                    "versions": environment_info(),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                },
            )
        (store.root / "shards").mkdir(exist_ok=True)
        return store

    def path(self, name: str) -> Path:
        """Path of a file inside the run directory."""
        return self.root / name

    # ------------------------------------------------------------------ shards
    @property
    def _manifest_path(self) -> Path:
        return self.root / "shards" / MANIFEST

    def finished_shards(self) -> list[str]:
        """Names of the shards listed in the manifest, in the order they were finished."""
        if not self._manifest_path.exists():
            return []
        return list(json.loads(self._manifest_path.read_text())["finished"])

    def has_shard(self, name: str) -> bool:
        return name in self.finished_shards()

    def write_shard(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Atomically write a shard of named arrays and record it in the manifest."""
        if "/" in name or name == MANIFEST.removesuffix(".json"):
            raise ValueError(f"invalid shard name {name!r}")
        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        atomic_write_bytes(self.root / "shards" / f"{name}.npz", buffer.getvalue())
        finished = self.finished_shards()
        if name not in finished:
            finished.append(name)
        atomic_write_json(self._manifest_path, {"finished": finished})

    def read_shard(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.root / "shards" / f"{name}.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    # ------------------------------------------------------------------ results
    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path(name)
        atomic_write_json(path, obj)
        return path

    def read_json(self, name: str) -> Any:
        return json.loads(self.path(name).read_text())

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write summary.json (plain dict of results)."""
        return self.write_json("summary.json", summary)

    def write_csv(self, name: str, rows: Iterable[Mapping[str, Any]]) -> Path:
        """Write a list of dict rows as CSV (columns from the first row, in order)."""
        rows = [to_jsonable(dict(r)) for r in rows]
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        path = self.path(name)
        atomic_write_text(path, out.getvalue())
        return path

    def record_time(self, stage: str, seconds: float) -> None:
        """Add the wall time of a stage (seconds) to timings.json."""
        path = self.path("timings.json")
        timings = json.loads(path.read_text()) if path.exists() else {}
        timings[stage] = round(float(seconds), 3)
        atomic_write_json(path, timings)


class Timer:
    """Context manager measuring wall time; `with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
