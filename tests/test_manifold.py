"""`project` and `manifold` end to end on small fake generators (python: specs)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ganprobe.config import ManifoldSettings, ProjectionSettings, ProjectSettings
from ganprobe.experiments.manifold import run_manifold, run_project
from tests.projection_fakes import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")
MLP = "python:tests/projection_fakes.py:make_mlp"
FAST = ProjectionSettings(restarts=2, steps=80, tolerance=1e-3)


def _read_csv(path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_project_writes_table_summary_and_figures(tmp_path) -> None:
    settings = ProjectSettings(generator=MLP, data="ood:noise", limit=6, projection=FAST,
                               shard_size=4)
    summary = run_project(settings, tmp_path / "run")
    rows = _read_csv(tmp_path / "run" / "projection.csv")
    assert list(rows[0]) == ["index", "label", "l2", "rmse", "restart_spread", "steps"]
    assert len(rows) == 6 == summary["count"]
    rmse = np.array([float(r["rmse"]) for r in rows])
    l2 = np.array([float(r["l2"]) for r in rows])
    assert np.allclose(rmse, l2 / 6.0)  # D = 36
    assert summary["median_rmse"] == pytest.approx(float(np.median(rmse)))
    assert summary["validity"]["valid"] and summary["validity"]["count"] == 16
    for name in ("summary.json", "config.json", "reconstructions.png", "distance_histogram.png"):
        assert (tmp_path / "run" / name).exists()


def test_manifold_groups_validity_and_resume(tmp_path) -> None:
    settings = ManifoldSettings(generator=MLP, data=["ood:noise", "ood:constant"], limit=8,
                                generated=8, projection=FAST, shard_size=4)
    out = tmp_path / "run"
    summary = run_manifold(settings, out)
    assert set(summary["groups"]) == {"generated", "ood:noise", "ood:constant"}
    for group in summary["groups"].values():
        assert {"median_rmse", "mean_rmse", "count"} <= set(group)
        assert group["count"] == 8
    # generated images reconstruct: the validity check passes, no warning
    assert summary["groups"]["generated"]["median_rmse"] < 0.05
    assert summary["validity"]["valid"] and summary["warnings"] == []
    assert summary["groups"]["ood:noise"]["median_rmse"] > 0.2
    rows = _read_csv(out / "manifold.csv")
    assert len(rows) == 24 and list(rows[0])[:3] == ["group", "index", "label"]
    assert json.loads((out / "summary.json").read_text())["groups"] == summary["groups"]
    assert (out / "distance_histogram.png").exists() and (out / "reconstructions.png").exists()
    # resume: every shard is already finished, so nothing is recomputed and results are equal
    manifest = (out / "shards" / "manifest.json").read_text()
    again = run_manifold(settings, out)
    assert (out / "shards" / "manifest.json").read_text() == manifest
    for name, group in summary["groups"].items():
        assert again["groups"][name]["median_rmse"] == group["median_rmse"]


def test_weak_projection_triggers_the_validity_warning(tmp_path) -> None:
    weak = ProjectionSettings(restarts=1, steps=1, lr=1e-4)
    settings = ManifoldSettings(generator=MLP, data=["ood:noise"], limit=4, generated=8,
                                projection=weak)
    summary = run_manifold(settings, tmp_path / "run")
    assert summary["validity"]["valid"] is False
    assert "too weak" in summary["warnings"][0]


def test_project_conditional_fixed_class_and_closest_class(tmp_path) -> None:
    import torch

    from tests.projection_fakes import TemplateGenerator

    generator = TemplateGenerator()
    labels = torch.tensor([2, 2, 3])
    with torch.no_grad():
        images = generator(torch.zeros(3, 2), labels)
    np.savez(tmp_path / "x.npz", images=images.numpy())  # no labels: closest class is used
    spec = f"npz:{tmp_path / 'x.npz'}"
    template = "python:tests/projection_fakes.py:make_template"
    projection = ProjectionSettings(restarts=1, steps=60)
    closest = run_project(ProjectSettings(generator=template, data=spec, projection=projection),
                          tmp_path / "closest")
    fixed = run_project(ProjectSettings(generator=template, data=spec, class_label=2,
                                        projection=projection), tmp_path / "fixed")
    rows = _read_csv(tmp_path / "fixed" / "projection.csv")
    assert closest["median_rmse"] < 0.02
    assert float(rows[0]["rmse"]) < 0.02 and float(rows[2]["rmse"]) > 0.3  # image 2 is class 3
    assert fixed["count"] == 3
