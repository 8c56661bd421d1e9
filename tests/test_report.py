"""The report from stored results: sections, verdicts by their rules, embedded figures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ganprobe.errors import GanprobeError  # noqa: E402
from ganprobe.report import collect, write_report  # noqa: E402
from ganprobe.report.collect import flatten_numbers, format_value  # noqa: E402
from ganprobe.report.verdicts import (  # noqa: E402
    DOES_NOT_HOLD,
    HOLDS,
    NOT_AVAILABLE,
    classify_verdict,
    likelihood_verdict,
    manifold_verdict,
    outliers_verdict,
    typicality_verdict,
)
from ganprobe.store import RunStore  # noqa: E402

MANIFOLD = {
    "groups": {"fashion-mnist:train": {"median_rmse": 0.30}, "generated": {"median_rmse": 0.05}},
    "validity": {"valid": True},
}
OUTLIERS = {
    "auroc": {
        "digits": {"gan_l2": 0.40, "nn_l2": 0.90},
        "ood:noise": {"gan_l2": 0.99, "nn_l2": 1.0},
    },
    "ood_closer_to_manifold_than_in": {"digits": {"l2": True}, "ood:noise": {"l2": False}},
}
CLASSIFY = {"accuracy": {"gan_l2": 0.61, "nn_l2": 0.80, "classifier": 0.88}}
LIKELIHOOD = {
    "in_distribution": "fashion-mnist:test",
    "best_sigma": 0.2,
    "dim": 784,
    "bdmc": {"mean_gap": 3.5},
    "models": {
        "gan": {"bpd": {"fashion-mnist:test": 4.0, "digits": 3.0},
                "ood": {"digits": {"higher_mean_log_px_than_in": True}}},
        "gaussian": {"bpd": {"fashion-mnist:test": 3.5}},
        "flow": {"bpd": {"fashion-mnist:test": 4.5}},
    },
}
TYPICALITY = {
    "alpha": 0.01,
    "samples": {"log_px_mean": -450.0},
    "groups": {
        "fashion-mnist:train": {"n": 24, "fraction_typical": 0.9, "ks_pvalue": 1e-9,
                                "log_px_mean": -140.0, "reject_rate": {"1": 0.05, "8": 1.0}},
        "digits": {"n": 24, "fraction_typical": 0.0, "ks_pvalue": 1e-20,
                   "reject_rate": {"1": 1.0, "8": 1.0}},
    },
}


def _png(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture()
def demo_dir(tmp_path: Path) -> Path:
    store = RunStore.open(tmp_path, "demo", {"quick": True}, seed=7)
    parts = {
        "manifold": MANIFOLD,
        "outliers": OUTLIERS,
        "classify": CLASSIFY,
        "likelihood": LIKELIHOOD,
        "typicality": TYPICALITY,
    }
    for name, summary in parts.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
        _png(tmp_path / name / f"{name}_figure.png")
        store.record_time(name, 1.5)
    gan_dir = tmp_path / "cache" / "gan-0123"
    gan_dir.mkdir(parents=True)
    _png(gan_dir / "samples.png")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "models.json").write_text(json.dumps({"gan": str(gan_dir)}))
    return tmp_path


def test_verdict_rules_exact() -> None:
    manifold = manifold_verdict(MANIFOLD)
    assert manifold.status == HOLDS
    assert dict(manifold.evidence)["ratio train / generated"] == pytest.approx(6.0)
    close = {"groups": {"x:train": {"median_rmse": 0.09}, "generated": {"median_rmse": 0.05}}}
    assert manifold_verdict(close).status == DOES_NOT_HOLD
    assert manifold_verdict({**MANIFOLD, "validity": {"valid": False}}).status == NOT_AVAILABLE
    outliers = outliers_verdict(OUTLIERS)
    assert outliers.status == HOLDS and outliers.note.endswith("images: digits")
    assert classify_verdict(CLASSIFY).status == HOLDS
    assert classify_verdict({"accuracy": {"gan_l2": 0.9, "nn_l2": 0.8}}).status == DOES_NOT_HOLD
    invalid = {"validity": {"valid": False, "generated_median_rmse": 0.2}}
    assert outliers_verdict({**OUTLIERS, **invalid}).status == NOT_AVAILABLE
    assert classify_verdict({**CLASSIFY, **invalid}).status == NOT_AVAILABLE
    likelihood = likelihood_verdict(LIKELIHOOD)
    assert likelihood.status == HOLDS and likelihood.note.endswith("images: digits")
    assert dict(likelihood.evidence)["BDMC gap at best sigma (nats)"] == 3.5
    only_flow = {**LIKELIHOOD, "models": {k: v for k, v in LIKELIHOOD["models"].items()
                                          if k != "gaussian"}}
    assert likelihood_verdict(only_flow).status == DOES_NOT_HOLD
    # the BDMC gap: the GAN's AIS bpd may be too high by up to the gap
    small_gap = {**LIKELIHOOD, "bdmc": {"mean_gap": 100.0}}  # 0.184 bpd
    assert dict(likelihood_verdict(small_gap).evidence)["BDMC gap at best sigma (bpd)"] == (
        pytest.approx(100.0 / (784 * 0.6931471805599453)))
    assert likelihood_verdict(small_gap).status == HOLDS  # 3.5 < 4.0 - 0.184
    large_gap = {**LIKELIHOOD, "bdmc": {"mean_gap": 400.0, "mean_gap_bpd": 0.7}}
    inconclusive = likelihood_verdict(large_gap)  # 4.0 - 0.7 < 3.5 < 4.0
    assert inconclusive.status == NOT_AVAILABLE and "BDMC gap (0.700 bpd)" in inconclusive.note
    no_bdmc = likelihood_verdict({**LIKELIHOOD, "bdmc": None})
    assert no_bdmc.status == HOLDS and "not bounded" in no_bdmc.note
    typicality = typicality_verdict(TYPICALITY)
    assert typicality.status == HOLDS and "higher mean log-likelihood" in typicality.note
    assert dict(typicality.evidence)["rejected batches of M = 8, fashion-mnist:train"] == 1.0
    train = TYPICALITY["groups"]["fashion-mnist:train"]
    # M = 16 splits 24 images into one batch only: the verdict uses M = 8
    wide = {**train, "reject_rate": {"1": 0.05, "8": 0.25, "16": 1.0}}
    assert typicality_verdict({"groups": {"x:train": wide}}).status == DOES_NOT_HOLD
    only_single = {**train, "reject_rate": {"1": 0.6}}
    assert typicality_verdict({"groups": {"x:train": only_single}}).status == HOLDS
    assert typicality_verdict({"groups": {"x:train": {"fraction_typical": 0.1}}}).status == (
        NOT_AVAILABLE)
    for rule in (manifold_verdict, outliers_verdict, classify_verdict, likelihood_verdict,
                 typicality_verdict):
        assert rule({}).status == NOT_AVAILABLE


def test_report_has_every_section_embedded_figures_and_verdicts(demo_dir: Path) -> None:
    html_path, md_path = write_report(demo_dir)
    html = html_path.read_text()
    markdown = md_path.read_text()
    for key in ("manifold", "outliers", "classify", "likelihood", "typicality"):
        assert f'<section id="{key}">' in html
        assert f"| {key} | holds |" in markdown
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 6  # one per analysis stage directory, plus the GAN's samples
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert not re.search(r'(src|href)="(https?:|//)', html)
    assert html.count("Verdict: holds") == 5
    assert "![manifold figure](manifold/manifold_figure.png)" in markdown
    assert "| total | 7.5 |" in markdown.replace("**", "")


def test_report_of_single_analysis_run(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "typicality", {"sigma": 0.1}, seed=0)
    store.record_time("samples", 2.0)
    store.record_time("digits", 1.0)
    (tmp_path / "summary.json").write_text(json.dumps(TYPICALITY))
    report = collect(tmp_path)
    assert [s.key for s in report.sections] == ["typicality"]
    assert report.sections[0].verdict.status == HOLDS
    assert report.sections[0].wall_time_s == 3.0


def test_missing_results_are_not_available(tmp_path: Path) -> None:
    RunStore.open(tmp_path, "demo", {}, seed=0)
    report = collect(tmp_path)
    assert {s.verdict.status for s in report.sections} == {NOT_AVAILABLE}
    with pytest.raises(GanprobeError, match="config.json"):
        collect(tmp_path / "nowhere")


def test_flatten_and_format() -> None:
    rows = flatten_numbers({"a": {"b": 1.23456, "c": [1, 2]}, "d": list(range(20)), "e": None})
    assert rows == [("a.b", 1.23456), ("a.c", [1, 2]), ("e", None)]
    assert format_value(1.23456) == "1.235" and format_value(None) == "n/a"
    assert format_value([0.5, True]) == "[0.5, yes]"


def test_report_cli(demo_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ganprobe.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["report", str(demo_dir)])
    assert result.exit_code == 0, result.output
    assert (demo_dir / "report.html").exists() and (demo_dir / "report.md").exists()
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "config.json" in missing.output
