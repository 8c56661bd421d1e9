"""The CLI's error contract, end to end in a subprocess: one line and exit code 2 for bad
input; the full traceback with --debug."""

from __future__ import annotations

import os
import subprocess
import sys


def ganprobe(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GANPROBE_NO_PROGRESS="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "ganprobe.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_bad_input_is_one_line_and_exit_code_2() -> None:
    result = ganprobe("data", "info", "no-such-source")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown data spec 'no-such-source'; valid specs: fashion-mnist:train, "
        "fashion-mnist:test, digits, ood:constant, ood:noise, ood:vflip[:SPEC], folder:PATH, "
        "npz:PATH, cifar10:PATH:train|test"
    ]
    assert result.stdout == ""


def test_debug_shows_the_traceback() -> None:
    result = ganprobe("--debug", "data", "info", "no-such-source")
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "ganprobe.errors.DataError: unknown data spec 'no-such-source'" in result.stderr


def test_help_lists_the_data_commands() -> None:
    result = ganprobe("data", "--help")
    assert result.returncode == 0
    for command in ("list", "info", "show"):
        assert command in result.stdout
