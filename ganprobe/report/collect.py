"""Gather what a report shows from stored results: summaries, figures, timings, metadata.

A report is built either from a demo directory (one sub-directory per analysis: manifold/,
outliers/, classify/, likelihood/ (a compare-density run), typicality/) or from the run directory
of a single analysis command (its config.json names the command). Nothing is recomputed.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GanprobeError
from .verdicts import CLAIMS, TITLES, VERDICT_RULES, Verdict

ANALYSES = ("manifold", "outliers", "classify", "likelihood", "typicality")
"""Report sections, in order; each is also the sub-directory of a demo run holding it."""
COMPARE_DENSITY = "compare-density"
MODELS_FILE = "models/models.json"
"""Written by the demo: model kind -> run directory (GAN sample grids are shown from there)."""
MAX_NUMBER_ROWS = 400


@dataclass
class Figure:
    """A PNG figure: file name, path relative to the report's directory, caption (from the
    name) and base64 data for embedding."""

    name: str
    relpath: str
    caption: str
    png_base64: str


@dataclass
class Section:
    """One analysis in the report."""

    key: str
    title: str
    claim: str
    verdict: Verdict
    figures: list[Figure] = field(default_factory=list)
    numbers: list[tuple[str, Any]] = field(default_factory=list)
    wall_time_s: float | None = None
    run_dirs: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    """Everything the HTML and Markdown renderers need."""

    title: str
    run_dir: str
    created: str
    command: str
    seed: Any
    config_hash: str
    config: dict[str, Any]
    versions: dict[str, Any]
    timings: dict[str, float]
    sections: list[Section]
    models: dict[str, str] = field(default_factory=dict)
    model_figures: list[Figure] = field(default_factory=list)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise GanprobeError(f"cannot read {path} ({exc}); rerun the stage that wrote it") from None


def flatten_numbers(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars of a nested summary as (dotted path, value) rows; short lists (<= 8 scalars)
    become one row, longer lists are left out (they live in the CSV tables)."""
    rows: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        for key in obj:
            rows += flatten_numbers(obj[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list):
        if len(obj) <= 8 and all(not isinstance(v, (dict, list)) for v in obj):
            rows.append((prefix, obj))
    else:
        rows.append((prefix, obj))
    return rows


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits, None as 'n/a', lists element-wise."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _figures(directory: Path, root: Path) -> list[Figure]:
    figures = []
    for path in sorted(directory.glob("*.png")):
        caption = path.stem.replace("_", " ").replace("-", " ")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        figures.append(Figure(path.name, path.relative_to(root).as_posix(), caption, data))
    return figures


def _section(key: str, directory: Path, root: Path, wall_time_s: float | None) -> Section:
    summary = _read_json(directory / "summary.json") or {}
    return Section(
        key=key,
        title=TITLES[key],
        claim=CLAIMS[key],
        verdict=VERDICT_RULES[key](summary),
        figures=_figures(directory, root) if directory.is_dir() else [],
        numbers=flatten_numbers(summary)[:MAX_NUMBER_ROWS],
        wall_time_s=wall_time_s,
        run_dirs=[str(directory)] if directory.is_dir() else [],
    )


def collect(run_dir: str | Path) -> ReportData:
    """Read a demo directory or a single analysis run directory into a ReportData."""
    root = Path(run_dir)
    config = _read_json(root / "config.json")
    if config is None:
        raise GanprobeError(
            f"{root} has no config.json; give a directory written by 'ganprobe demo' or by an "
            "analysis command (manifold, outliers, classify, likelihood, typicality)"
        )
    timings = _read_json(root / "timings.json") or {}
    command = str(config.get("command", ""))
    if command in ANALYSES or command == COMPARE_DENSITY:
        key = "likelihood" if command == COMPARE_DENSITY else command
        # a single analysis run: its timings are its sub-steps
        wall = {key: float(sum(timings.values())) if timings else None}
        directories = {key: root}
    else:
        wall = {key: timings.get(key) for key in ANALYSES}
        directories = {key: root / key for key in ANALYSES}
    sections = [_section(key, path, root, wall[key]) for key, path in directories.items()]
    models = _read_json(root / MODELS_FILE) or {}
    model_figures = []
    for kind in ("gan", "cgan"):
        samples = Path(models.get(kind, "")) / "samples.png"
        if kind in models and samples.is_file():
            data = base64.b64encode(samples.read_bytes()).decode("ascii")
            model_figures.append(Figure(f"{kind}-samples.png", samples.as_posix(),
                                        f"{kind} samples", data))
    return ReportData(
        title=f"ganprobe report: {root.resolve().name}",
        run_dir=str(root.resolve()),
        created=str(config.get("created", "")),
        command=command,
        seed=config.get("seed"),
        config_hash=str(config.get("config_hash", "")),
        config=config.get("config", {}),
        versions=config.get("versions", {}),
        timings={str(k): float(v) for k, v in timings.items()},
        sections=sections,
        models={str(k): str(v) for k, v in models.items()},
        model_figures=model_figures,
    )
