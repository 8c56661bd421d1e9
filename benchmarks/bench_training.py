"""Benchmark: the demo's two GANs trained one after the other (all torch threads each) vs side
by side in two threads (half the torch threads each), as the demo's models stage does.

Both ways run in this one process on the same machine, so the printed ratio compares like with
like. Training uses the real loop (`ganprobe.train.gan.train_gan`) on Fashion-MNIST (or
`--data`), with the default DCGAN and `--steps` updates per model, into temporary folders.
Usage: python benchmarks/bench_training.py [--steps 300] [--data fashion-mnist:train]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from ganprobe.config import GanTrainSettings
from ganprobe.experiments.demo import train_all


def run(jobs: dict[str, GanTrainSettings], workers: int, root: Path) -> float:
    """Seconds to train every job into a fresh cache under `root`."""
    os.environ["GANPROBE_CACHE"] = str(root)
    start = time.perf_counter()
    train_all(jobs, workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--data", default="fashion-mnist:train")
    args = parser.parse_args()
    os.environ.setdefault("GANPROBE_NO_PROGRESS", "1")
    common = {"data": args.data, "steps": args.steps, "limit": 10000, "sample_every": 10**6}
    jobs = {
        "gan": GanTrainSettings(**common),
        "cgan": GanTrainSettings(**common, conditional=True),
    }
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as folder:
        sequential = run(jobs, 1, Path(folder) / "sequential")
        side_by_side = run(jobs, 2, Path(folder) / "side-by-side")
    updates = 2 * args.steps
    print(f"two DCGANs x {args.steps} updates (batch 64), {threads} torch threads in all")
    print(f"  one after the other ({threads} threads each)   {sequential:8.1f} s  "
          f"{updates / sequential:6.1f} updates/s")
    print(f"  side by side ({max(1, threads // 2)} thread(s) each)       {side_by_side:8.1f} s  "
          f"{updates / side_by_side:6.1f} updates/s")
    print(f"  speed-up of training side by side: {sequential / side_by_side:.2f}x")


if __name__ == "__main__":
    main()
