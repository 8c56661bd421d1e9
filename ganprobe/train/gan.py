"""Train ganprobe's DCGAN: non-saturating loss, Adam, EMA of the generator, resumable.

Per step, with a batch (x, y) of training images and z ~ N(0, I):
    D loss = softplus(-D(x, y)) + softplus(D(G(z, y), y))  [+ aux_weight * CE(class head, y)]
    G loss = softplus(-D(G(z, y), y))                       [+ aux_weight * CE(class head(G), y)]
(the bracketed AC-GAN terms, and labels at all, only for conditional models; fakes reuse the
real batch's labels so generated classes follow the data's class frequencies). After each step
G_ema <- decay * G_ema + (1 - decay) * G with decay warmed up as min(decay, (1+t)/(10+t)).
At the end G_ema's BatchNorm statistics are recomputed on its own samples (they were copied
from G during training) and G_ema is saved as the run's generator (`builtin:RUN_DIR`).

Run directory: config.json, checkpoint.safetensors (every `checkpoint_every` steps; a killed run
resumes from it), losses.csv, samples-STEP.png grids, samples.png, generator.json +
generator.safetensors, summary.json, timings.json.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from ..config import GanTrainSettings
from ..data import save_image_grid
from ..models.dcgan import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    count_parameters,
    discriminator_loss,
    generator_loss,
    save_generator,
)
from ..progress import make_progress
from ..store import RunStore
from ..utils import global_rng_seeded, raise_if_stop_requested, resolve_device
from .common import (
    CHECKPOINT,
    batch_indices,
    ema_update,
    load_checkpoint,
    load_training_images,
    save_checkpoint,
)

COMMAND = "train gan"
LOG_EVERY = 25


def recalibrate_batchnorm(
    generator: DCGANGenerator, seed: int, batches: int = 20, batch_size: int = 256
) -> None:
    """Recompute the BatchNorm running statistics of `generator` as exact averages over
    `batches` batches of its own samples (z ~ prior, labels uniform over classes)."""
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms:
        return
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    generator.train()
    with torch.no_grad():
        for _ in range(batches):
            z = generator.sample_latent(batch_size, rng)
            c = None
            if generator.num_classes:
                c = torch.randint(generator.num_classes, (batch_size,), generator=rng).to(device)
            generator(z, c)
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()


def sample_grid_inputs(
    generator: DCGANGenerator, seed: int, per_row: int = 8
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed latents (and labels) for sample grids: 8 x 8 for unconditional generators, one row
    per class (per_row samples each) for conditional ones."""
    rng = torch.Generator().manual_seed(seed + 7919)
    if not generator.num_classes:
        return generator.sample_latent(per_row * per_row, rng), None
    labels = torch.arange(generator.num_classes).repeat_interleave(per_row)
    z = generator.sample_latent(len(labels), rng)
    return z, labels.to(z.device)


def _write_samples(generator: DCGANGenerator, path: Path, seed: int) -> None:
    was_training = generator.training
    generator.eval()
    z, c = sample_grid_inputs(generator, seed)
    with torch.no_grad():
        save_image_grid(generator(z, c), path, nrow=8, min_width=256)
    generator.train(was_training)


