"""Benchmark: how the demo's models stage trains its GANs, against the alternatives.

1. Memory layout: one DCGAN trained by the real loop (`ganprobe.train.gan.train_gan`) with
   NCHW convolution weights vs channels-last (ganprobe.models.dcgan.CONV_MEMORY_FORMAT), and
   generator forward + backward passes to z (the cost unit of projection and AIS) both ways;
   best of two alternating runs each.
2. Scheduling: the two GANs one after the other (all torch threads each) vs side by side in
   two threads (half the torch threads each), as `experiments.demo.train_all` can run them.

Everything runs in this one process on the same machine, so the printed ratios compare like
with like. Data: Fashion-MNIST (or `--data`), 10,000 images, the default DCGAN.
Usage: python benchmarks/bench_training.py [--steps 300] [--data fashion-mnist:train]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

import ganprobe.models.dcgan as dcgan
from ganprobe.config import GanTrainSettings
from ganprobe.experiments.demo import train_all


def train_seconds(jobs: dict[str, GanTrainSettings], workers: int, root: Path) -> float:
    """Seconds to train every job into a fresh cache under `root`."""
    os.environ["GANPROBE_CACHE"] = str(root)
    start = time.perf_counter()
    train_all(jobs, workers=workers)
    return time.perf_counter() - start


def generator_passes_per_second(batch: int = 64, repeats: int = 50) -> float:
    """Image-passes per second of G forward + backward to z (untrained default DCGAN)."""
    generator = dcgan.DCGANGenerator().eval().requires_grad_(False)
    z = torch.randn(batch, generator.latent_dim, generator=torch.Generator().manual_seed(0))

    def one_pass() -> None:
        latent = z.clone().requires_grad_(True)
        torch.autograd.grad(generator(latent).pow(2).sum(), latent)

    for _ in range(5):
        one_pass()
    start = time.perf_counter()
    for _ in range(repeats):
        one_pass()
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--data", default="fashion-mnist:train")
    args = parser.parse_args()
    os.environ.setdefault("GANPROBE_NO_PROGRESS", "1")
    common = {"data": args.data, "steps": args.steps, "limit": 10000, "sample_every": 10**6}
    gan = {"gan": GanTrainSettings(**common)}
    both = {**gan, "cgan": GanTrainSettings(**common, conditional=True)}
    threads = torch.get_num_threads()
    layouts = {"NCHW": torch.contiguous_format, "channels-last": torch.channels_last}
    seconds, passes = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(2):  # alternate the layouts and keep each one's best time
            for name, layout in layouts.items():
                dcgan.CONV_MEMORY_FORMAT = layout
                elapsed = train_seconds(gan, 1, Path(folder) / f"{name}-{attempt}")
                seconds[name] = min(seconds.get(name, elapsed), elapsed)
                passes[name] = max(passes.get(name, 0.0), generator_passes_per_second())
        dcgan.CONV_MEMORY_FORMAT = torch.channels_last
        sequential = train_seconds(both, 1, Path(folder) / "sequential")
        side_by_side = train_seconds(both, 2, Path(folder) / "side-by-side")
    print(f"DCGAN, {args.steps} updates at batch 64, {threads} torch threads")
    for name in layouts:
        print(f"  {name:14s} {args.steps / seconds[name]:6.1f} updates/s   "
              f"G forward+backward {passes[name]:7.0f} image-passes/s")
    print(f"  speed-up of channels-last: training {seconds['NCHW'] / seconds['channels-last']:.2f}x"
          f", generator passes {passes['channels-last'] / passes['NCHW']:.2f}x")
    updates = 2 * args.steps
    print(f"two DCGANs (gan, cgan), channels-last, {threads} torch threads in all")
    print(f"  one after the other ({threads} threads each)   {updates / sequential:6.1f} updates/s")
    print(f"  side by side ({max(1, threads // 2)} thread(s) each)       "
          f"{updates / side_by_side:6.1f} updates/s")
    print(f"  speed-up of training side by side: {sequential / side_by_side:.2f}x")


if __name__ == "__main__":
    main()
