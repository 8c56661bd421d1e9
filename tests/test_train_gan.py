"""GAN training: run directory contents, exact resume after a kill, conditional data checks."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import ganprobe.train.gan as gan_module
from ganprobe.cli import app
from ganprobe.config import DensityTrainSettings, GanTrainSettings
from ganprobe.errors import GanprobeError
from ganprobe.experiments.demo import train_all
from ganprobe.models import load_generator
from ganprobe.train.common import batch_indices
from ganprobe.train.gan import train_gan
from ganprobe.utils import STOP_REQUESTED, torch_threads


def write_two_class_npz(path, n=32, labels=True):
    """n uint8 8x8 images: class 0 bright on top, class 1 bright at the bottom, plus noise."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    images = rng.integers(0, 60, size=(n, 8, 8)).astype(np.uint8)
    for i, label in enumerate(y):
        rows = slice(0, 4) if label == 0 else slice(4, 8)
        images[i, rows] += 180
    arrays = {"images": images, "labels": y.astype(np.int64)} if labels else {"images": images}
    np.savez(path, **arrays)
    return f"npz:{path}"


def tiny(spec: str, **overrides) -> GanTrainSettings:
    values = dict(
        data=spec, width=4, latent_dim=3, batch_size=8, steps=6, checkpoint_every=2, sample_every=3
    )
    values.update(overrides)
    return GanTrainSettings(**values)


def test_run_directory_holds_a_loadable_generator(tmp_path):
    spec = write_two_class_npz(tmp_path / "d.npz")
    run = train_gan(tiny(spec), tmp_path / "run")
    for name in (
        "config.json",
        "checkpoint.safetensors",
        "generator.json",
        "generator.safetensors",
        "losses.csv",
        "summary.json",
        "samples.png",
        "samples-000003.png",
    ):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["images_seen"] == 48
    assert summary["spec"] == f"builtin:{run}"
    generator = load_generator(f"builtin:{run}")
    assert generator.image_shape == (1, 8, 8) and generator.num_classes == 0
    assert np.isfinite(summary["final_loss_d"])


