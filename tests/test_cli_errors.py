"""The CLI's error contract, end to end in a subprocess: one line and exit code 2 for bad
input; the full traceback with --debug."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

ENV = dict(os.environ, GANPROBE_NO_PROGRESS="1", COLUMNS="200")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganprobe.cli", *args]


def ganprobe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=120, env=ENV)


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


def test_ctrl_c_prints_how_to_resume_and_exits_130(tmp_path) -> None:
    """SIGINT during a long run: one line saying how to resume, exit code 130, and the
    checkpoint written before the interrupt is kept."""
    images = np.random.default_rng(0).integers(0, 255, size=(32, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "tiny.npz", images=images)
    out = tmp_path / "gan"
    process = subprocess.Popen(
        command("train", "gan", "--data", f"npz:{tmp_path / 'tiny.npz'}", "--steps", "1000000",
                "--width", "4", "--batch-size", "8", "--out", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("interrupted: finished shards, stages and "
                                                      "checkpoints are kept; rerun")
    assert (out / "checkpoint.safetensors").exists()
