"""A deterministic sharded computation, run as a subprocess by the resume tests.

    python tests/helpers/sharded_job.py OUT N_ITEMS SHARD_SIZE SLEEP_S LOG

Computes `rows(start, stop)` for items 0..N_ITEMS-1 through ganprobe.parallel.run_sharded into
the run directory OUT, sleeping SLEEP_S per shard (so a test can kill it mid-run) and appending
the start index of every shard it computes to LOG; writes OUT/result.npz when done.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from ganprobe.parallel import run_sharded
from ganprobe.store import RunStore


def rows(start: int, stop: int) -> dict[str, np.ndarray]:
    """values float64 [stop-start, 16]: a fixed function of each item's own seeded draws."""
    values = []
    for item in range(start, stop):
        draw = np.random.default_rng([1234, item]).normal(size=16)
        values.append(np.cumsum(np.sin(draw) * np.exp(draw / 3.0)))
    return {"values": np.stack(values), "index": np.arange(start, stop)}


def run_job(out: Path, n_items: int, shard_size: int, sleep_s: float = 0.0,
            log: Path | None = None) -> dict[str, np.ndarray]:
    """Run (or resume) the job in `out`; returns the concatenated arrays."""
    store = RunStore.open(out, "sharded-job", {"n_items": n_items, "shard_size": shard_size},
                          seed=1234)

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        if log is not None:
            with open(log, "a") as handle:
                handle.write(f"{start}\n")
                handle.flush()
                os.fsync(handle.fileno())
        time.sleep(sleep_s)
        return rows(start, stop)

    return run_sharded(store, "rows", n_items, shard_size, compute)


if __name__ == "__main__":
    out_dir, n, size, sleep, log_path = sys.argv[1:6]
    result = run_job(Path(out_dir), int(n), int(size), float(sleep), Path(log_path))
    np.savez(Path(out_dir) / "result.npz", **result)
