"""`train_density` and `ganprobe train density` end to end on tiny data: files, scores that
match the saved model, resume after a kill, one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganprobe.cli import app
from ganprobe.config import AISSettings, DensityTrainSettings
from ganprobe.models.density import load_density
from ganprobe.models.density.base import dequantize
from ganprobe.train.density import train_density
from ganprobe.train.density_loop import train_iterative
from ganprobe.train.vae import build_vae, vae_loss
from ganprobe.units import bits_per_dim


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids oversubscription on shared CI cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def blobs_npz(tmp_path):
    """uint8 images [160, 8, 8] (NHW): a Gaussian blob at a random place on a dark background,
    labels 0/1 by the blob's half; split into train.npz (120) and test.npz (40)."""
    rng = np.random.default_rng(0)
    grid = np.arange(8)
    centres = rng.uniform(1, 6, size=(160, 2))
    d2 = (grid[None, :, None] - centres[:, 0, None, None]) ** 2 + (
        grid[None, None, :] - centres[:, 1, None, None]
    ) ** 2
    images = np.clip(255 * np.exp(-d2 / 4.0) + rng.normal(0, 8, d2.shape), 0, 255)
    images = images.astype(np.uint8)
    labels = (centres[:, 0] > 3.5).astype(np.int64)
    np.savez(tmp_path / "train.npz", images=images[:120], labels=labels[:120])
    np.savez(tmp_path / "test.npz", images=images[120:], labels=labels[120:])
    return tmp_path


def tiny(model: str, data_dir, **overrides) -> DensityTrainSettings:
    values = dict(
        model=model, data=f"npz:{data_dir / 'train.npz'}", test_data=f"npz:{data_dir / 'test.npz'}",
        ppca_rank=4, vae_channels=4, vae_latent_dim=2, steps=30, batch_size=32,
        checkpoint_every=10, flow_transforms=2, flow_hidden=16, iwae_samples=8, ais_limit=3,
        ais=AISSettings(chains=2, temperatures=5, leapfrog=2, mode_steps=5),
    )
    values.update(overrides)
    return DensityTrainSettings(**values)


@pytest.mark.parametrize("model", ["gaussian", "ppca", "flow"])
def test_exact_models_write_scores_that_the_saved_model_reproduces(tmp_path, blobs_npz, model):
    run = train_density(tiny(model, blobs_npz), tmp_path / model)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["groups"]["train"]["images"] == 120 and summary["groups"]["test"]["images"] == 40
    assert summary["train_bpd"] == summary["groups"]["train"]["bpd"]
    rows = (run / "log_px.csv").read_text().splitlines()
    header = rows[0].split(",")
    split = [dict(zip(header, r.split(","), strict=True)) for r in rows[1:]]
    test_rows = [r for r in split if r["group"] == "test"]
    log_px_csv = np.array([float(r["log_px"]) for r in test_rows])
    # rescore the same dequantized test images (noise seeded by seed + 2 for the 2nd group)
    from ganprobe.data import load_images

    test = load_images(f"npz:{blobs_npz / 'test.npz'}")
    x = dequantize(test.images, torch.Generator().manual_seed(0 + 1 + 1))
    density = load_density(f"density:{run}")
    np.testing.assert_allclose(density.log_px(x).numpy(), log_px_csv, rtol=1e-6, atol=1e-6)
    expected_bpd = float(bits_per_dim(log_px_csv.mean(), 64))
    assert summary["test_bpd"] == pytest.approx(expected_bpd, abs=1e-6)
    if model == "flow":
        assert (run / "loss.png").stat().st_size > 0
        assert not (run / "checkpoint.safetensors").exists()


def test_vae_run_reports_elbo_iwae_and_ais(tmp_path, blobs_npz):
    run = train_density(tiny("vae", blobs_npz), tmp_path / "vae")
    test = json.loads((run / "summary.json").read_text())["groups"]["test"]
    assert test["ais_images"] == 3 and test["images"] == 40
    assert test["elbo_bpd"] >= test["iwae_bpd"]  # bpd: higher = worse; ELBO <= IWAE
    assert math.isfinite(test["bpd"]) and 0 < test["ais_acceptance_mean"] <= 1
    assert load_density(f"density:{run}").ais.temperatures == 5  # AIS defaults from the run


def test_finished_run_is_not_recomputed_and_other_config_is_refused(tmp_path, blobs_npz):
    settings = tiny("gaussian", blobs_npz)
    run = train_density(settings, tmp_path / "g")
    stamp = (run / "summary.json").stat().st_mtime_ns
    train_density(settings, run)
    assert (run / "summary.json").stat().st_mtime_ns == stamp
    with pytest.raises(Exception, match="another config"):
        train_density(tiny("gaussian", blobs_npz, gaussian_ridge=0.1), run)


def test_iterative_training_resumes_exactly_after_a_kill(tmp_path, blobs_npz):
    from ganprobe.data import load_images

    images = load_images(f"npz:{blobs_npz / 'train.npz'}").images
    settings = tiny("vae", blobs_npz, vae_architecture="linear")
    args = dict(steps=25, batch_size=16, lr=1e-2, seed=3, checkpoint_every=10)

    straight = build_vae(settings, (1, 8, 8))
    losses = train_iterative(straight, vae_loss, images, run_dir=tmp_path / "a", **args)

    calls = {"n": 0}

    def dying_loss(model, batch, generator):
        calls["n"] += 1
        if calls["n"] == 16:  # killed during step 16 (after the checkpoint of step 10)
            raise KeyboardInterrupt
        return vae_loss(model, batch, generator)

    resumed = build_vae(settings, (1, 8, 8))
    with pytest.raises(KeyboardInterrupt):
        train_iterative(resumed, dying_loss, images, run_dir=tmp_path / "b", **args)
    resumed = build_vae(settings, (1, 8, 8))  # a fresh process: weights from the checkpoint
    resumed_losses = train_iterative(resumed, vae_loss, images, run_dir=tmp_path / "b", **args)
    torch.testing.assert_close(resumed_losses, losses, rtol=0, atol=0)
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def test_cli_trains_ppca_and_rejects_bad_input(tmp_path, blobs_npz):
    runner = CliRunner()
    out = tmp_path / "ppca"
    args = ["train", "density", "--model", "ppca", "--ppca-rank", "3", "--out", str(out),
            "--data", f"npz:{blobs_npz / 'train.npz'}", "--test-data", "none"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert load_density(f"density:{out}").rank == 3
    assert "test" not in json.loads((out / "summary.json").read_text())["groups"]
    bad = runner.invoke(app, [*args[:3], "mixture", *args[4:]])
    assert bad.exit_code == 2 and "model" in bad.output
    too_big = runner.invoke(app, [*args[:5], "64", "--out", str(tmp_path / "x"), *args[8:]])
    assert too_big.exit_code == 2 and "ppca-rank" in too_big.output
