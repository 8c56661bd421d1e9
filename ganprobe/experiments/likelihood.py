"""Likelihood experiments: AIS log p_sigma(x) of image groups under a generator plus Gaussian
observation noise, the choice of sigma on held-out data, the BDMC gap, and the comparison with
non-GAN density models (see DESIGN.md, "Likelihood").

run_likelihood:
1. Held-out split: the first data spec (the in-distribution test set) is loaded with
   `limit + sweep_limit` images; the first `limit` are evaluated, the other `sweep_limit` are
   held out for choosing sigma (only when more than one sigma is considered).
2. Sigma: every candidate (settings.sigmas, or a geometric sweep sweep_min..sweep_max) is scored
   by the mean AIS log_px of the held-out images; best_sigma maximises it. When the maximum of
   a geometric sweep sits at its first or last sigma, the sweep is extended beyond that edge
   (same ratio, at most `sweep_extend` more sigmas); `best_sigma_at_sweep_edge` says whether
   it still sits there.
3. Every group at the evaluated sigmas (settings.sigmas if given, else best_sigma): per-image
   log_px, bpd, ESS, acceptance -> likelihood.csv (held-out rows have group '<spec> (held-out)').
4. BDMC at best_sigma on `bdmc` simulated images: lower / upper bounds and their gap.
5. OOD by likelihood at best_sigma: AUROC of -log_px (data[0] against each other group) and
   whether the group gets a higher mean log_px than data[0].

run_compare_density adds each density model (`density:RUN_DIR`) on the same images, a bpd table
and the same OOD statistics per model. Every AIS computation runs in resumable shards whose
random draws depend only on (seed, shard name, first item).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import AISSettings, CompareDensitySettings, LikelihoodSettings
from ..errors import GanprobeError
from ..inference.ais import ais_log_px, gaussian_log_likelihood
from ..inference.bdmc import bdmc, simulate_observations
from ..metrics import detection_metrics
from ..parallel import run_sharded
from ..report.likelihood_figures import bpd_against_sigma, bpd_histograms
from ..store import RunStore, Timer
from ..units import bits_per_dim
from ..utils import resolve_device, torch_generator
from ._common import load_checked_generator, load_group, shard_seed, slug

GAN = "gan"


def _add_time(store: RunStore, stage: str, seconds: float) -> None:
    """Add `seconds` to the stage's wall time in timings.json, so a resumed run reports the
    total over all sessions (a rerun that finds every shard done adds almost nothing)."""
    path = store.path("timings.json")
    previous = json.loads(path.read_text()).get(stage, 0.0) if path.exists() else 0.0
    store.record_time(stage, previous + seconds)


def geometric_sigmas(low: float, high: float, points: int) -> list[float]:
    """`points` values from low to high, equally spaced in log (rounded to 4 significant
    digits so they read well in tables)."""
    if not 0 < low < high:
        raise GanprobeError(f"sigma sweep needs 0 < sweep_min < sweep_max (got {low}, {high})")
    values = np.geomspace(low, high, points)
    return [float(f"{v:.4g}") for v in values]


def _extend_sweep_past_edges(
    sweep: list[dict[str, Any]], score: Callable[[float], None], max_extra: int
) -> None:
    """While the held-out maximum of a geometric sweep (sorted by sigma) sits at its smallest
    or largest sigma, score one more sigma beyond that edge with the sweep's ratio, at most
    `max_extra` times: the chosen sigma is then an interior maximum whenever one is in reach."""
    if len(sweep) < 2:
        return
    ratio = sweep[1]["sigma"] / sweep[0]["sigma"]
    for _ in range(max_extra):
        best = max(range(len(sweep)), key=lambda i: sweep[i]["mean_log_px"])
        if best == 0:
            score(float(f"{sweep[0]['sigma'] / ratio:.4g}"))
        elif best == len(sweep) - 1:
            score(float(f"{sweep[-1]['sigma'] * ratio:.4g}"))
        else:
            return


@dataclass
class Group:
    """An image group: name (data spec), images [N, C, H, W] in [-1, 1], labels [N]."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor


def ais_group(
    store: RunStore,
    generator: Any,
    group: Group,
    sigma: float,
    ais: AISSettings,
    seed: int,
    shard_size: int,
    device: torch.device,
    prefix: str,
) -> dict[str, np.ndarray]:
    """AIS over a group at one sigma in resumable shards named `prefix`: arrays log_px, bpd,
    ess, acceptance, log_w_std (float64 [N])."""
    log_likelihood = gaussian_log_likelihood(generator, sigma)
    dim = int(group.images[0].numel())

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        rng = torch_generator(shard_seed(seed, prefix, start))
        result = ais_log_px(
            generator.log_prior, log_likelihood, generator.latent_dim,
            group.images[start:stop].to(device), ais, generator=rng,
        )
        return {
            "log_px": result.log_px.numpy(),
            "bpd": bits_per_dim(result.log_px, dim).numpy(),
            "ess": result.ess.numpy(),
            "acceptance": result.acceptance.numpy(),
            "log_w_std": result.log_w_std.numpy(),
        }

    return run_sharded(store, prefix, group.images.shape[0], shard_size, compute,
                       description=f"AIS {group.name} sigma={sigma:g}")


