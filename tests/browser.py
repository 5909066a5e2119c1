"""How wide a page and its images lay out in headless Chromium, for the report's phone-width tests.

Headless Chromium will not make its window narrower than 500 px, so the page is loaded in an iframe
of the width under test; the page reports its width to the wrapper by postMessage, and the wrapper's
DOM (with the answer in an attribute) is what `--dump-dom` prints.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_PROBE = (
    '<script>window.addEventListener("load", () => parent.postMessage('
    'document.documentElement.scrollWidth + "/" + document.documentElement.clientWidth + "/" + '
    '[...document.images].map(i => i.getBoundingClientRect().width).join(","), "*"))</script>'
)
_WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="page.html" style="width:{width}px;height:1200px;border:0"></iframe>
<script>window.addEventListener("message", e => document.body.setAttribute("data-width", e.data))</script>
</body></html>"""


def chromium() -> str:
    """The browser's path; `make test` installs it (ops/test_packages.sh)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "Headless Chromium is needed for this test: apt-get install -y chromium (make test does it as root)"
    )


@dataclass(frozen=True)
class Layout:
    scroll_width: int  # how wide the page is
    visible_width: int  # how wide the viewport is (less a scroll bar)
    image_widths: tuple[float, ...]  # how wide each image is shown, in page order


def laid_out(html: str, width: int, folder: Path) -> Layout:
    """The page as laid out in a viewport `width` px wide."""
    (folder / "page.html").write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    wrapper = folder / "wrapper.html"
    wrapper.write_text(_WRAPPER.format(width=width), encoding="utf-8")
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--window-size=1000,1300",
            "--virtual-time-budget=10000",
            "--dump-dom",
            wrapper.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'data-width="(\d+)/(\d+)/([\d.,]*)"', done.stdout)
    if found is None:
        raise RuntimeError(f"Chromium did not lay the page out: {done.stderr[-500:]}")
    images = tuple(float(w) for w in found.group(3).split(",") if w)
    return Layout(int(found.group(1)), int(found.group(2)), images)
