"""`ganprobe train density`: fit one non-GAN density baseline and score train / test images.

    gaussian, ppca   closed form on the dequantized training images (float64)
    vae, flow        Adam on freshly dequantized batches (train/density_loop.py), resumable

Run directory: config.json, model.json + model.safetensors (`density:RUN_DIR`), log_px.csv
(per image: group, index, label, log_px, bpd; for the VAE also elbo and iwae, and log_px = AIS
on the first `ais_limit` images), loss.csv and loss.png (iterative models), summary.json
(train / test bpd and per-model facts), samples.png (36 draws x ~ p(x), noise included,
clipped to [-1, 1] for display), timings.json. Scores are of dequantized images (fixed
noise, seeded), the convention of the literature. A killed run resumes: training from its
checkpoint, scoring by finished shards; a finished run returns at once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DensityTrainSettings
from ..data.grid import save_image_grid
from ..data.imageset import ImageSet
from ..models.density import load_density
from ..models.density.base import META_FILE, dequantize
from ..models.density.gaussian import GaussianDensity
from ..models.density.ppca import PPCADensity
from ..models.density.vae import VAEDensity
from ..parallel import run_sharded
from ..store import RunStore, Timer
from ..units import bits_per_dim
from ..utils import resolve_device
from .common import CHECKPOINT, load_training_images
from .density_loop import train_iterative
from .density_plots import plot_training_loss
from .flow import build_flow, flow_loss
from .vae import build_vae, vae_loss

COMMAND = "train density"
SUMMARY = "summary.json"
SAMPLES = "samples.png"
SAMPLE_COUNT = 36


def train_density(settings: DensityTrainSettings, out: Path) -> Path:
    """Train `settings.model` on `settings.data`, score it, write the run directory `out`
    (module docstring); return `out`, loadable as `density:<out>`."""
    out = Path(out)
    store = RunStore.open(out, COMMAND, settings, seed=settings.seed)
    if (out / SUMMARY).exists() and (out / META_FILE).exists():
        _write_samples(load_density(f"density:{out}"), store, settings.seed)
        return out
    train = load_training_images(settings.data, settings.limit, settings.seed, need_labels=False)
    if (out / META_FILE).exists():  # trained earlier; scoring was interrupted
        model = load_density(f"density:{out}")
    else:
        with Timer() as timer:
            model, facts = _fit(settings, train.images, store)
        store.record_time("fit", timer.seconds)
        store.write_json("fit.json", facts)
        model.save(out)  # model.json last: its presence means the fit is complete
        (out / CHECKPOINT).unlink(missing_ok=True)
    facts = store.read_json("fit.json")
    groups = {"train": _head(train, settings.train_eval_limit)}
    if settings.test_data:
        from ..data import load_images

        groups["test"] = load_images(
            settings.test_data, limit=settings.test_limit, seed=settings.seed, shape=train.shape
        )
    with Timer() as timer:
        rows, group_summaries = _score_groups(model, groups, settings, store)
    store.record_time("score", timer.seconds)
    store.write_csv("log_px.csv", rows)
    summary = {
        "model": settings.model,
        "data": settings.data,
        "test_data": settings.test_data,
        "image_shape": list(train.shape),
        "dim": math.prod(train.shape),
        "train_images": len(train),
        "dequantized": settings.dequantize,
        "groups": group_summaries,
        **{f"{g}_bpd": s["bpd"] for g, s in group_summaries.items()},
        **facts,
    }
    store.write_summary(summary)
    _write_samples(model, store, settings.seed)
    return out


def _write_samples(model: Any, store: RunStore, seed: int) -> None:
    """samples.png: SAMPLE_COUNT draws of the model (once per run)."""
    if not store.path(SAMPLES).exists():
        samples = model.sample(SAMPLE_COUNT, torch.Generator().manual_seed(seed))
        save_image_grid(samples.float().clamp(-1, 1), store.path(SAMPLES), nrow=6)


def _head(images: ImageSet, limit: int) -> ImageSet:
    n = min(limit, len(images))
    return ImageSet(images.images[:n], images.labels[:n], images.name, images.class_names)


# ------------------------------------------------------------------------------------ fitting
def _fit(
    settings: DensityTrainSettings, images: torch.Tensor, store: RunStore
) -> tuple[Any, dict[str, Any]]:
    """(model, facts about the fit for summary.json) for images [N, C, H, W] in model space."""
    shape = tuple(int(s) for s in images.shape[1:])
    if settings.model in ("gaussian", "ppca"):
        data = images
        if settings.dequantize:
            data = dequantize(images, torch.Generator().manual_seed(settings.seed))
        if settings.model == "gaussian":
            model = GaussianDensity.fit(data, ridge=settings.gaussian_ridge, seed=settings.seed)
            return model, {"ridge": model.ridge}
        model = PPCADensity.fit(data, rank=settings.ppca_rank)
        return model, {"rank": model.rank, "sigma": math.sqrt(model.sigma2)}
    if settings.model == "vae":
        module, loss_fn = build_vae(settings, shape), vae_loss
    else:
        module, loss_fn = build_flow(settings, shape), flow_loss
    device = resolve_device(settings.device)
    losses = train_iterative(
        module.to(device),
        loss_fn,
        images,
        settings.train_steps,
        settings.batch_size,
        settings.lr,
        settings.seed,
        store.root,
        settings.checkpoint_every,
        settings.dequantize,
        description=f"train {settings.model}",
        device=device,
    )
    module = module.cpu()
    _write_losses(store, losses, math.prod(shape), settings.model)
    facts: dict[str, Any] = {
        "steps": settings.train_steps,
        "parameters": sum(p.numel() for p in module.parameters()),
        "final_loss_bpd": float(_loss_bpd(losses[-50:].mean(), math.prod(shape))),
    }
    if settings.model == "vae":
        if module.calibrated:  # sigma's optimum over (dequantized) training images
            generator = torch.Generator().manual_seed(settings.seed + 7)
            fit_images = images[: settings.train_eval_limit]
            if settings.dequantize:
                fit_images = dequantize(fit_images, generator)
            module.calibrate_sigma(fit_images, generator)
        facts["sigma"] = module.sigma
        return VAEDensity(module, ais=settings.ais, seed=settings.seed), facts
    return module, facts


def _loss_bpd(loss_per_dim: torch.Tensor | float, dim: int) -> float:
    """Training loss (-log p or -ELBO, nats per dimension) as bits per dimension."""
    return float(bits_per_dim(-float(loss_per_dim) * dim, dim))


def _write_losses(store: RunStore, losses: torch.Tensor, dim: int, model: str) -> None:
    rows = [{"step": i + 1, "loss_bpd": _loss_bpd(v, dim)} for i, v in enumerate(losses.tolist())]
    store.write_csv("loss.csv", rows)
    plot_training_loss(
        np.array([r["loss_bpd"] for r in rows]),
        store.path("loss.png"),
        f"{model}: " + ("-ELBO" if model == "vae" else "-log p(x)") + " of training batches",
    )


# ------------------------------------------------------------------------------------ scoring
def _score_groups(
    model: Any, groups: dict[str, ImageSet], settings: DensityTrainSettings, store: RunStore
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    summaries: dict[str, dict[str, Any]] = {}
    for offset, (group, images) in enumerate(groups.items()):
        x = images.images
        if settings.dequantize:
            x = dequantize(x, torch.Generator().manual_seed(settings.seed + 1 + offset))
        dim = x[0].numel()
        if isinstance(model, VAEDensity):
            columns, summary = _score_vae(model, x, group, settings, store)
        else:
            columns = run_sharded(
                store,
                f"{group}-log_px",
                len(x),
                1000,
                lambda a, b, x=x: {"log_px": model.log_px(x[a:b]).numpy()},
                description=f"score {group}",
            )
            log_px = columns["log_px"]
            summary = {
                "images": len(x),
                "log_px_mean": float(log_px.mean()),
                "bpd": float(bits_per_dim(log_px.mean(), dim)),
            }
        summaries[group] = summary
        for i in range(max(len(values) for values in columns.values())):
            row = {"group": group, "index": i, "label": int(images.labels[i])}
            for key, values in columns.items():
                value = float(values[i]) if i < len(values) else math.nan
                row[key] = value
                if key in ("log_px", "elbo", "iwae"):
                    name = "bpd" if key == "log_px" else f"{key}_bpd"
                    row[name] = float(bits_per_dim(value, dim))
            rows.append(row)
    return rows, summaries


def _score_vae(
    model: VAEDensity,
    x: torch.Tensor,
    group: str,
    settings: DensityTrainSettings,
    store: RunStore,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """ELBO and IWAE on the first `iwae_limit` images, AIS on the first `ais_limit`."""
    dim = x[0].numel()
    n_bounds = min(settings.iwae_limit or len(x), len(x))
    n_ais = min(settings.ais_limit or len(x), n_bounds)

    def bounds(a: int, b: int) -> dict[str, np.ndarray]:
        return {
            "elbo": model.elbo(x[a:b], seed=settings.seed + a).numpy(),
            "iwae": model.iwae(x[a:b], settings.iwae_samples, seed=settings.seed + a).numpy(),
        }

    def ais(a: int, b: int) -> dict[str, np.ndarray]:
        result = model.ais_estimate(x[a:b], settings.ais, seed=settings.seed + a)
        return {k: v.numpy() for k, v in result.items()}

    columns = run_sharded(store, f"{group}-bounds", n_bounds, 250, bounds, f"ELBO/IWAE {group}")
    columns.update(run_sharded(store, f"{group}-ais", n_ais, 10, ais, f"AIS {group}"))

    def bpd(values: np.ndarray) -> float:
        return float(bits_per_dim(values.mean(), dim))

    summary = {
        "images": n_bounds,
        "elbo_bpd": bpd(columns["elbo"]),
        "iwae_bpd": bpd(columns["iwae"]),
        "iwae_samples": settings.iwae_samples,
        "ais_images": n_ais,
        "bpd": bpd(columns["log_px"]),
        "log_px_mean": float(columns["log_px"].mean()),
        "elbo_bpd_on_ais_images": bpd(columns["elbo"][:n_ais]),
        "iwae_bpd_on_ais_images": bpd(columns["iwae"][:n_ais]),
        "ais_ess_mean": float(columns["ess"].mean()),
        "ais_acceptance_mean": float(columns["acceptance"].mean()),
    }
    return columns, summary