def bdmc_gap(
    store: RunStore, generator: Any, sigma: float, count: int, ais: AISSettings, seed: int,
    shard_size: int, device: torch.device,
) -> dict[str, Any]:
    """BDMC on `count` images simulated from the generator at `sigma`: per-image bounds stored
    in shards 'bdmc-s<sigma>'; returns the summary (mean lower / upper / gap, nats)."""
    prefix = f"bdmc-s{sigma:g}"
    log_likelihood = gaussian_log_likelihood(generator, sigma)

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        rng = torch_generator(shard_seed(seed, prefix, start))
        z, x = simulate_observations(generator, generator.latent_dim, sigma, stop - start,
                                     rng, device=device)
        result = bdmc(generator.log_prior, log_likelihood, generator.latent_dim, x, z, ais, rng)
        return {"lower": result.lower.numpy(), "upper": result.upper.numpy(),
                "gap": result.gap.numpy()}

    arrays = run_sharded(store, prefix, count, shard_size, compute,
                         description=f"BDMC sigma={sigma:g}")
    dim = int(math.prod(generator.image_shape))
    return {
        "sigma": sigma,
        "images": count,
        "mean_lower": float(arrays["lower"].mean()),
        "mean_upper": float(arrays["upper"].mean()),
        "mean_gap": float(arrays["gap"].mean()),
        "max_gap": float(arrays["gap"].max()),
        "mean_gap_bpd": float(arrays["gap"].mean() / (dim * math.log(2))),
    }


def _load_groups(
    settings: LikelihoodSettings, shape: tuple[int, int, int], held_out: int
) -> tuple[list[Group], Group | None]:
    """Evaluated groups (data[0] first) and data[0]'s held-out images (None if not needed)."""
    if len(set(settings.data)) != len(settings.data):
        raise GanprobeError("--data lists a data spec twice; give each group once")
    groups, held = [], None
    for i, spec in enumerate(settings.data):
        extra = held_out if i == 0 else 0
        limit = None if settings.limit is None else settings.limit + extra
        images = load_group(spec, limit, settings.seed, shape)
        n = len(images)
        if i == 0 and held_out:
            if n < held_out + 1:
                raise GanprobeError(
                    f"{spec} has {n} images; choosing sigma holds out --sweep-limit "
                    f"{held_out} of them and needs at least one more"
                )
            keep = n - held_out
            held = Group(f"{spec} (held-out)", images.images[keep:], images.labels[keep:])
            groups.append(Group(spec, images.images[:keep], images.labels[:keep]))
        else:
            groups.append(Group(spec, images.images, images.labels))
    return groups, held


def _mean_stderr(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    stderr = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), float(stderr)


