"""Print the table of docs/results.md "Validation against exact answers": AIS at its default
settings against closed forms, on the cases that tests/test_ais.py pins (linear-Gaussian
generators, exact by Cholesky; tanh(Az + c) with a 2-D latent, exact by dense quadrature) and on
a prior-start run (no Laplace start: the annealing alone).

Usage (from the repository root): python scripts/ais_validation_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganprobe.config import AISSettings  # noqa: E402
from tests.test_ais import (  # noqa: E402
    LinearGenerator,
    TanhGenerator,
    estimate,
    quadrature_log_px,
)

LINEAR = [(2, 16, 0.1), (8, 64, 0.3), (4, 144, 0.05), (12, 400, 0.2), (16, 784, 0.05)]
NONLINEAR = [(16, 0.2), (32, 0.05)]
PRIOR_START = AISSettings(start="prior", temperatures=200, leapfrog=3, chains=8)


def row(name: str, latent: int, dim: int, sigma: float, start: str, error: torch.Tensor) -> str:
    error = error.abs()
    return (f"| {name} | {start} | {latent} | {dim} | {sigma:g} | {error.numel()} | "
            f"{float(error.mean()):.2g} | {float(error.max()):.2g} |")


def main() -> None:
    print("| generator (exact by) | start | latent | D | sigma | images | mean abs error (nats) "
          "| max abs error |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for latent, dim, sigma in LINEAR:
        model = LinearGenerator(latent, dim, seed=latent + dim)
        x = model.sample(4, sigma, seed=1)
        error = estimate(model, x, sigma, AISSettings()).log_px - model.exact_log_px(x, sigma)
        print(row("linear (Cholesky)", latent, dim, sigma, "Laplace", error))
    model, sigma = LinearGenerator(2, 16, seed=3), 0.3
    x = model.sample(4, sigma, seed=4)
    error = estimate(model, x, sigma, PRIOR_START).log_px - model.exact_log_px(x, sigma)
    print(row("linear (Cholesky)", 2, 16, sigma, "prior, 200 temperatures", error))
    for dim, sigma in NONLINEAR:
        model = TanhGenerator(dim, seed=dim)
        generator = torch.Generator().manual_seed(11)
        z = torch.randn(3, 2, generator=generator, dtype=torch.float64)
        noise = torch.randn(3, dim, generator=generator, dtype=torch.float64)
        x = (model.mean64(z) + sigma * noise).float().view(3, 1, 1, dim)
        exact = quadrature_log_px(model, x, sigma)
        for name, settings in (("Laplace", AISSettings()), ("prior, 200 temperatures",
                                                             PRIOR_START)):
            error = estimate(model, x, sigma, settings).log_px - exact
            print(row("tanh(Az + c) (quadrature)", 2, dim, sigma, name, error))


if __name__ == "__main__":
    main()
