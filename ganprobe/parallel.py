"""Sharded execution: split N items into shards, compute missing shards, store each atomically.

`run_sharded` is the one loop every long computation goes through: finished shards (listed in
the run store's manifest) are skipped, so a killed run resumes where it stopped. The `local`
backend runs shards in this process; the `ray` backend (extra `ray`) runs them as Ray tasks,
on one machine or a cluster (`ray.init(address=...)` before calling), and writes each result
through the store in the driver as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .errors import GanprobeError, StoreError
from .progress import make_progress
from .store import RunStore
from .utils import raise_if_stop_requested

ShardFn = Callable[[int, int], Mapping[str, np.ndarray]]


def shard_ranges(n_items: int, shard_size: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering range(n_items) in shards of at most `shard_size`."""
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    return [(s, min(s + shard_size, n_items)) for s in range(0, n_items, shard_size)]


def run_sharded(
    store: RunStore,
    prefix: str,
    n_items: int,
    shard_size: int,
    compute: ShardFn,
    description: str = "",
    backend: str = "local",
) -> dict[str, np.ndarray]:
    """Compute `compute(start, stop)` for every shard not yet finished; return all shards'
    arrays concatenated along axis 0 in item order.

    compute(start, stop) must return a mapping of arrays whose first axis has stop - start rows.
    Shards are named f"{prefix}-{index:05d}".
    """
    ranges = shard_ranges(n_items, shard_size)
    names = [f"{prefix}-{i:05d}" for i in range(len(ranges))]
    finished = set(store.finished_shards())
    todo = [(name, r) for name, r in zip(names, ranges, strict=True) if name not in finished]
    with make_progress() as progress:
        task = progress.add_task(
            description or prefix, total=len(ranges), completed=len(ranges) - len(todo), info=""
        )
        if backend == "local":
            for name, (start, stop) in todo:
                raise_if_stop_requested()
                store.write_shard(name, _check_shard(compute(start, stop), stop - start, name))
                progress.advance(task)
        elif backend == "ray":
            _run_ray(store, todo, compute, lambda: progress.advance(task))
        else:
            raise GanprobeError(f"unknown backend {backend!r}; use 'local' or 'ray'")
    shards = [store.read_shard(name) for name in names]
    for name, (start, stop), shard in zip(names, ranges, shards, strict=True):
        _check_stored_shard(store, name, shard, stop - start, shards[0])
    if not shards:
        return {}
    return {key: np.concatenate([s[key] for s in shards], axis=0) for key in shards[0]}


def _check_shard(arrays: Mapping[str, np.ndarray], rows: int, name: str) -> dict[str, np.ndarray]:
    out = {k: np.asarray(v) for k, v in arrays.items()}
    for key, value in out.items():
        if value.ndim == 0 or value.shape[0] != rows:
            raise ValueError(f"shard {name}: {key!r} has shape {value.shape}, want {rows} rows")
    return out


def _check_stored_shard(
    store: RunStore, name: str, shard: Mapping[str, np.ndarray], rows: int, first: Mapping
) -> None:
    """A finished shard from an earlier (resumed) run must match this run's split into shards:
    same arrays as the first shard, `rows` rows each; else StoreError (the run directory was
    made with another shard size or item count, which the config hash may not cover)."""
    if set(shard) != set(first) or any(v.shape[0] != rows for v in shard.values()):
        found = {k: tuple(v.shape) for k, v in shard.items()}
        raise StoreError(
            f"shard {name} in {store.root} holds arrays {found}, this run expects {rows} rows "
            f"of {sorted(first)}; it was made with another shard size or item count: use "
            "another --out or delete the directory"
        )


def _run_ray(store: RunStore, todo: list, compute: ShardFn, advance: Callable[[], None]) -> None:
    try:
        import ray
    except ImportError:
        raise GanprobeError(
            "backend 'ray' needs the ray package: pip install 'ganprobe[ray]'"
        ) from None
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(lambda start, stop: dict(compute(start, stop)))
    pending = {remote.remote(start, stop): (name, stop - start) for name, (start, stop) in todo}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        name, rows = pending.pop(done[0])
        store.write_shard(name, _check_shard(ray.get(done[0]), rows, name))
        advance()
