"""Frechet distance against closed forms; the quality run on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganprobe.config import ClassifierTrainSettings, QualitySettings
from ganprobe.models.dcgan import DCGANGenerator, save_generator
from ganprobe.models.quality import feature_frechet_distance, frechet_distance, run_quality
from ganprobe.train.classifier import train_classifier
from tests.test_train_gan import write_two_class_npz


def test_frechet_distance_of_diagonal_gaussians():
    mu_1, mu_2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_1, var_2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    want = 1 + 0 + 4 + ((np.sqrt(var_1) - np.sqrt(var_2)) ** 2).sum()
    got = frechet_distance(mu_1, np.diag(var_1), mu_2, np.diag(var_2))
    assert got == pytest.approx(want, rel=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    cov_1, cov_2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu_1, mu_2 = rng.normal(size=4), rng.normal(size=4)
    cross = scipy.linalg.sqrtm(cov_1 @ cov_2).real
    want = ((mu_1 - mu_2) ** 2).sum() + np.trace(cov_1 + cov_2 - 2 * cross)
    assert frechet_distance(mu_1, cov_1, mu_2, cov_2) == pytest.approx(want, rel=1e-9)
    assert frechet_distance(mu_1, cov_1, mu_1, cov_1) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(mu_1, cov_1, mu_2, cov_2) == pytest.approx(
        frechet_distance(mu_2, cov_2, mu_1, cov_1), rel=1e-9
    )


def test_sample_estimate_is_near_zero_for_one_distribution():
    rng = np.random.default_rng(1)
    same = feature_frechet_distance(rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3)))
    shifted = feature_frechet_distance(rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3)) + 1)
    assert same < 0.02 and shifted == pytest.approx(3.0, abs=0.15)


def test_quality_run_on_tiny_models(tmp_path):
    spec = write_two_class_npz(tmp_path / "d.npz", n=40)
    classifier_dir = train_classifier(
        ClassifierTrainSettings(
            data=spec, test_data=spec, width=4, feature_dim=6, epochs=1, batch_size=20
        ),
        tmp_path / "clf",
    )
    torch.manual_seed(0)
    save_generator(DCGANGenerator(image_shape=(1, 8, 8), num_classes=2, width=4), tmp_path / "g")
    settings = QualitySettings(
        generator=f"builtin:{tmp_path / 'g'}",
        data=spec,
        reference=spec,
        classifier=str(classifier_dir),
        samples=30,
        batch_size=4,
    )
    summary = run_quality(settings, tmp_path / "q")
    assert summary["fd_reference_vs_data"] == pytest.approx(0, abs=1e-6)  # same images
    assert summary["fd_samples_vs_data"] > 0
    assert set(summary["class_accuracy_per_class"]) == {"0", "1"}
    assert 0 <= summary["class_accuracy"] <= 1
    assert (tmp_path / "q" / "per_class.csv").exists() and (tmp_path / "q" / "samples.png").exists()
    assert run_quality(settings, tmp_path / "q") == summary  # resumed from stored shards


def test_cli_sample_grid_has_one_row_per_class(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from ganprobe.cli import app

    save_generator(DCGANGenerator(image_shape=(1, 8, 8), num_classes=3, width=4), tmp_path / "g")
    out = tmp_path / "grid.png"
    args = ["models", "sample", f"builtin:{tmp_path / 'g'}", "--out", str(out), "--n", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    width, height = Image.open(out).size
    assert width / height == pytest.approx(5 / 3, rel=0.05)  # 5 columns, 3 class rows
