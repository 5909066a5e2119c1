"""How wide a page and its images lay out in headless Chromium, for the report's phone-width tests.

Headless Chromium will not make its window narrower than 500 px, so the page is loaded in an iframe
of each width under test, all in one wrapper page: one browser launch (about 1 CPU s before the page
itself) serves every width. Each iframe's page reports its width to the wrapper by postMessage, the
wrapper records the answer in an attribute named after that iframe's width, and the wrapper's DOM
is what `--dump-dom` prints.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_PROBE = (
    '<script>window.addEventListener("load", () => parent.postMessage('
    'document.documentElement.scrollWidth + "/" + document.documentElement.clientWidth + "/" + '
    '[...document.images].map(i => i.getBoundingClientRect().width).join(","), "*"))</script>'
)
_FRAME = (
    '<iframe src="page.html" data-width="{width}" style="display:block;width:{width}px;height:1200px;border:0">'
    "</iframe>"
)
_WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
{frames}
<script>window.addEventListener("message", e => {{
  const frame = [...document.querySelectorAll("iframe")].find(f => f.contentWindow === e.source);
  document.body.setAttribute("data-width-" + frame.dataset.width, e.data);
}})</script>
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


def laid_out(html: str, widths: Sequence[int], folder: Path) -> dict[int, Layout]:
    """The page as laid out in a viewport of each of `widths` px, by width; one browser launch for all."""
    (folder / "page.html").write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    wrapper = folder / "wrapper.html"
    frames = "\n".join(_FRAME.format(width=width) for width in widths)
    wrapper.write_text(_WRAPPER.format(frames=frames), encoding="utf-8")
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
    layouts = {}
    for width in widths:
        found = re.search(rf'data-width-{width}="(\d+)/(\d+)/([\d.,]*)"', done.stdout)
        if found is None:
            raise RuntimeError(f"Chromium did not lay the page out at {width} px: {done.stderr[-500:]}")
        images = tuple(float(w) for w in found.group(3).split(",") if w)
        layouts[width] = Layout(int(found.group(1)), int(found.group(2)), images)
    return layouts
