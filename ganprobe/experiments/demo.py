"""`ganprobe demo`: the whole study on the built-in default (Fashion-MNIST), resumable.

Stages, each in its own sub-directory of the demo directory DIR, run in this order:

    models           train or reuse (ganprobe.train.cache.cached_run, by config hash) the
                     unconditional and class-conditional GANs, the classifier and the density
                     baselines gaussian / ppca / vae / flow; DIR/models/models.json lists them
    manifold         run_manifold       (projection of train, test and generated images)
    outliers         run_outliers       (projection vs 1-NN distance as OOD scores)
    classify         run_classify       (class-conditional GAN vs 1-NN vs the classifier)
    likelihood       run_compare_density: the whole run_likelihood study (AIS log_px, sigma
                     sweep on held-out images, BDMC gap) plus the density baselines on the
                     same images (one run, so the GAN's AIS is not computed twice)
    typicality       run_typicality     (at the likelihood stage's best sigma)
    report           DIR/report.html and DIR/report.md

A stage is finished once DIR/STAGE/DONE exists (written last, atomically, after its summary and
its wall time); a rerun of the same command skips finished stages and resumes the others (their
shards resume inside; the wall time recorded for a resumed stage is that of the final attempt).
Wall times per stage go to DIR/timings.json; DIR/summary.json gathers every stage's summary
under the keys manifold, outliers, classify, likelihood, typicality (and models, timings, report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from ..config import (
    AISSettings,
    ClassifierTrainSettings,
    ClassifySettings,
    CompareDensitySettings,
    DemoSettings,
    DensityTrainSettings,
    GanTrainSettings,
    ManifoldSettings,
    OutlierSettings,
    ProjectionSettings,
    TypicalitySettings,
)
from ..errors import GanprobeError
from ..progress import make_progress
from ..store import RunStore, Timer
from ..train.cache import cached_run
from ..utils import STOP_REQUESTED, atomic_write_json, atomic_write_text, torch_threads

DONE = "DONE"
STAGES = (
    "models",
    "manifold",
    "outliers",
    "classify",
    "likelihood",
    "typicality",
    "report",
)
DENSITY_MODELS = ("gaussian", "ppca", "vae", "flow")
IN_TEST = "fashion-mnist:test"
IN_TRAIN = "fashion-mnist:train"
OOD_SETS = ("digits", "ood:constant", "ood:noise", "ood:vflip")


# ---------------------------------------------------------------------------------- settings
def model_settings(quick: bool, seed: int) -> dict[str, Any]:
    """Training settings of every default model, keyed by cache kind."""
    gan = GanTrainSettings.quick if quick else GanTrainSettings
    classifier = ClassifierTrainSettings.quick if quick else ClassifierTrainSettings
    models: dict[str, Any] = {
        "gan": gan(seed=seed),
        "cgan": gan(seed=seed, conditional=True),
        "classifier": classifier(seed=seed),
    }
    for name in DENSITY_MODELS:
        if quick:
            models[f"density-{name}"] = DensityTrainSettings.quick(name, seed=seed)
        else:
            models[f"density-{name}"] = DensityTrainSettings(model=name, seed=seed)
    return models


def _ais(quick: bool) -> AISSettings:
    """AIS for the demo: Laplace start, so few temperatures suffice (BDMC reports the gap)."""
    if quick:
        return AISSettings(chains=2, temperatures=20, leapfrog=3, mode_steps=40)
    return AISSettings(chains=4, temperatures=40, leapfrog=4, mode_steps=60)


def _projection(quick: bool) -> ProjectionSettings:
    """The validated projection defaults (docs/results.md); quick runs a smoke-test variant."""
    return ProjectionSettings.quick() if quick else ProjectionSettings()


# Sizes of the default (non-quick) study, chosen so that `ganprobe demo` fits in about 25
# minutes on 2 CPU cores, model training (about 15 of them) included; the projection and AIS
# settings above set the cost per image (a 1 x 3000-step projection is about 1 s per image).
FULL_SIZES: dict[str, dict[str, Any]] = {
    "manifold": {"limit": 48, "generated": 32, "shard_size": 16},
    "outliers": {"limit": 32, "shard_size": 16},
    "classify": {"limit": 60, "shard_size": 20},
    "likelihood": {"sweep_points": 4, "sweep_limit": 12, "limit": 24, "bdmc": 8,
                   "shard_size": 12},
    "typicality": {"samples": 96, "limit": 24, "latent_limit": 12, "shard_size": 24},
}
QUICK_SIZES: dict[str, dict[str, Any]] = {
    "likelihood": {"sweep_points": 3, "sweep_limit": 6, "limit": 8, "bdmc": 4, "shard_size": 8},
    "typicality": {"samples": 24, "limit": 8, "latent_limit": 8, "shard_size": 24},
}


def analysis_settings(
    stage: str, quick: bool, seed: int, models: dict[str, str], best_sigma: float | None
) -> Any:
    """Settings of analysis `stage` for the default study; `models` maps cache kinds to run
    directories; `best_sigma` (from the likelihood stage) is needed by the typicality stage.
    Quick runs use each engineer's `quick()` variant (or QUICK_SIZES), full runs FULL_SIZES."""
    gan, cgan = f"builtin:{models['gan']}", f"builtin:{models['cgan']}"
    sizes = (QUICK_SIZES if quick else FULL_SIZES).get(stage, {})
    if stage == "manifold":
        if quick:
            return ManifoldSettings.quick(gan, seed=seed)
        return ManifoldSettings(generator=gan, projection=_projection(quick), seed=seed, **sizes)
    if stage == "outliers":
        if quick:
            return OutlierSettings.quick(gan, ood=list(OOD_SETS), seed=seed)
        return OutlierSettings(generator=gan, ood=list(OOD_SETS),
                               projection=_projection(quick), seed=seed, **sizes)
    if stage == "classify":
        if quick:
            return ClassifySettings.quick(cgan, classifier=models["classifier"], seed=seed)
        return ClassifySettings(generator=cgan, classifier=models["classifier"], seed=seed,
                                **sizes)
    if stage == "likelihood":
        densities = [f"density:{models[f'density-{name}']}" for name in DENSITY_MODELS]
        return CompareDensitySettings(
            generator=gan, data=[IN_TEST, *OOD_SETS], densities=densities, ais=_ais(quick),
            seed=seed, device="cpu", **sizes,
        )
    if stage == "typicality":
        if best_sigma is None:
            raise GanprobeError("demo stage typicality needs the likelihood stage's best sigma")
        return TypicalitySettings(
            generator=gan, sigma=best_sigma, data=[IN_TRAIN, IN_TEST, *OOD_SETS],
            ais=_ais(quick), projection=_projection(quick), seed=seed, device="cpu", **sizes,
        )
    raise ValueError(f"unknown demo stage {stage!r}")


