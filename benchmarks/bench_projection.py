"""Benchmark: batched projection vs one image at a time, and chunked 1-NN vs brute force.

Everything is measured in one run on the same machine, so the printed ratios compare like with
like. Usage: python benchmarks/bench_projection.py [--images 32] [--steps 20] [--restarts 2]
[--generator SPEC] (default: an untrained built-in DCGAN at 28x28, the default architecture).
"""

from __future__ import annotations

import argparse
import time

import torch

from ganprobe.config import ProjectionSettings
from ganprobe.inference.nn import nearest_neighbor_distance
from ganprobe.inference.projection import estimate_bytes_per_image, project


def _generator(spec: str | None):
    if spec:
        from ganprobe.models import load_generator

        return load_generator(spec)
    from ganprobe.models.dcgan import DCGANGenerator

    generator = DCGANGenerator().eval()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator


def bench_projection(generator, images: int, steps: int, restarts: int) -> None:
    settings = ProjectionSettings(restarts=restarts, steps=steps, tolerance=0.0)
    x = torch.rand(images, *generator.image_shape, generator=torch.Generator().manual_seed(0))
    x = x * 2 - 1
    start = time.perf_counter()
    batched = project(generator, x, settings)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    single = [project(generator, x[i:i + 1], settings, image_ids=torch.tensor([i]))
              for i in range(images)]
    single_s = time.perf_counter() - start
    max_diff = max(abs(float(s.l2[0] - batched.l2[i])) for i, s in enumerate(single))
    passes = images * restarts * (steps + 1)
    print(f"projection: {images} images x {restarts} restarts x {steps} steps")
    print(f"  batched       {batched_s:8.2f} s  {1e3 * batched_s / images:8.1f} ms/image  "
          f"{passes / batched_s:8.0f} G passes/s")
    print(f"  one at a time {single_s:8.2f} s  {1e3 * single_s / images:8.1f} ms/image  "
          f"{passes / single_s:8.0f} G passes/s")
    print(f"  speed-up of batching: {single_s / batched_s:.1f}x; "
          f"max |l2 batched - alone| = {max_diff:.2e}")
    per_image = estimate_bytes_per_image(generator, settings, None)
    print(f"  estimated peak memory per image: {per_image / 2**20:.2f} MB")


def bench_nn(queries: int, reference: int) -> None:
    gen = torch.Generator().manual_seed(1)
    q = torch.rand(queries, 1, 28, 28, generator=gen) * 2 - 1
    r = torch.rand(reference, 1, 28, 28, generator=gen) * 2 - 1
    start = time.perf_counter()
    distance, index = nearest_neighbor_distance(q, r, "l2", memory_budget_mb=64)
    chunked_s = time.perf_counter() - start
    start = time.perf_counter()
    flat = r.flatten(1).double()
    brute = torch.stack([(flat - v.double()).pow(2).sum(1) for v in q.flatten(1)])
    brute_index = brute.argmin(1)
    brute_s = time.perf_counter() - start
    same = bool(torch.equal(index, brute_index))
    print(f"1-NN l2: {queries} queries x {reference} references (28x28)")
    print(f"  chunked (float32 search + float64 check) {chunked_s:7.2f} s")
    print(f"  brute force float64                       {brute_s:7.2f} s")
    print(f"  speed-up {brute_s / chunked_s:.1f}x; identical neighbours: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--generator", default=None)
    parser.add_argument("--nn-queries", type=int, default=200)
    parser.add_argument("--nn-reference", type=int, default=5000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_projection(_generator(args.generator), args.images, args.steps, args.restarts)
    bench_nn(args.nn_queries, args.nn_reference)


if __name__ == "__main__":
    main()