def train_gan(settings: GanTrainSettings, out: Path, device: str = "cpu") -> Path:
    """Train a DCGAN as `settings` says into run directory `out` (resuming what a killed run
    left there) and return `out`, which `load_generator(f"builtin:{out}")` loads. `device`:
    'cpu', 'cuda', 'auto', ..."""
    out = Path(out)
    store = RunStore.open(out, COMMAND, settings, seed=settings.seed)
    if (out / "summary.json").exists() and (out / "generator.safetensors").exists():
        return out
    device = resolve_device(device)
    data = load_training_images(
        settings.data, settings.limit, settings.seed, need_labels=settings.conditional
    )
    num_classes = max(data.num_classes, 1) if settings.conditional else 0
    config = DCGANConfig(
        image_shape=data.shape,
        latent_dim=settings.latent_dim,
        num_classes=num_classes,
        width=settings.width,
        embed_dim=settings.embed_dim,
        d_norm=settings.d_norm,
    )
    with global_rng_seeded(settings.seed):  # initial weights
        G = DCGANGenerator(config).to(device)
        D = DCGANDiscriminator(config).to(device)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    betas = (settings.beta1, settings.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=settings.lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=settings.lr, betas=betas)
    noise = torch.Generator().manual_seed(settings.seed + 1)
    modules = {"G": G, "D": D, "G_ema": G_ema}
    optimizers = {"opt_g": opt_g, "opt_d": opt_d}
    checkpoint = out / CHECKPOINT
    start = (
        load_checkpoint(checkpoint, modules, optimizers, {"noise": noise})
        if checkpoint.exists()
        else 0
    )
    log_path = out / "losses.csv"
    log_rows = _read_log(log_path, start)
    images, labels = data.images, data.labels
    began = time.perf_counter()
    with make_progress() as progress:
        name = "train conditional gan" if settings.conditional else "train gan"
        task = progress.add_task(name, total=settings.steps, completed=start, info="")
        for step in range(start, settings.steps):
            raise_if_stop_requested()
            index = batch_indices(len(data), settings.batch_size, step, settings.seed)
            x = images[index].to(device)
            y = labels[index].to(device) if num_classes else None
            z = torch.randn(len(index), config.latent_dim, generator=noise).to(device)
            fake = G(z, y)
            real_logit, real_class = D(x, y)
            fake_logit, _ = D(fake.detach(), y)
            loss_d = discriminator_loss(real_logit, fake_logit)
            if real_class is not None and settings.aux_weight > 0:
                loss_d = loss_d + settings.aux_weight * F.cross_entropy(real_class, y)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            gen_logit, gen_class = D(fake, y)
            loss_g = generator_loss(gen_logit)
            if gen_class is not None and settings.aux_weight > 0:
                loss_g = loss_g + settings.aux_weight * F.cross_entropy(gen_class, y)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            ema_update(G_ema, G, min(settings.ema_decay, (1 + step) / (10 + step)))
            done = step + 1
            if done % LOG_EVERY == 0 or done == settings.steps:
                row = _log_row(done, loss_d, loss_g, real_logit, fake_logit)
                log_rows.append(row)
                info = f"D {row['loss_d']:.3f}  G {row['loss_g']:.3f}  D(x) {row['d_real']:.2f}"
                progress.update(task, info=info + f"  D(G(z)) {row['d_fake']:.2f}")
            if done % settings.sample_every == 0:
                _write_samples(G_ema, out / f"samples-{done:06d}.png", settings.seed)
            if done % settings.checkpoint_every == 0 or done == settings.steps:
                save_checkpoint(checkpoint, done, modules, optimizers, {"noise": noise})
                store.write_csv("losses.csv", log_rows)
            progress.advance(task)
    store.record_time("train", time.perf_counter() - began)
    recalibrate_batchnorm(G_ema, settings.seed)
    save_generator(G_ema.cpu(), out)
    _write_samples(G_ema, out / "samples.png", settings.seed)
    store.write_csv("losses.csv", log_rows)
    last = log_rows[-1] if log_rows else {}
    store.write_summary(
        {
            "steps": settings.steps,
            "images_seen": settings.steps * min(settings.batch_size, len(data)),
            "train_images": len(data),
            "image_shape": list(config.image_shape),
            "num_classes": num_classes,
            "generator_parameters": count_parameters(G),
            "discriminator_parameters": count_parameters(D),
            "final_loss_d": last.get("loss_d"),
            "final_loss_g": last.get("loss_g"),
            "spec": f"builtin:{out}",
        }
    )
    return out


def _log_row(
    step: int,
    loss_d: torch.Tensor,
    loss_g: torch.Tensor,
    real_logit: torch.Tensor,
    fake_logit: torch.Tensor,
) -> dict[str, Any]:
    """One losses.csv row: losses and the mean discriminator probabilities D(x), D(G(z))."""
    return {
        "step": step,
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(real_logit).mean().item(),
        "d_fake": torch.sigmoid(fake_logit).mean().item(),
        "time": round(time.time(), 1),
    }


def _read_log(path: Path, upto_step: int) -> list[dict[str, Any]]:
    """Rows of an existing losses.csv up to `upto_step` (a resumed run continues the log)."""
    import csv

    if upto_step == 0 or not path.exists():
        return []
    with path.open() as handle:
        rows = [
            {k: (int(v) if k == "step" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]
    return [row for row in rows if row["step"] <= upto_step]
