"""`ganprobe demo --quick` end to end, killed mid-run and resumed.

One quick demo serves every slow test (the `quick_demo` fixture; test_browser.py imports it):
it starts `ganprobe demo --quick` in a subprocess, SIGKILLs it as soon as the manifold stage
has finished, records the finished stages' markers, and runs the same command again to the end.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganprobe.config import DemoSettings
from ganprobe.experiments.demo import STAGES, analysis_settings, best_sigma_of, model_settings

ANALYSES = ("manifold", "outliers", "classify", "likelihood", "typicality")
KILL_AFTER = "manifold"
DEMO_TIMEOUT_S = 900
CACHE_ENV = "GANPROBE_TEST_DEMO_CACHE"
"""Set it to a model cache to reuse trained models across local runs (default: a fresh one)."""


def _demo_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "ganprobe.cli", "demo", "--quick", "--out", str(out)]


def _environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "GANPROBE_CACHE": str(cache), "GANPROBE_NO_PROGRESS": "1"}


def _finished_markers(out: Path) -> dict[str, int]:
    """stage -> mtime (ns) of its DONE marker, for the stages that finished."""
    return {
        stage: (out / stage / "DONE").stat().st_mtime_ns
        for stage in STAGES
        if (out / stage / "DONE").exists()
    }


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the quick demo once per session (killed after KILL_AFTER, then resumed)."""
    base = tmp_path_factory.getbasetemp() / "quick-demo"
    record = base / "record.json"
    if record.exists():  # already run by another test module in this session
        return {**json.loads(record.read_text()), "out": base / "demo"}
    out, env = base / "demo", _environment(Path(os.environ.get(CACHE_ENV, base / "cache")))
    base.mkdir(parents=True, exist_ok=True)
    log = (base / "first.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(_demo_command(out), env=env, stdout=log, stderr=subprocess.STDOUT)
    while not (out / KILL_AFTER / "DONE").exists():
        if process.poll() is not None:
            pytest.fail(f"demo exited ({process.returncode}) before {KILL_AFTER} finished:\n"
                        + (base / "first.log").read_text()[-3000:])
        if time.perf_counter() - started > DEMO_TIMEOUT_S:
            process.kill()
            pytest.fail(f"demo did not finish {KILL_AFTER} within {DEMO_TIMEOUT_S} s")
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = time.perf_counter() - started
    markers = _finished_markers(out)
    timings = json.loads((out / "timings.json").read_text())
    rerun = subprocess.run(_demo_command(out), env=env, capture_output=True, text=True,
                           timeout=DEMO_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    result = {
        "killed_after_s": killed_at,
        "total_s": time.perf_counter() - started,
        "markers_before": markers,
        "timings_before": timings,
        "rerun_output": rerun.stdout + rerun.stderr,
    }
    record.write_text(json.dumps(result))
    return {**result, "out": out}


@pytest.mark.slow
def test_rerun_after_kill_skips_finished_stages(quick_demo: dict) -> None:
    out = quick_demo["out"]
    before = quick_demo["markers_before"]
    assert {"models", KILL_AFTER} <= set(before)
    after = _finished_markers(out)
    for stage, mtime in before.items():
        assert after[stage] == mtime, f"stage {stage} was redone after the kill"
    timings = json.loads((out / "timings.json").read_text())
    for stage in before:
        assert timings[stage] == quick_demo["timings_before"][stage]
    assert set(after) == set(STAGES) - {"report"}


@pytest.mark.slow
def test_quick_demo_summary_and_report(quick_demo: dict) -> None:
    out = quick_demo["out"]
    summary = json.loads((out / "summary.json").read_text())
    assert set(ANALYSES) <= set(summary)
    assert quick_demo["total_s"] < 600  # --quick must stay within minutes
    html = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    for key in ANALYSES:
        section = html.split(f'<section id="{key}">', 1)[1].split("</section>", 1)[0]
        assert "data:image/png;base64," in section, f"{key} has no figure"
        assert re.search(r"Verdict: (holds|does not hold)", section), f"{key} has no verdict"
        assert "<table>" in section, f"{key} has no table"
        assert f"| {key} |" in markdown
    assert "Wall time per stage" in html
    # numbers: finite and in range
    typicality = summary["typicality"]
    for group in typicality["groups"].values():
        assert 0.0 <= group["fraction_typical"] <= 1.0
        assert 0.0 <= group["ks_pvalue"] <= 1.0
        assert math.isfinite(group["log_px_mean"])
    assert math.isfinite(typicality["samples"]["entropy_nats"])
    assert best_sigma_of(summary["likelihood"]) > 0
    for stage, seconds in json.loads((out / "timings.json").read_text()).items():
        assert 0.0 <= seconds < 600, stage


def test_demo_settings_are_consistent() -> None:
    """Fast: every stage's settings build for both sizes; the quick ones are smaller."""
    for quick in (True, False):
        models = {kind: f"/cache/{kind}" for kind in model_settings(quick, seed=3)}
        for stage in ("manifold", "outliers", "classify", "likelihood", "typicality"):
            settings = analysis_settings(stage, quick, 3, models, best_sigma=0.2)
            assert settings.seed == 3
    quick_typicality = analysis_settings("typicality", True, 0, models, 0.2)
    full_typicality = analysis_settings("typicality", False, 0, models, 0.2)
    assert quick_typicality.samples < full_typicality.samples
    assert DemoSettings(quick=True).quick
