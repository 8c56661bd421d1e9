"""`outliers` end to end: summary layout, and AUROC recomputable from the per-image table."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ganprobe.config import OutlierSettings, ProjectionSettings
from ganprobe.experiments.outliers import run_outliers
from ganprobe.metrics import detection_metrics
from tests.projection_fakes import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")


def test_outliers_summary_and_table(tmp_path) -> None:
    settings = OutlierSettings(
        generator="python:tests/projection_fakes.py:make_mlp", in_data="ood:noise",
        ood=["ood:constant", "digits"], train="digits", limit=10, train_limit=50,
        projection=ProjectionSettings(restarts=2, steps=80), shard_size=5,
    )
    summary = run_outliers(settings, tmp_path / "run")
    assert set(summary["auroc"]) == {"ood:constant", "digits"}
    for name in ("auroc", "aupr", "fpr_at_95_tpr"):
        assert set(summary[name]["digits"]) == {"gan_l2", "nn_l2"}
    with open(tmp_path / "run" / "outliers.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30
    scores = {(r["group"], m): [] for r in rows for m in ("gan_l2", "nn_l2")}
    for r in rows:
        for m in ("gan_l2", "nn_l2"):
            scores[(r["group"], m)].append(float(r[m]))
    for m in ("gan_l2", "nn_l2"):
        expected = detection_metrics(np.array(scores[("ood:noise", m)]),
                                     np.array(scores[("digits", m)]))
        assert summary["auroc"]["digits"][m] == pytest.approx(expected["auroc"])
    assert (tmp_path / "run" / "auroc.png").exists()
    # the validity check: generated images reconstruct, so the comparison stands
    assert summary["validity"]["valid"] and summary["validity"]["count"] == 16
    assert summary["warnings"] == []


def test_outliers_weak_projection_is_flagged(tmp_path) -> None:
    settings = OutlierSettings(
        generator="python:tests/projection_fakes.py:make_mlp", in_data="ood:noise",
        ood=["ood:constant"], train="digits", limit=4, train_limit=10, validity_count=4,
        projection=ProjectionSettings(restarts=1, steps=1, lr=1e-4),
    )
    summary = run_outliers(settings, tmp_path / "run")
    assert summary["validity"]["valid"] is False
    assert summary["validity"]["generated_median_rmse"] > 0.05
    assert "too weak" in summary["warnings"][0]


def test_outliers_with_lpips_keys(tmp_path) -> None:
    projection = ProjectionSettings(restarts=1, steps=3, report_lpips=True,
                                    lpips_backbone="random")
    settings = OutlierSettings(
        generator="python:tests/projection_fakes.py:make_mlp", in_data="ood:noise",
        ood=["ood:constant"], train="digits", limit=3, train_limit=10, projection=projection,
    )
    summary = run_outliers(settings, tmp_path / "run")
    assert set(summary["auroc"]["ood:constant"]) == {"gan_l2", "nn_l2", "gan_lpips", "nn_lpips"}
    assert (tmp_path / "run" / "gan_lpips_histogram.png").exists()
