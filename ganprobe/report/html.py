"""Self-contained HTML report: every figure embedded as base64 PNG, inline CSS, no scripts and
no external assets, so the file opens anywhere (and offline)."""

from __future__ import annotations

import json

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .collect import ReportData, format_value


def template_environment(autoescape: bool) -> Environment:
    """Jinja2 environment over ganprobe/report/templates with the `fmt` number formatter."""
    env = Environment(
        loader=PackageLoader("ganprobe.report", "templates"),
        autoescape=select_autoescape(["html"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.globals["fmt"] = format_value
    return env


def render_html(report: ReportData) -> str:
    """The report as one HTML document (str)."""
    template = template_environment(autoescape=True).get_template("report.html.j2")
    config_json = json.dumps(report.config, indent=2, sort_keys=True)
    return template.render(report=report, config_json=config_json)
