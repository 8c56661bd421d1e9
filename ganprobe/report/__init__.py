"""Reports from stored results: `write_report(run_dir)` writes report.html (self-contained) and
report.md into the run directory, one section per analysis with the paper's claim, figures,
tables and a verdict computed from the numbers (see verdicts.py)."""

from __future__ import annotations

from pathlib import Path

from ..utils import atomic_write_text
from .collect import ReportData, collect
from .html import render_html
from .markdown import render_markdown

__all__ = ["ReportData", "collect", "render_html", "render_markdown", "write_report"]


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write run_dir/report.html and run_dir/report.md; return their paths (html, md)."""
    root = Path(run_dir)
    report = collect(root)
    html_path, md_path = root / "report.html", root / "report.md"
    atomic_write_text(html_path, render_html(report))
    atomic_write_text(md_path, render_markdown(report))
    return html_path, md_path
