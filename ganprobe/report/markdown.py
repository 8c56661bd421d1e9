"""Markdown report: the same content as the HTML report, figures linked by relative path (the
PNGs stay in the run directory beside report.md)."""

from __future__ import annotations

import json

from .collect import ReportData
from .html import template_environment


def render_markdown(report: ReportData) -> str:
    """The report as GitHub-flavoured Markdown (str)."""
    template = template_environment(autoescape=False).get_template("report.md.j2")
    config_json = json.dumps(report.config, indent=2, sort_keys=True)
    return template.render(report=report, config_json=config_json)
