"""`run_typicality` / `ganprobe typicality` end to end on a linear generator, whose density
p_sigma(x) = N(x; b, W W^T + sigma^2 I) is known exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganprobe.cli import app
from ganprobe.config import AISSettings, ProjectionSettings, TypicalitySettings
from ganprobe.experiments.typicality import run_typicality

GENERATOR_CODE = """
import torch
from torch import nn


class Linear(nn.Module):
    latent_dim = 3
    image_shape = (1, 4, 4)

    def __init__(self):
        super().__init__()
        rng = torch.Generator().manual_seed(0)
        self.register_buffer("weight", 0.1 * torch.randn(16, 3, generator=rng))
        self.register_buffer("bias", 0.05 * torch.randn(16, generator=rng))

    def forward(self, z):
        return (z @ self.weight.T + self.bias).view(-1, 1, 4, 4)


def make():
    return Linear()
"""
SIGMA = 0.1


def exact_log_px(x: np.ndarray) -> np.ndarray:
    """Exact log N(x; b, W W^T + sigma^2 I) of the module above, x [N, 16]."""
    rng = torch.Generator().manual_seed(0)
    weight = (0.1 * torch.randn(16, 3, generator=rng)).double()
    bias = (0.05 * torch.randn(16, generator=rng)).double()
    cov = weight @ weight.T + SIGMA**2 * torch.eye(16, dtype=torch.float64)
    normal = torch.distributions.MultivariateNormal(bias, covariance_matrix=cov)
    return normal.log_prob(torch.as_tensor(x, dtype=torch.float64)).numpy()


def model_draws(count: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = torch.Generator().manual_seed(0)
    weight = 0.1 * torch.randn(16, 3, generator=rng)
    bias = 0.05 * torch.randn(16, generator=rng)
    draws = np.random.default_rng(seed)
    z = torch.as_tensor(draws.standard_normal((count, 3)), dtype=torch.float32)
    noise = torch.as_tensor(draws.standard_normal((count, 16)), dtype=torch.float32)
    return (z @ weight.T + bias + SIGMA * noise + shift).numpy()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("typicality")
    (root / "linear.py").write_text(GENERATOR_CODE)
    typical = model_draws(48, seed=11)
    shifted = model_draws(48, seed=12, shift=0.25)
    np.savez(root / "typical.npz", images=typical.reshape(-1, 1, 4, 4))
    np.savez(root / "shifted.npz", images=shifted.reshape(-1, 1, 4, 4))
    settings = TypicalitySettings(
        generator=f"python:{root / 'linear.py'}:make",
        sigma=SIGMA,
        data=[f"npz:{root / 'typical.npz'}", f"npz:{root / 'shifted.npz'}"],
        samples=96,
        limit=48,
        batch_sizes=[1, 8],
        alpha=0.05,
        bootstrap=500,
        ais=AISSettings(chains=4, temperatures=20, leapfrog=3, mode_steps=30),
        latent_limit=24,
        projection=ProjectionSettings(restarts=2, steps=80, lr=0.1),
        shard_size=48,
        device="cpu",
    )
    out = root / "run"
    summary = run_typicality(settings, out)
    return {"root": root, "settings": settings, "out": out, "summary": summary,
            "typical": typical, "shifted": shifted}


def test_ais_log_px_matches_exact_density(setup: dict) -> None:
    rows = [r.split(",") for r in (setup["out"] / "log_px.csv").read_text().splitlines()]
    header, body = rows[0], rows[1:]
    group, log_px = header.index("group"), header.index("log_px")
    typical_spec = setup["settings"].data[0]
    estimated = np.array([float(r[log_px]) for r in body if r[group] == typical_spec])
    exact = exact_log_px(setup["typical"])
    np.testing.assert_allclose(estimated, exact, atol=0.15)


def test_model_draws_are_typical_shifted_are_not(setup: dict) -> None:
    summary = setup["summary"]
    typical_spec, shifted_spec = setup["settings"].data
    typical, shifted = summary["groups"][typical_spec], summary["groups"][shifted_spec]
    assert typical["fraction_typical"] >= 0.85
    assert shifted["fraction_typical"] <= 0.2
    assert typical["ks_pvalue"] > 0.01 > shifted["ks_pvalue"]
    assert shifted["reject_rate"]["8"] == 1.0
    assert typical["reject_rate"]["8"] <= 0.5
    # entropy of the exact Gaussian: 0.5 log det(2 pi e Sigma)
    exact_entropy = -exact_log_px(model_draws(20000, seed=13)).mean()
    assert summary["samples"]["entropy_nats"] == pytest.approx(exact_entropy, abs=1.5)
    band = summary["band"]
    assert band["low"] < -summary["samples"]["entropy_nats"] < band["high"]


def test_latent_view_and_outputs(setup: dict) -> None:
    summary, out = setup["summary"], setup["out"]
    typical_spec = setup["settings"].data[0]
    assert summary["expected_latent_norm"] == pytest.approx(
        math.sqrt(2) * math.gamma(2) / math.gamma(1.5)
    )
    assert 0.0 <= summary["groups"][typical_spec]["latent_ks_pvalue"] <= 1.0
    assert summary["groups"][typical_spec]["latent_norm_mean"] > 0
    for name in ("summary.json", "config.json", "log_px.csv", "log_px_hist.png",
                 "latent_norms.png", "timings.json"):
        assert (out / name).exists(), name
    assert json.loads((out / "summary.json").read_text())["groups"].keys() == summary[
        "groups"].keys()


def test_resume_reuses_finished_shards(setup: dict) -> None:
    manifest = setup["out"] / "shards" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    again = run_typicality(setup["settings"], setup["out"])
    assert manifest.stat().st_mtime_ns == before
    assert again["groups"] == json.loads(json.dumps(setup["summary"]["groups"]))


def test_cli_runs_and_rejects_bad_input(setup: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    settings = setup["settings"]
    result = runner.invoke(app, [
        "typicality", "--generator", settings.generator, "--sigma", "-1",
        "--data", settings.data[0], "--out", str(tmp_path / "bad"),
    ])
    assert result.exit_code == 2 and "sigma" in result.output
    result = runner.invoke(app, [
        "typicality", "--generator", settings.generator, "--sigma", "0.1",
        "--data", settings.data[0], "--out", str(tmp_path / "cli"), "--samples", "8",
        "--limit", "8", "--chains", "2", "--temperatures", "5", "--no-latent-view",
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["groups"][settings.data[0]]["n"] == 8
