"""`ganprobe typicality`: are data groups in the typical set of a generator's density p_sigma?

Steps (each resumable through run_sharded; shards hold per-image results):
1. `samples` draws x = G(z) + sigma * eps, z ~ p(z), eps ~ N(0, I) (seeded), and their AIS
   log_px: the distribution of log-likelihoods of typical samples; H_hat = -mean.
2. Each data group: AIS log_px of its images (same sigma, same AIS settings).
3. Statistics (ganprobe.inference.typicality): fraction inside the epsilon-typical band, the
   Nalisnick et al. (2019) batch test for each M, KS two-sample test against the samples.
4. Latent view: projected latents of each group (ganprobe.inference.projection), norms against
   chi(latent_dim) by KS.

Outputs in `out`: config.json, log_px.csv (one row per image), summary.json, log_px_hist.png,
latent_norms.png, timings.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import TypicalitySettings
from ..data import load_images
from ..errors import GanprobeError
from ..inference.ais import ais_log_px, gaussian_log_likelihood
from ..inference.projection import project
from ..inference.typicality import (
    chi_mean,
    chi_norm_test,
    fraction_in_band,
    ks_two_sample,
    typical_band,
    typicality_test,
)
from ..models.loading import load_generator
from ..parallel import run_sharded
from ..report.typicality_figures import latent_norm_histograms, log_px_histograms
from ..store import RunStore, Timer
from ..units import bits_per_dim
from ..utils import resolve_device, torch_generator
from ._common import shard_seed

SAMPLES = "model samples"


def draw_samples(
    generator: Any, sigma: float, count: int, seed: int, device: torch.device
) -> torch.Tensor:
    """x = G(z) + sigma * eps for `count` draws z ~ p(z), eps ~ N(0, I): [count, C, H, W]
    (CPU), from a torch.Generator seeded with `seed` (the same draws whatever the device)."""
    rng = torch_generator(seed)
    z = generator.sample_latent(count, generator=rng).to(device)
    eps = torch.randn((count, *generator.image_shape), generator=rng)
    with torch.no_grad():
        means = torch.cat([generator(chunk).cpu() for chunk in z.split(256)])
    return means + sigma * eps


def _ais_shard_fn(
    generator: Any, x: torch.Tensor, settings: TypicalitySettings, name: str,
    device: torch.device,
):
    log_likelihood = gaussian_log_likelihood(generator, settings.sigma)

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        rng = torch_generator(shard_seed(settings.seed, name, start))
        result = ais_log_px(
            generator.log_prior, log_likelihood, generator.latent_dim,
            x[start:stop].to(device), settings.ais, generator=rng,
        )
        return {
            "log_px": result.log_px.numpy(),
            "ess": result.ess.numpy(),
            "acceptance": result.acceptance.numpy(),
        }

    return compute


def _latent_shard_fn(
    generator: Any, x: torch.Tensor, settings: TypicalitySettings, name: str,
    device: torch.device,
):
    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        result = project(
            generator, x[start:stop].to(device), settings.projection,
            seed=shard_seed(settings.seed, name, 0),
            image_ids=torch.arange(start, stop, dtype=torch.int64),
        )
        latents = result.latents.reshape(stop - start, -1).double()
        return {"latent_norm": latents.norm(dim=1).numpy(), "rmse": result.rmse.numpy()}

    return compute


def _group_statistics(
    log_px: np.ndarray, sample_log_px: np.ndarray, settings: TypicalitySettings, dim: int, band
) -> dict[str, Any]:
    ks_statistic, ks_pvalue = ks_two_sample(log_px, sample_log_px)
    reject_rate, thresholds = {}, {}
    for batch_size in settings.batch_sizes:
        test = typicality_test(
            log_px, sample_log_px, batch_size, settings.alpha, settings.bootstrap, settings.seed
        )
        reject_rate[str(batch_size)] = test.reject_rate if test.n_batches else None
        thresholds[str(batch_size)] = test.threshold
    return {
        "n": int(log_px.size),
        "log_px_mean": float(log_px.mean()),
        "log_px_median": float(np.median(log_px)),
        "log_px_std": float(log_px.std()),
        "bpd_mean": float(bits_per_dim(log_px, dim).mean()),
        "fraction_typical": fraction_in_band(log_px, band),
        "ks_statistic": ks_statistic,
        "ks_pvalue": ks_pvalue,
        "reject_rate": reject_rate,
    }, thresholds


def run_typicality(settings: TypicalitySettings, out: Path) -> dict[str, Any]:
    """Run the typicality analysis (module docstring); returns the summary dict that is also
    written to out/summary.json."""
    store = RunStore.open(out, "typicality", settings, seed=settings.seed)
    device = resolve_device(settings.device)
    generator = load_generator(settings.generator, str(device), settings.trust_pickle)
    if int(getattr(generator, "num_classes", 0)) > 0:
        raise GanprobeError(
            f"generator {settings.generator} is class-conditional; typicality needs p_sigma(x) "
            "of an unconditional generator: give an unconditional one"
        )
    if len(set(settings.data)) != len(settings.data):
        raise GanprobeError("--data lists a data spec twice; give each group once")
    dim = int(np.prod(generator.image_shape))

    with Timer() as timer:
        samples = draw_samples(generator, settings.sigma, settings.samples, settings.seed, device)
        sample_results = run_sharded(
            store, "samples", settings.samples, settings.shard_size,
            _ais_shard_fn(generator, samples, settings, "samples", device),
            description="AIS log p(x), model samples",
        )
    store.record_time("samples", timer.seconds)
    sample_log_px = sample_results["log_px"]
    band = typical_band(sample_log_px, settings.level, settings.band)

    groups: dict[str, dict[str, Any]] = {}
    group_log_px: dict[str, np.ndarray] = {}
    latent_norms: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = _csv_rows(SAMPLES, sample_results, band, dim)
    thresholds: dict[str, float] = {}
    for index, spec in enumerate(settings.data):
        with Timer() as timer:
            images = load_images(
                spec, limit=settings.limit, seed=settings.seed, shape=generator.image_shape
            ).images
            prefix = f"group{index:02d}"
            results = run_sharded(
                store, prefix, len(images), settings.shard_size,
                _ais_shard_fn(generator, images, settings, prefix, device),
                description=f"AIS log p(x), {spec}",
            )
            group_log_px[spec] = results["log_px"]
            groups[spec], thresholds = _group_statistics(
                results["log_px"], sample_log_px, settings, dim, band
            )
            groups[spec]["ess_mean"] = float(results["ess"].mean())
            rows += _csv_rows(spec, results, band, dim)
            if settings.latent_view:
                count = min(settings.latent_limit, len(images))
                latent = run_sharded(
                    store, f"latent{index:02d}", count, settings.shard_size,
                    _latent_shard_fn(generator, images[:count], settings, f"latent{index}",
                                     device),
                    description=f"projection, {spec}",
                )
                latent_norms[spec] = latent["latent_norm"]
                chi = chi_norm_test(latent["latent_norm"], int(generator.latent_dim))
                groups[spec].update(
                    latent_norm_mean=chi.mean_norm,
                    latent_ks_statistic=chi.ks_statistic,
                    latent_ks_pvalue=chi.ks_pvalue,
                    projection_rmse_median=float(np.median(latent["rmse"])),
                )
        store.record_time(spec, timer.seconds)

    store.write_csv("log_px.csv", rows)
    log_px_histograms(sample_log_px, group_log_px, band, store.path("log_px_hist.png"), dim)
    if latent_norms:
        latent_norm_histograms(
            latent_norms, generator.latent_dim, store.path("latent_norms.png")
        )
    summary = {
        "generator": settings.generator,
        "sigma": settings.sigma,
        "dim": dim,
        "latent_dim": int(generator.latent_dim),
        "samples": {
            "n": int(sample_log_px.size),
            "entropy_nats": band.entropy,
            "entropy_bpd": float(bits_per_dim(-band.entropy, dim)),
            "log_px_mean": float(sample_log_px.mean()),
            "log_px_std": float(sample_log_px.std()),
            "ess_mean": float(sample_results["ess"].mean()),
        },
        "band": {
            "kind": band.kind, "level": band.level, "low": band.low, "high": band.high,
            "epsilon": band.epsilon,
        },
        "bootstrap_threshold": thresholds,
        "alpha": settings.alpha,
        "expected_latent_norm": chi_mean(int(generator.latent_dim)),
        "groups": groups,
    }
    store.write_summary(summary)
    return summary


def _csv_rows(group: str, results: dict[str, np.ndarray], band, dim: int) -> list[dict]:
    log_px = results["log_px"]
    return [
        {
            "group": group,
            "index": i,
            "log_px": float(value),
            "bpd": float(bits_per_dim(value, dim)),
            "typical": bool(band.low <= value <= band.high),
            "ess": float(results["ess"][i]),
            "acceptance": float(results["acceptance"][i]),
        }
        for i, value in enumerate(log_px)
    ]