def test_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    spec = write_two_class_npz(tmp_path / "d.npz")
    settings = tiny(spec, conditional=True)
    train_gan(settings, tmp_path / "straight")

    real_update = gan_module.ema_update
    calls = {"n": 0}

    def dying_update(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # killed during step 4, after the step-2 checkpoint
        real_update(*args)

    monkeypatch.setattr(gan_module, "ema_update", dying_update)
    with pytest.raises(KeyboardInterrupt):
        train_gan(settings, tmp_path / "resumed")
    assert not (tmp_path / "resumed" / "generator.safetensors").exists()
    monkeypatch.setattr(gan_module, "ema_update", real_update)
    train_gan(settings, tmp_path / "resumed")
    straight = load_file(str(tmp_path / "straight" / "generator.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "generator.safetensors"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0)


def test_conditional_generator_needs_labels(tmp_path):
    spec = write_two_class_npz(tmp_path / "d.npz", labels=False)
    with pytest.raises(GanprobeError, match="without labels"):
        train_gan(tiny(spec, conditional=True), tmp_path / "run")


def test_batches_are_permutations_per_epoch():
    batches = [batch_indices(10, 3, step, seed=5) for step in range(6)]  # 3 batches per epoch
    first, second = torch.cat(batches[:3]), torch.cat(batches[3:])
    assert len(set(first.tolist())) == 9 and len(set(second.tolist())) == 9
    assert not torch.equal(first, second)
    torch.testing.assert_close(batch_indices(10, 3, 4, seed=5), batches[4])


def test_quick_settings_and_cli(tmp_path):
    quick = GanTrainSettings.quick(steps=50)
    assert quick.steps == 50 and quick.limit == 10000
    assert GanTrainSettings().steps > quick.steps
    spec = write_two_class_npz(tmp_path / "d.npz")
    args = [
        "train",
        "gan",
        "--data",
        spec,
        "--out",
        str(tmp_path / "cli"),
        "--steps",
        "2",
        "--width",
        "4",
        "--batch-size",
        "8",
        "--conditional",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert load_generator(f"builtin:{tmp_path / 'cli'}").num_classes == 2
    result = CliRunner().invoke(app, args[:-1] + ["--steps", "0"])
    assert result.exit_code == 2


def test_batchnorm_recalibration_gives_exact_averages_of_batch_statistics():
    from ganprobe.models.dcgan import DCGANGenerator
    from ganprobe.train.gan import recalibrate_batchnorm

    generator = DCGANGenerator(image_shape=(1, 8, 8), latent_dim=3, width=4)
    first_norm = generator.stem[2]
    first_norm.running_mean.fill_(5.0)  # stale statistics that must disappear
    recalibrate_batchnorm(generator, seed=3, batches=4, batch_size=16)
    rng = torch.Generator().manual_seed(3)
    means = []
    with torch.no_grad():
        for _ in range(4):
            z = generator.sample_latent(16, rng)
            pre = generator.stem[1](generator.stem[0](z))  # linear + unflatten: BN input
            means.append(pre.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(first_norm.running_mean, torch.stack(means).mean(0))
    assert not generator.training and first_norm.momentum == 0.1


def test_models_trained_side_by_side_equal_models_trained_alone(tmp_path, monkeypatch):
    """The demo's models stage trains two models at a time in threads; each gets exactly the
    weights it gets trained alone (same thread count), and a fresh draw of the global RNG
    between runs changes nothing."""
    spec = write_two_class_npz(tmp_path / "two.npz")
    jobs = {
        "gan": tiny(spec, steps=8),
        "cgan": tiny(spec, steps=8, conditional=True),
        "density-vae": DensityTrainSettings(
            model="vae", data=spec, test_data=None, vae_architecture="linear", steps=8,
            batch_size=8, train_eval_limit=8, iwae_limit=4, ais_limit=2,
            ais={"chains": 2, "temperatures": 3, "leapfrog": 1, "mode_steps": 2,
                 "mode_restarts": 1, "laplace_components": 1},
        ),
    }
    monkeypatch.setenv("GANPROBE_CACHE", str(tmp_path / "together"))
    together = train_all(jobs, workers=2)
    monkeypatch.setenv("GANPROBE_CACHE", str(tmp_path / "alone"))
    alone = {}
    with torch_threads(max(1, torch.get_num_threads() // 2)):
        for kind, settings in jobs.items():
            torch.rand(100)  # the global RNG is wherever another job left it
            alone.update(train_all({kind: settings}, workers=1))
    files = {"gan": "generator.safetensors", "cgan": "generator.safetensors",
             "density-vae": "model.safetensors"}
    for kind, name in files.items():
        first = load_file(f"{together[kind]}/{name}")
        second = load_file(f"{alone[kind]}/{name}")
        assert first.keys() == second.keys()
        for key in first:
            assert torch.equal(first[key], second[key]), (kind, key)


def test_a_failing_job_stops_the_other_training_at_its_next_step(tmp_path, monkeypatch):
    """train_all: when one job fails (or Ctrl-C reaches the main thread), the jobs running in
    the other worker stop at their next step instead of training to the end."""
    spec = write_two_class_npz(tmp_path / "two.npz")
    monkeypatch.setenv("GANPROBE_CACHE", str(tmp_path / "cache"))
    jobs = {
        "gan": tiny(spec, steps=10**6, checkpoint_every=10**6, sample_every=10**6),
        "cgan": tiny(spec, steps=5, conditional=True, data="npz:/no/such/file.npz"),
    }
    start = time.monotonic()
    with pytest.raises(GanprobeError):
        train_all(jobs, workers=2)
    assert time.monotonic() - start < 30
    assert not STOP_REQUESTED.is_set()  # cleared for the next call
