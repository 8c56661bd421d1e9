"""The manifold commands through the CLI: outputs, and user errors as exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ganprobe.cli import app
from tests.projection_fakes import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()
MLP = "python:tests/projection_fakes.py:make_mlp"


def test_project_command(tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["project", "--generator", MLP, "--data", "ood:noise",
                                 "--limit", "4", "--restarts", "1", "--steps", "10",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["projection"]["restarts"] == 1 and config["projection"]["steps"] == 10
    assert json.loads((out / "summary.json").read_text())["count"] == 4


def test_bad_space_is_exit_code_2(tmp_path) -> None:
    result = runner.invoke(app, ["project", "--generator", MLP, "--data", "ood:noise",
                                 "--space", "w", "--steps", "2", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "mapping" in result.output


def test_classify_with_unconditional_generator_is_exit_code_2(tmp_path) -> None:
    result = runner.invoke(app, ["classify", "--generator", MLP, "--data", "ood:noise",
                                 "--train", "ood:noise", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "class-conditional" in result.output
