"""Print how far a projection on real images moves between batch sizes (docs/results.md,
"Batch invariance and float rounding"): the first 8 of 64 Fashion-MNIST test images projected
inside the batch of 64 and alone, default ProjectionSettings, same seeds and image ids; and the
largest difference of the generator's output between batch sizes 64 and 1.

Usage (from the repository root): python scripts/batch_invariance.py [GENERATOR_SPEC]
(default builtin:runs/models/gan, docs/models.md says how to make it)
"""

from __future__ import annotations

import sys

import torch

from ganprobe.data import load_images
from ganprobe.inference.projection import project
from ganprobe.models import load_generator

ALONE = 8


def main(spec: str) -> None:
    generator = load_generator(spec)
    images = load_images("fashion-mnist:test", limit=64, seed=0).images
    ids = torch.arange(len(images))
    batch = project(generator, images, seed=0, image_ids=ids)
    print("| image | rmse in the batch of 64 | rmse alone | difference |")
    print("|---:|---:|---:|---:|")
    for i in range(ALONE):
        alone = project(generator, images[i : i + 1], seed=0, image_ids=ids[i : i + 1])
        together, single = float(batch.rmse[i]), float(alone.rmse[0])
        print(f"| {i} | {together:.4f} | {single:.4f} | {abs(together - single):.1e} |")
    with torch.no_grad():
        z = generator.sample_latent(64, torch.Generator().manual_seed(1))
        difference = generator(z) - torch.cat([generator(z[i : i + 1]) for i in range(64)])
    print(f"largest output difference, batch 64 vs 1: {float(difference.abs().max()):.1e}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "builtin:runs/models/gan")
