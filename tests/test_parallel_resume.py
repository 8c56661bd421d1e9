"""Sharded runs survive SIGKILL: the resumed result equals an uninterrupted run bit for bit,
and no shard is lost or duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganprobe.errors import StoreError
from ganprobe.parallel import run_sharded, shard_ranges
from ganprobe.store import RunStore
from tests.helpers.sharded_job import rows, run_job

HELPER = Path(__file__).parent / "helpers" / "sharded_job.py"
REPO = Path(__file__).resolve().parents[1]
N_ITEMS, SHARD_SIZE = 40, 4  # 10 shards
SHARDS = [f"rows-{i:05d}" for i in range(N_ITEMS // SHARD_SIZE)]


def start_job(out: Path, sleep_s: float, log: Path) -> subprocess.Popen:
    env = dict(os.environ, GANPROBE_NO_PROGRESS="1", PYTHONPATH=str(REPO))
    args = [str(out), str(N_ITEMS), str(SHARD_SIZE), str(sleep_s), str(log)]
    return subprocess.Popen([sys.executable, str(HELPER), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finished(out: Path) -> list[str]:
    manifest = out / "shards" / "manifest.json"
    return json.loads(manifest.read_text())["finished"] if manifest.exists() else []


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    reference = run_job(tmp_path / "reference", N_ITEMS, SHARD_SIZE)

    out = tmp_path / "killed"
    job = start_job(out, sleep_s=0.4, log=tmp_path / "first.log")
    deadline = time.monotonic() + 120
    while len(finished(out)) < 3:
        assert job.poll() is None, job.stderr.read().decode()
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    assert job.returncode == -signal.SIGKILL
    done_before = finished(out)
    assert 3 <= len(done_before) < len(SHARDS) and not (out / "result.npz").exists()

    resumed = start_job(out, sleep_s=0.0, log=tmp_path / "resume.log")
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()

    # the resume computed exactly the shards missing from the manifest, nothing twice
    starts = [int(line) for line in (tmp_path / "resume.log").read_text().split()]
    recomputed = sorted(f"rows-{s // SHARD_SIZE:05d}" for s in starts)
    assert recomputed == sorted(set(SHARDS) - set(done_before))
    # manifest: every shard exactly once; one file per shard, no temporary files left
    manifest = finished(out)
    assert sorted(manifest) == SHARDS and len(manifest) == len(set(manifest))
    files = sorted(p.name for p in (out / "shards").iterdir())
    assert files == sorted([f"{name}.npz" for name in SHARDS] + ["manifest.json"])
    # bit-for-bit equal to the uninterrupted run
    with np.load(out / "result.npz") as result:
        assert result["index"].tolist() == list(range(N_ITEMS))
        assert result["values"].dtype == reference["values"].dtype == np.float64
        assert result["values"].tobytes() == reference["values"].tobytes()


def test_resume_skips_finished_shards_in_process(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "job", {"n": 10})
    store.write_shard("rows-00001", rows(4, 8))
    calls: list[tuple[int, int]] = []

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        calls.append((start, stop))
        return rows(start, stop)

    result = run_sharded(store, "rows", 10, 4, compute)
    assert calls == [(0, 4), (8, 10)]
    assert result["values"].tobytes() == rows(0, 10)["values"].tobytes()
    assert shard_ranges(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_a_shard_with_the_wrong_row_count_is_rejected(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "job", {})
    with pytest.raises(ValueError, match="want 4 rows"):
        run_sharded(store, "rows", 4, 4, lambda start, stop: {"v": np.zeros(3)})
    assert store.finished_shards() == []


def test_resuming_with_another_shard_size_is_refused(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "job", {"n": 10})
    run_sharded(store, "rows", 10, 4, rows)
    with pytest.raises(StoreError, match="rows-00000 .* expects 5 rows .*another shard size"):
        run_sharded(store, "rows", 10, 5, rows)
