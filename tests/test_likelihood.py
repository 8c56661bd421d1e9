"""`run_likelihood` / `run_compare_density` end to end on a linear generator, where the exact
log_px is known: the CSV values, the chosen sigma, BDMC, OOD statistics, resume, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganprobe.cli import app
from ganprobe.config import AISSettings, LikelihoodSettings
from ganprobe.experiments.likelihood import geometric_sigmas, ood_statistics, run_likelihood

GENERATOR_SOURCE = '''
import torch
from torch import nn


class Linear(nn.Module):
    """G(z) = W z + b as a 1x4x4 image; W, b fixed by seed 0."""

    latent_dim = 2
    image_shape = (1, 4, 4)

    def __init__(self):
        super().__init__()
        rng = torch.Generator().manual_seed(0)
        self.register_buffer("weight", 0.15 * torch.randn(16, 2, generator=rng))
        self.register_buffer("bias", 0.1 * torch.randn(16, generator=rng))

    def forward(self, z):
        return (z @ self.weight.T + self.bias).view(-1, 1, 4, 4)


def factory():
    return Linear()
'''
TRUE_SIGMA = 0.2
FAST_AIS = AISSettings(chains=4, temperatures=20, leapfrog=3, mode_steps=40)


def linear_parameters() -> tuple[torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(0)
    weight = 0.15 * torch.randn(16, 2, generator=rng)
    return weight.double(), (0.1 * torch.randn(16, generator=rng)).double()


def exact_log_px(x: np.ndarray) -> np.ndarray:
    weight, bias = linear_parameters()
    covariance = weight @ weight.T + TRUE_SIGMA**2 * torch.eye(16, dtype=torch.float64)
    normal = torch.distributions.MultivariateNormal(bias, covariance)
    return normal.log_prob(torch.from_numpy(x).double().reshape(len(x), 16)).numpy()


@pytest.fixture
def study(tmp_path: Path) -> dict[str, str]:
    """A python: generator spec, in-distribution data drawn from it at TRUE_SIGMA (inside
    [-1, 1]) and a far-away OOD set, as npz specs."""
    (tmp_path / "linear_gen.py").write_text(GENERATOR_SOURCE)
    weight, bias = linear_parameters()
    rng = torch.Generator().manual_seed(1)
    z = torch.randn(200, 2, generator=rng, dtype=torch.float64)
    x = z @ weight.T + bias + TRUE_SIGMA * torch.randn(200, 16, generator=rng, dtype=torch.float64)
    x = x[(x.abs() < 0.99).all(1)][:40].float().view(-1, 4, 4).numpy()
    np.savez(tmp_path / "in.npz", images=x)
    ood = np.full((10, 4, 4), 0.9, dtype=np.float32)
    ood[:, ::2] = -0.9
    np.savez(tmp_path / "ood.npz", images=ood)
    return {
        "generator": f"python:{tmp_path / 'linear_gen.py'}:factory",
        "in": f"npz:{tmp_path / 'in.npz'}",
        "ood": f"npz:{tmp_path / 'ood.npz'}",
        "in_images": x,
    }


def test_geometric_sigmas() -> None:
    assert geometric_sigmas(0.05, 0.8, 5) == [0.05, 0.1, 0.2, 0.4, 0.8]


def test_ood_statistics_flags_higher_likelihood() -> None:
    stats = ood_statistics({"in": np.array([0.0, 1.0, 2.0]), "odd": np.array([5.0, 6.0])})
    assert stats["odd"]["higher_mean_log_px_than_in"] is True
    assert stats["odd"]["auroc"] == 0.0  # -log_px ranks every OOD image as most in-distribution


def test_run_likelihood_exact_on_linear_generator(study: dict, tmp_path: Path) -> None:
    settings = LikelihoodSettings(
        generator=study["generator"], data=[study["in"], study["ood"]],
        sweep_min=0.05, sweep_max=0.8, sweep_points=3, sweep_limit=16, limit=8, bdmc=4,
        ais=FAST_AIS, shard_size=8, device="cpu",
    )
    out = tmp_path / "run"
    summary = run_likelihood(settings, out)
    assert summary["best_sigma"] == TRUE_SIGMA  # candidates 0.05, 0.2, 0.8
    rows = np.genfromtxt(out / "likelihood.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    assert list(rows.dtype.names) == [
        "group", "index", "label", "sigma", "log_px", "bpd", "ess", "acceptance"
    ]
    evaluated = rows[(rows["group"] == study["in"]) & (rows["sigma"] == TRUE_SIGMA)]
    assert len(evaluated) == 8
    from ganprobe.data import load_images

    images = load_images(study["in"], limit=8 + 16, seed=0).images[:8].numpy()
    error = evaluated["log_px"] - exact_log_px(images)
    assert np.abs(error).mean() < 0.5 and np.abs(error).max() < 2.0
    bdmc = summary["bdmc"]
    assert bdmc["mean_lower"] <= bdmc["mean_upper"] + 1e-6 and abs(bdmc["mean_gap"]) < 1.0
    assert summary["ood"][study["ood"]]["higher_mean_log_px_than_in"] is False
    assert summary["ood"][study["ood"]]["auroc"] == 1.0
    for name in ("summary.json", "bpd_vs_sigma.png", "bpd_histograms.png", "config.json"):
        assert (out / name).exists()
    # resume: a second call recomputes nothing and returns the same summary
    shards = sorted((out / "shards").glob("*.npz"))
    mtimes = [p.stat().st_mtime_ns for p in shards]
    again = run_likelihood(settings, out)
    assert [p.stat().st_mtime_ns for p in shards] == mtimes
    assert again["at_best_sigma"] == summary["at_best_sigma"]


def test_sweep_extends_past_an_edge_maximum(study: dict, tmp_path: Path) -> None:
    """The true sigma (0.2) lies below a sweep starting at 0.4: the sweep must extend
    downwards (0.4 / 2 = 0.2) and stop once the maximum is interior."""
    settings = LikelihoodSettings(
        generator=study["generator"], data=[study["in"]], sweep_min=0.4, sweep_max=0.8,
        sweep_points=2, sweep_limit=16, limit=4, bdmc=0, ais=FAST_AIS, shard_size=8,
        device="cpu",
    )
    summary = run_likelihood(settings, tmp_path / "run")
    sigmas = [s["sigma"] for s in summary["sweep"]]
    assert summary["best_sigma"] == TRUE_SIGMA
    assert sigmas == [0.1, 0.2, 0.4, 0.8]
    assert summary["best_sigma_at_sweep_edge"] is False


def test_cli_likelihood_and_bad_input(study: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, [
        "likelihood", "--generator", study["generator"], "--data", study["in"],
        "--sigma", "0.2", "--limit", "4", "--chains", "2", "--temperatures", "10",
        "--leapfrog", "2", "--bdmc", "0", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_sigma"] == 0.2 and summary["sigma_selection"] == "only candidate"
    bad = runner.invoke(app, [
        "likelihood", "--generator", study["generator"], "--data", study["in"],
        "--sigma", "-1", "--out", str(tmp_path / "bad"),
    ])
    assert bad.exit_code == 2 and "sigma" in bad.output
    bad_sweep = runner.invoke(app, [
        "likelihood", "--generator", study["generator"], "--data", study["in"],
        "--sweep", "0.1:0.4", "--out", str(tmp_path / "bad-sweep"),
    ])
    assert bad_sweep.exit_code == 2 and "--sweep" in bad_sweep.output
    assert math.isfinite(summary["at_best_sigma"][study["in"]]["mean_bpd"])


def test_run_compare_density_tables_gan_beside_baseline(study: dict, tmp_path: Path) -> None:
    from ganprobe.config import CompareDensitySettings, DensityTrainSettings
    from ganprobe.experiments.likelihood import run_compare_density
    from ganprobe.train.density import train_density

    density_dir = train_density(
        DensityTrainSettings(model="gaussian", data=study["in"], test_data=None,
                             train_eval_limit=10),
        tmp_path / "gaussian",
    )
    settings = CompareDensitySettings(
        generator=study["generator"], data=[study["in"], study["ood"]], sigmas=[0.1, 0.2],
        sweep_limit=8, limit=8, bdmc=0, ais=FAST_AIS, shard_size=8, device="cpu",
        densities=[f"density:{density_dir}"],
    )
    out = tmp_path / "compare"
    summary = run_compare_density(settings, out)
    assert summary["best_sigma"] == TRUE_SIGMA
    assert "gan" in summary["models"] and len(summary["models"]) == 2
    assert summary["models"]["gan"]["sigma"] == TRUE_SIGMA
    baseline = next(m for m in summary["models"] if m != "gan")
    for model in ("gan", baseline):
        ood = summary["models"][model]["ood"][study["ood"]]
        assert 0.0 <= ood["auroc"] <= 1.0 and isinstance(ood["higher_mean_log_px_than_in"], bool)
        assert math.isfinite(summary["models"][model]["bpd"][study["in"]])
    table = (out / "bpd_table.csv").read_text().splitlines()
    assert table[0].startswith("model,group,mean_log_px,mean_bpd")
    assert len(table) == 1 + 2 * 2
    for name in ("density.csv", "bpd_vs_sigma.png", "bpd_histograms.png", "likelihood.csv"):
        assert (out / name).exists()


def test_sweep_from_needs_a_finished_likelihood_run(tmp_path: Path) -> None:
    from ganprobe.errors import GanprobeError
    from ganprobe.experiments.likelihood import _sweep_of

    with pytest.raises(GanprobeError, match="--sweep-from"):
        _sweep_of(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"sweep": [{"sigma": 0.1}]}))
    assert _sweep_of(tmp_path) == [{"sigma": 0.1}]
