"""Run store: config + hash, refusal of another config, atomic shards, manifest, tables."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from ganprobe.config import DataSettings
from ganprobe.errors import StoreError
from ganprobe.store import RunStore, config_hash


def test_config_json_records_config_hash_seed_and_versions(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path / "run", "probe", {"b": 2, "a": [1, 2]}, seed=7)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["command"] == "probe" and saved["config"] == {"a": [1, 2], "b": 2}
    assert saved["seed"] == 7 and saved["config_hash"] == store.hash
    assert {"python", "torch", "numpy"} <= set(saved["versions"])
    assert config_hash({"x": 1, "y": 2}) == config_hash({"y": 2, "x": 1})
    assert config_hash({"x": 1}) != config_hash({"x": 2})


def test_reopening_with_the_same_config_resumes(tmp_path: Path) -> None:
    settings = DataSettings(spec="digits", limit=10)
    first = RunStore.open(tmp_path, "cmd", settings, seed=1)
    first.write_shard("part-00000", {"x": np.arange(3)})
    again = RunStore.open(tmp_path, "cmd", DataSettings(spec="digits", limit=10), seed=1)
    assert again.hash == first.hash and again.finished_shards() == ["part-00000"]


@pytest.mark.parametrize(
    ("command", "config", "seed", "named"),
    [
        ("cmd", {"sigma": 0.2, "n": 5}, 0, "differs in: sigma"),
        ("cmd", {"sigma": 0.1, "n": 5}, 1, "differs in: seed"),
        ("other", {"sigma": 0.1, "n": 5}, 0, "differs in: command"),
        ("cmd", {"sigma": 0.1}, 0, "differs in: n"),
    ],
)
def test_another_config_is_refused_naming_what_differs(
    tmp_path: Path, command: str, config: dict, seed: int, named: str
) -> None:
    RunStore.open(tmp_path, "cmd", {"sigma": 0.1, "n": 5}, seed=0)
    with pytest.raises(StoreError) as info:
        RunStore.open(tmp_path, command, config, seed=seed)
    message = str(info.value)
    assert f"run directory {tmp_path} holds a run of 'cmd' with another config" in message
    assert named in message and "use another --out or delete the directory" in message


def test_unusable_run_directories(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        RunStore.open(tmp_path / "file", "cmd", {})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable config.json"):
        RunStore.open(tmp_path / "broken", "cmd", {})


def test_shards_round_trip_and_are_listed_once(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "cmd", {})
    values = np.random.default_rng(0).normal(size=(4, 3))
    store.write_shard("a-00001", {"v": values, "i": np.arange(4)})
    store.write_shard("a-00000", {"v": values[:1], "i": np.arange(1)})
    store.write_shard("a-00001", {"v": values, "i": np.arange(4)})  # rewritten, listed once
    assert store.finished_shards() == ["a-00001", "a-00000"]
    read = store.read_shard("a-00001")
    assert read["v"].tobytes() == values.tobytes() and read["i"].tolist() == [0, 1, 2, 3]
    names = sorted(p.name for p in (tmp_path / "shards").iterdir())
    assert names == ["a-00000.npz", "a-00001.npz", "manifest.json"]  # no temporary files left
    with pytest.raises(ValueError, match="invalid shard name"):
        store.write_shard("../escape", {"v": values})


def test_a_crash_while_writing_a_shard_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore.open(tmp_path, "cmd", {})
    store.write_shard("s-00000", {"v": np.zeros(2)})

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.write_shard("s-00001", {"v": np.ones(2)})
    monkeypatch.undo()
    assert store.finished_shards() == ["s-00000"]
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [
        "manifest.json",
        "s-00000.npz",
    ]


def test_tables_summary_and_timings(tmp_path: Path) -> None:
    store = RunStore.open(tmp_path, "cmd", {})
    rows = [{"image": 0, "rmse": np.float32(0.5), "bad": float("nan")}, {"image": 1, "rmse": 0.25,
                                                                          "bad": 1.0}]
    with open(store.write_csv("per_image.csv", rows)) as handle:
        read = list(csv.DictReader(handle))
    assert read == [{"image": "0", "rmse": "0.5", "bad": ""}, {"image": "1", "rmse": "0.25",
                                                               "bad": "1.0"}]
    store.write_summary({"auroc": np.float64(0.75), "inf": float("inf")})
    assert store.read_json("summary.json") == {"auroc": 0.75, "inf": "inf"}
    store.record_time("project", 1.23456)
    assert store.read_json("timings.json") == {"project": 1.235}