# ---------------------------------------------------------------------------------- stages
MODEL_WORKERS = 2
"""Models trained side by side in the models stage, each with its share of torch's threads."""


def train_models(quick: bool, seed: int) -> dict[str, str]:
    """Train (or reuse from the cache) every default model; kind -> run directory."""
    return train_all(model_settings(quick, seed))


def train_all(jobs: dict[str, Any], workers: int = MODEL_WORKERS) -> dict[str, str]:
    """Train (or reuse from the cache) the model of each cache kind -> settings in `jobs`
    ('gan', 'cgan', 'classifier', 'density-NAME'); returns kind -> run directory.

    `workers` threads take the jobs in order, each with 1 / workers of torch's intra-op
    threads: the small convolutions of these models use two CPU cores better as two models at
    one thread each than as one model at two (benchmarks/bench_training.py). Every random draw
    of a training run comes from its own seeded generators (initial weights under
    utils.global_rng_seeded), so a model has the weights it would get trained alone with the
    same thread count. Ctrl-C (or a failing job) stops the other jobs at their next step.
    """
    from ..train.classifier import train_classifier
    from ..train.density import train_density
    from ..train.gan import train_gan

    trainers: dict[str, Callable[[Any, Path], Path]] = {
        "gan": train_gan, "cgan": train_gan, "classifier": train_classifier,
    }

    def train(kind: str, settings: Any) -> str:
        fit = trainers.get(kind, train_density)
        return str(cached_run(kind, settings, lambda out: fit(settings, out)))

    threads = max(1, torch.get_num_threads() // workers)
    with torch_threads(threads), ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(train, kind, settings): kind for kind, settings in jobs.items()}
        try:  # in completion order: the first failure, in whichever job, stops the rest
            runs = {futures[future]: future.result() for future in as_completed(futures)}
            return {kind: runs[kind] for kind in jobs}
        except BaseException:
            STOP_REQUESTED.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            STOP_REQUESTED.clear()