def ood_statistics(log_px_by_group: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """For each group after the first (in-distribution) one: AUROC / AUPR / FPR@95 of
    -log_px as OOD score, and whether its mean log_px exceeds the in-distribution mean."""
    names = list(log_px_by_group)
    reference = log_px_by_group[names[0]]
    out = {}
    for name in names[1:]:
        values = log_px_by_group[name]
        metrics = detection_metrics(-reference, -values)
        metrics["mean_log_px"] = float(values.mean())
        metrics["higher_mean_log_px_than_in"] = bool(values.mean() > reference.mean())
        out[name] = metrics
    return out


def _group_summary(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    mean_log_px, stderr = _mean_stderr(arrays["log_px"])
    return {
        "images": int(arrays["log_px"].shape[0]),
        "mean_log_px": mean_log_px,
        "stderr_log_px": stderr,
        "mean_bpd": float(arrays["bpd"].mean()),
        "median_bpd": float(np.median(arrays["bpd"])),
        "mean_ess": float(arrays["ess"].mean()),
        "mean_acceptance": float(arrays["acceptance"].mean()),
        "mean_log_w_std": float(arrays["log_w_std"].mean()),
    }


def _rows(group: Group, sigma: float, arrays: dict[str, np.ndarray], name: str) -> list[dict]:
    return [
        {
            "group": name, "index": i, "label": int(group.labels[i]), "sigma": sigma,
            "log_px": float(arrays["log_px"][i]), "bpd": float(arrays["bpd"][i]),
            "ess": float(arrays["ess"][i]), "acceptance": float(arrays["acceptance"][i]),
        }
        for i in range(arrays["log_px"].shape[0])
    ]


def _gan_study(
    settings: LikelihoodSettings, store: RunStore
) -> tuple[dict[str, Any], list[Group], list[dict], dict[str, np.ndarray]]:
    """Steps 1-5 of the module docstring for the generator. Returns (summary, groups, CSV rows,
    log_px per group at best sigma)."""
    device = resolve_device(settings.device)
    generator = load_checked_generator(settings.generator, str(device), settings.trust_pickle)
    if int(getattr(generator, "num_classes", 0)) > 0:
        raise GanprobeError(
            f"generator {settings.generator} is class-conditional; the likelihood needs an "
            "unconditional generator (p(x) with z ~ p(z) only)"
        )
    shape = tuple(int(v) for v in generator.image_shape)
    candidates = sorted(settings.sigmas) if settings.sigmas else geometric_sigmas(
        settings.sweep_min, settings.sweep_max, settings.sweep_points
    )
    held_out = settings.sweep_limit if len(candidates) > 1 else 0
    groups, held = _load_groups(settings, shape, held_out)
    rows: list[dict] = []
    sweep: list[dict[str, Any]] = []

    def score(sigma: float) -> None:
        arrays = ais_group(store, generator, held, sigma, settings.ais, settings.seed,
                           settings.shard_size, device, f"heldout-s{sigma:g}")
        rows.extend(_rows(held, sigma, arrays, held.name))
        _, stderr_bpd = _mean_stderr(arrays["bpd"])
        sweep.append({"sigma": sigma, **_group_summary(arrays), "stderr_bpd": stderr_bpd})
        sweep.sort(key=lambda s: s["sigma"])

    with Timer() as timer:
        for sigma in candidates if held is not None else []:
            score(sigma)
        if held is not None and not settings.sigmas:
            _extend_sweep_past_edges(sweep, score, settings.sweep_extend)
    _add_time(store, "sigma sweep", timer.seconds)
    best_sigma = max(sweep, key=lambda s: s["mean_log_px"])["sigma"] if sweep else candidates[0]
    best_at_edge = bool(sweep) and best_sigma in (sweep[0]["sigma"], sweep[-1]["sigma"])
    evaluated = list(settings.sigmas) if settings.sigmas else [best_sigma]
    per_sigma: dict[str, dict[str, Any]] = {}
    at_best: dict[str, np.ndarray] = {}
    with Timer() as timer:
        for sigma in evaluated:
            summaries = {}
            for group in groups:
                prefix = f"ais-{slug(group.name)}-s{sigma:g}"
                arrays = ais_group(store, generator, group, sigma, settings.ais, settings.seed,
                                   settings.shard_size, device, prefix)
                rows += _rows(group, sigma, arrays, group.name)
                summaries[group.name] = _group_summary(arrays)
                if sigma == best_sigma:
                    at_best[group.name] = arrays["log_px"]
            per_sigma[f"{sigma:g}"] = summaries
    _add_time(store, "groups", timer.seconds)
    bdmc_summary = None
    if settings.bdmc:
        with Timer() as timer:
            bdmc_summary = bdmc_gap(store, generator, best_sigma, settings.bdmc, settings.ais,
                                    settings.seed, settings.shard_size, device)
        _add_time(store, "bdmc", timer.seconds)
    summary = {
        "generator": settings.generator,
        "in_distribution": settings.data[0],
        "dim": int(math.prod(shape)),
        "best_sigma": best_sigma,
        "sigma_selection": "held-out" if sweep else "only candidate",
        "best_sigma_at_sweep_edge": best_at_edge,
        "held_out_images": held_out,
        "sweep": sweep,
        "groups": per_sigma,
        "at_best_sigma": per_sigma[f"{best_sigma:g}"],
        "bdmc": bdmc_summary,
        "ood": ood_statistics(at_best) if len(at_best) > 1 else {},
        "ais": settings.ais.model_dump(),
    }
    return summary, groups, rows, at_best


def run_likelihood(settings: LikelihoodSettings, out: Path) -> dict[str, Any]:
    """`ganprobe likelihood`: see the module docstring. Writes likelihood.csv, summary.json,
    bpd_vs_sigma.png, bpd_histograms.png into `out`; returns the summary."""
    store = RunStore.open(out, "likelihood", settings, seed=settings.seed)
    summary, _, rows, at_best = _gan_study(settings, store)
    store.write_csv("likelihood.csv", rows)
    _figures(store, summary, {GAN: at_best}, {})
    store.write_summary(summary)
    return summary


def _figures(
    store: RunStore, summary: dict[str, Any], log_px_by_model: dict[str, dict[str, np.ndarray]],
    baseline_bpd: dict[str, float],
) -> None:
    dim = summary["dim"]
    sweep = summary["sweep"]
    if sweep:
        bpd_against_sigma(
            [s["sigma"] for s in sweep], [s["mean_bpd"] for s in sweep],
            [s["stderr_bpd"] for s in sweep], store.path("bpd_vs_sigma.png"),
            best_sigma=summary["best_sigma"], baselines=baseline_bpd,
        )
    bpd_by_model = {
        model: {group: bits_per_dim(values, dim) for group, values in groups.items()}
        for model, groups in log_px_by_model.items()
    }
    bpd_histograms(bpd_by_model, store.path("bpd_histograms.png"))


def density_group(
    store: RunStore, model: Any, name: str, group: Group, shard_size: int,
) -> dict[str, np.ndarray]:
    """log_px (float64 [N], nats) of a group under a density model, in resumable shards."""
    prefix = f"density-{slug(name)}-{slug(group.name)}"

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        with torch.no_grad():
            log_px = model.log_px(group.images[start:stop])
        return {"log_px": log_px.double().cpu().numpy()}

    return run_sharded(store, prefix, group.images.shape[0], shard_size, compute,
                       description=f"{name} {group.name}")


def run_compare_density(settings: CompareDensitySettings, out: Path) -> dict[str, Any]:
    """`ganprobe compare-density`: the GAN study of `run_likelihood` plus every density model on
    the same evaluated images; writes likelihood.csv, density.csv, bpd_table.csv, summary.json
    and the figures; returns the summary (keys of run_likelihood plus 'models', 'table')."""
    from ..models.density import load_density

    store = RunStore.open(out, "compare-density", settings, seed=settings.seed)
    summary, groups, rows, at_best = _gan_study(settings, store)
    store.write_csv("likelihood.csv", rows)
    log_px_by_model = {GAN: at_best}
    density_rows = []
    for spec in settings.densities:
        model = load_density(spec)
        name = str(getattr(model, "name", spec))
        if tuple(model.image_shape) != tuple(groups[0].images.shape[1:]):
            raise GanprobeError(
                f"density model {spec} has image shape {tuple(model.image_shape)} but the "
                f"generator's images are {tuple(groups[0].images.shape[1:])}; train it on "
                "the same data"
            )
        if name in log_px_by_model:
            name = f"{name} ({spec})"
        log_px_by_model[name] = {}
        with Timer() as timer:
            for group in groups:
                values = density_group(store, model, name, group, settings.shard_size)["log_px"]
                log_px_by_model[name][group.name] = values
                density_rows += [
                    {"model": name, "group": group.name, "index": i,
                     "label": int(group.labels[i]), "log_px": float(v),
                     "bpd": float(bits_per_dim(v, summary["dim"]))}
                    for i, v in enumerate(values)
                ]
        _add_time(store, f"density {name}", timer.seconds)
    store.write_csv("density.csv", density_rows)
    table, models = _comparison(summary, log_px_by_model)
    store.write_csv("bpd_table.csv", table)
    in_name = groups[0].name
    baselines = {name: models[name]["bpd"][in_name] for name in models if name != GAN}
    if not summary["sweep"] and settings.sweep_from:
        summary["sweep"] = _sweep_of(Path(settings.sweep_from))
        summary["sweep_source"] = settings.sweep_from
    _figures(store, summary, log_px_by_model, baselines)
    summary.update({"models": models, "table": table})
    store.write_summary(summary)
    return summary


def _sweep_of(run_dir: Path) -> list[dict[str, Any]]:
    """The held-out sigma sweep stored in a `likelihood` run's summary.json."""
    path = run_dir / "summary.json"
    try:
        sweep = json.loads(path.read_text())["sweep"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise GanprobeError(
            f"--sweep-from {run_dir}: cannot read the sigma sweep from {path} ({exc}); give "
            "the directory of a finished `ganprobe likelihood` run"
        ) from None
    return list(sweep)


def _comparison(
    summary: dict[str, Any], log_px_by_model: dict[str, dict[str, np.ndarray]]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per model: mean bpd per group and OOD statistics; table rows model x group."""
    dim = summary["dim"]
    models: dict[str, dict[str, Any]] = {}
    table = []
    for model, groups in log_px_by_model.items():
        bpd = {g: float(bits_per_dim(v, dim).mean()) for g, v in groups.items()}
        ood = ood_statistics(groups) if len(groups) > 1 else {}
        models[model] = {"bpd": bpd, "ood": ood}
        if model == GAN:
            models[model]["sigma"] = summary["best_sigma"]
            if summary["bdmc"]:
                models[model]["bdmc_gap_nats"] = summary["bdmc"]["mean_gap"]
        for group, values in groups.items():
            stats = ood.get(group, {})
            table.append({
                "model": model, "group": group, "mean_log_px": float(values.mean()),
                "mean_bpd": bpd[group], "auroc_neg_log_px": stats.get("auroc", ""),
                "higher_mean_log_px_than_in": stats.get("higher_mean_log_px_than_in", ""),
            })
    return table, models

