"""report.html in a real browser (headless Chromium): it loads without console errors and every
figure is displayed (decoded, naturalWidth > 0).

The page is copied with a small probe script added at the start of <head> (records errors,
including failed resource loads, and console.error calls) and at the end of <body> (on load,
writes each image's naturalWidth into a DOM attribute); `chromium --dump-dom` prints the DOM
after load, and its console log (--enable-logging=stderr) must hold no CONSOLE lines either.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ganprobe.report import write_report
from tests.test_demo import quick_demo  # noqa: F401  (shared session fixture)
from tests.test_report import demo_dir  # noqa: F401  (synthetic results, fast)

HEAD_PROBE = """<script>
window.__probe_errors = [];
window.addEventListener("error", function (e) {
  var target = e.target && e.target.tagName ? " (" + e.target.tagName + ")" : "";
  window.__probe_errors.push(String(e.message || "resource failed to load") + target);
}, true);
var __error = console.error;
console.error = function () {
  window.__probe_errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  __error.apply(console, arguments);
};
</script>"""
BODY_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.alt, complete: img.complete, width: img.naturalWidth};
  });
  var result = {images: images, errors: window.__probe_errors};
  document.body.setAttribute("data-probe", JSON.stringify(result));
});
</script>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render(page: Path, tmp_path: Path) -> tuple[dict, str]:
    """Load `page` (with the probes added) in headless Chromium; (probe result, console log)."""
    text = page.read_text()
    probed = text.replace("<head>", "<head>\n" + HEAD_PROBE, 1).replace(
        "</body>", BODY_PROBE + "\n</body>", 1
    )
    target = tmp_path / "probed.html"
    target.write_text(probed)
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
        "--v=0", "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom", target.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    match = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert match, f"no probe result in the DOM; chromium said:\n{done.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1))), done.stderr


needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium is not installed")


@needs_chromium
def test_probe_detects_broken_images_and_errors(tmp_path: Path) -> None:
    """The check can fail: a broken image and a console error are caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        '<img alt="ok" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ'
        'AAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==">'
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        '<script>console.error("boom")</script></body></html>'
    )
    result, _ = render(page, tmp_path)
    widths = {image["alt"]: image["width"] for image in result["images"]}
    assert widths == {"ok": 1, "broken": 0}
    assert any("boom" in error for error in result["errors"])
    assert any("IMG" in error for error in result["errors"])


@needs_chromium
def test_synthetic_report_renders_in_chromium(demo_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    html_path, _ = write_report(demo_dir)
    result, console_log = render(html_path, tmp_path)
    assert result["errors"] == []
    assert [image["width"] > 0 for image in result["images"]] == [True] * 6
    assert "CONSOLE" not in console_log


@needs_chromium
@pytest.mark.slow
def test_report_renders_in_chromium(quick_demo: dict, tmp_path: Path) -> None:  # noqa: F811
    result, console_log = render(quick_demo["out"] / "report.html", tmp_path)
    assert result["errors"] == []
    assert len(result["images"]) >= 5
    for image in result["images"]:
        assert image["complete"] and image["width"] > 0, image["alt"]
    assert "CONSOLE" not in console_log
