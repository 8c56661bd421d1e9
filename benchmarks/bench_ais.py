"""AIS benchmarks, ratios side by side in one run (CPU; `python benchmarks/bench_ais.py`).

1. Batched chains: K chains per image in one generator batch [N * K] against K separate runs of
   one chain each (same work), with the built-in DCGAN architecture at 28x28.
2. Start distribution at equal accuracy: on a linear-Gaussian generator (exact log_px known),
   the Laplace start at default settings against the prior start with the fewest temperatures
   (from a doubling ladder) that reaches the same mean absolute error.
3. Cost per image of `ais_log_px` with the DCGAN at the default and the quick settings, and
   the generator throughput in image-passes (forward + backward) per second at batch 64.

Options: --quick (smaller sizes), --json PATH (write the numbers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganprobe.config import AISSettings  # noqa: E402
from ganprobe.inference.ais import ais_log_px, gaussian_log_likelihood  # noqa: E402
from ganprobe.models.dcgan import DCGANGenerator  # noqa: E402
from ganprobe.models.protocol import standard_normal_log_prior  # noqa: E402


def dcgan() -> DCGANGenerator:
    """The built-in DCGAN (default architecture: latent 64, width 32) at 1x28x28, eval mode.
    Untrained weights: the cost of a pass does not depend on training."""
    torch.manual_seed(0)
    model = DCGANGenerator().eval()
    model.requires_grad_(False)
    return model


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def passes_per_second(model: DCGANGenerator, batch: int = 64, repeats: int = 5) -> float:
    """Image-passes per second: forward + backward to z, batch of `batch`."""
    z = torch.randn(batch, model.latent_dim, requires_grad=True)

    def one() -> None:
        torch.autograd.grad(model(z).sum(), z)

    one()
    seconds, _ = timed(lambda: [one() for _ in range(repeats)])
    return batch * repeats / seconds


def batched_vs_looped(model: DCGANGenerator, images: int, chains: int) -> dict[str, float]:
    x = model(torch.randn(images, model.latent_dim)).detach()
    log_likelihood = gaussian_log_likelihood(model, 0.1)
    settings = AISSettings(chains=chains, temperatures=10, leapfrog=3, start="prior")
    one_chain = settings.model_copy(update={"chains": 1})

    def batched():
        return ais_log_px(standard_normal_log_prior, log_likelihood, model.latent_dim, x,
                          settings, torch.Generator().manual_seed(0))

    def looped():
        return [ais_log_px(standard_normal_log_prior, log_likelihood, model.latent_dim, x,
                           one_chain, torch.Generator().manual_seed(k)) for k in range(chains)]

    t_batched, _ = timed(batched)
    t_looped, _ = timed(looped)
    return {"batched_s": t_batched, "looped_s": t_looped, "speedup": t_looped / t_batched}


def linear_problem(latent_dim: int, dim: int, sigma: float, images: int):
    rng = torch.Generator().manual_seed(0)
    weight = torch.randn(dim, latent_dim, generator=rng, dtype=torch.float64)
    weight *= 0.5 / math.sqrt(latent_dim)
    bias = 0.1 * torch.randn(dim, generator=rng, dtype=torch.float64)
    z = torch.randn(images, latent_dim, generator=rng, dtype=torch.float64)
    x = z @ weight.T + bias + sigma * torch.randn(images, dim, generator=rng, dtype=torch.float64)
    covariance = weight @ weight.T + sigma**2 * torch.eye(dim, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(bias, covariance).log_prob(x)

    def model(z: torch.Tensor) -> torch.Tensor:
        return (z.double() @ weight.T + bias).float().view(-1, 1, dim, 1)

    return model, x.float().view(images, 1, dim, 1), exact


def start_at_equal_accuracy(latent_dim: int, dim: int, sigma: float, images: int,
                            max_temperatures: int) -> dict[str, float]:
    model, x, exact = linear_problem(latent_dim, dim, sigma, images)
    log_likelihood = gaussian_log_likelihood(model, sigma)

    def run(settings: AISSettings) -> tuple[float, float]:
        seconds, result = timed(lambda: ais_log_px(
            standard_normal_log_prior, log_likelihood, latent_dim, x, settings,
            torch.Generator().manual_seed(1)))
        return seconds, float((result.log_px - exact).abs().mean())

    t_laplace, err_laplace = run(AISSettings())
    target = max(err_laplace, 0.5)
    temperatures, t_prior, err_prior = 100, math.nan, math.inf
    ladder = 100
    while ladder <= max_temperatures and err_prior > target:
        temperatures = ladder
        t_prior, err_prior = run(AISSettings(start="prior", temperatures=temperatures))
        ladder *= 2
    return {
        "latent_dim": latent_dim, "dim": dim, "sigma": sigma,
        "laplace_s": t_laplace, "laplace_mean_abs_error": err_laplace,
        "prior_temperatures": temperatures, "prior_s": t_prior,
        "prior_mean_abs_error": err_prior, "reached": err_prior <= target,
        "time_ratio_prior_over_laplace": t_prior / t_laplace,
    }


def cost_per_image(model: DCGANGenerator, settings: AISSettings, images: int) -> float:
    x = model(torch.randn(images, model.latent_dim)).detach()
    x = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    seconds, _ = timed(lambda: ais_log_px(
        model.log_prior, gaussian_log_likelihood(model, 0.1), model.latent_dim, x, settings,
        torch.Generator().manual_seed(0)))
    return seconds / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = dcgan()
    results = {"threads": torch.get_num_threads()}
    results["dcgan_passes_per_s"] = passes_per_second(model)
    print(f"DCGAN forward+backward: {results['dcgan_passes_per_s']:.0f} image-passes/s")
    results["batched_vs_looped"] = batched_vs_looped(model, 4 if args.quick else 8, 8)
    b = results["batched_vs_looped"]
    print(f"8 chains batched {b['batched_s']:.2f} s vs looped {b['looped_s']:.2f} s: "
          f"{b['speedup']:.1f}x")
    case = (8, 256, 0.1) if args.quick else (16, 784, 0.1)
    results["start"] = start_at_equal_accuracy(*case, images=4,
                                               max_temperatures=1600 if args.quick else 6400)
    s = results["start"]
    print(f"linear d={s['latent_dim']} D={s['dim']} sigma={s['sigma']}: laplace "
          f"{s['laplace_s']:.2f} s (|err| {s['laplace_mean_abs_error']:.3f}) vs prior "
          f"T={s['prior_temperatures']} {s['prior_s']:.2f} s (|err| "
          f"{s['prior_mean_abs_error']:.3f}): {s['time_ratio_prior_over_laplace']:.1f}x"
          + ("" if s["reached"] else " (prior start never reached the accuracy: lower bound)"))
    for name, settings in (("default", AISSettings()), ("quick", AISSettings.quick())):
        seconds = cost_per_image(model, settings, 4 if args.quick else 8)
        results[f"dcgan_s_per_image_{name}"] = seconds
        print(f"DCGAN AIS {name} settings: {seconds:.2f} s per image")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