def best_sigma_of(likelihood_summary: dict[str, Any]) -> float:
    """The sigma with the highest held-out likelihood, from the likelihood stage's summary."""
    if "best_sigma" not in likelihood_summary:
        raise GanprobeError("the likelihood stage's summary.json has no best_sigma; delete "
                            "its directory in the demo run and rerun the demo")
    return float(likelihood_summary["best_sigma"])


def _run_analysis(stage: str, settings: Any, out: Path) -> dict[str, Any]:
    if stage == "manifold":
        from .manifold import run_manifold

        return run_manifold(settings, out)
    if stage == "outliers":
        from .outliers import run_outliers

        return run_outliers(settings, out)
    if stage == "classify":
        from .classify import run_classify

        return run_classify(settings, out)
    if stage == "likelihood":
        from .likelihood import run_compare_density

        return run_compare_density(settings, out)
    from .typicality import run_typicality

    return run_typicality(settings, out)


def is_finished(out: Path, stage: str) -> bool:
    """Whether `stage` of the demo in `out` has finished (its DONE marker exists)."""
    return (out / stage / DONE).exists()


def _stage_summary(out: Path, stage: str) -> dict[str, Any]:
    name = "models.json" if stage == "models" else "summary.json"
    return json.loads((out / stage / name).read_text())


def run_demo(settings: DemoSettings, out: Path) -> dict[str, Any]:
    """Run (or resume) every stage of the demo into `out` (module docstring); returns the
    top-level summary, also written to out/summary.json, with the report's path under
    'report'."""
    store = RunStore.open(out, "demo", settings, seed=settings.seed)
    results: dict[str, Any] = {}
    with make_progress() as progress:
        overall = progress.add_task("demo", total=len(STAGES), info="")
        for stage in STAGES:
            progress.update(overall, info=stage)
            if stage != "report" and is_finished(out, stage):
                results[stage] = _stage_summary(out, stage)
                progress.advance(overall)
                continue
            task = progress.add_task(f"  {stage}", total=1, info="")
            with Timer() as timer:
                results[stage] = _run_stage(stage, settings, out, results)
            store.record_time(stage, timer.seconds)
            if stage != "report":  # the marker comes last: a finished stage has its timing
                atomic_write_text(out / stage / DONE, "ok\n")
            progress.update(task, completed=1)
            progress.advance(overall)
    summary = {
        "manifold": results["manifold"],
        "outliers": results["outliers"],
        "classify": results["classify"],
        "likelihood": results["likelihood"],
        "typicality": results["typicality"],
        "models": results["models"],
        "timings": json.loads(store.path("timings.json").read_text()),
        "report": results["report"],
    }
    store.write_summary(summary)
    return summary


def _run_stage(
    stage: str, settings: DemoSettings, out: Path, results: dict[str, Any]
) -> Any:
    directory = out / stage
    if stage == "report":
        from ..report import write_report

        html_path, _ = write_report(out)
        return str(html_path)
    if stage == "models":
        directory.mkdir(parents=True, exist_ok=True)
        result: Any = train_models(settings.quick, settings.seed)
        atomic_write_json(directory / "models.json", result)
    else:
        best_sigma = best_sigma_of(results["likelihood"]) if "likelihood" in results else None
        stage_settings = analysis_settings(
            stage, settings.quick, settings.seed, results["models"], best_sigma
        )
        result = _run_analysis(stage, stage_settings, directory)
    return result
