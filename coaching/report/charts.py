"""The report's two charts as PNG images: monthly coverage per program, and scores over quarters.

Made for a phone first: 460 px wide (their own width on a desktop too), every text at least 11 pt,
so at least 11 px on a 400 px screen where the chart shrinks to about 350 px; program names are
written above their bars and under the lines, never beside them, so the plot keeps its width.

Figures are drawn on an explicit Agg canvas (no pyplot, so no global backend and no state shared
between runs or threads). The PNGs carry no metadata, so the same data gives the same bytes and the
same email hash on a re-run; they are reduced to a 64-colour palette to keep the email light.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.typing import RcKeyType
from PIL import Image

from coaching.scoring import QuarterScores

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
WIDTH_PX = 460  # CSS pixels: 4.6 in at 100 px per inch, saved at twice the density for sharp text
DPI = 200
SMALLEST_PT = 11  # no text smaller: 11 pt is 15.3 px at 460 px, 11.6 px shown 350 px wide
ABOVE, BELOW = "#0072B2", "#E69F00"  # Okabe–Ito blue and orange: at or above the target, below it
_STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs on every machine
    "font.size": SMALLEST_PT,
    "axes.titlesize": SMALLEST_PT,
    "axes.labelsize": SMALLEST_PT,
    "xtick.labelsize": SMALLEST_PT,
    "ytick.labelsize": SMALLEST_PT,
    "legend.fontsize": SMALLEST_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass(frozen=True)
class ChartImage:
    png: bytes
    width: int  # CSS pixels: show it at most this wide
    smallest_text_pt: float  # the smallest text drawn, in points at that width (72 pt = 100 px)


def _plain(label: str) -> str:
    """Sheet text shown literally: a `$` would otherwise start matplotlib's math mode."""
    return str(label).replace("$", r"\$")


def _wrapped(label: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(_plain(label), width, break_long_words=True)) or " "


def _new_figure(height: float) -> Figure:
    figure = Figure(figsize=(WIDTH_PX / 100, height), dpi=DPI, layout="constrained", facecolor="white")
    FigureCanvasAgg(figure)  # the Agg backend, chosen here rather than process-wide
    return figure


def _title(figure: Figure, text: str) -> None:
    """Above the axes and the legend alike, aligned left like the report's headings."""
    figure.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=SMALLEST_PT + 1.5)


def _image(figure: Figure) -> ChartImage:
    canvas = figure.canvas
    canvas.draw()
    drawn = [t.get_fontsize() for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    # The canvas' pixels go to Pillow as they are: the image savefig would write, without encoding and
    # decoding a PNG on the way (with hundreds of programs the coverage chart has 50 million pixels).
    size = canvas.get_width_height(physical=True)
    rgba = canvas.buffer_rgba()  # type: ignore[attr-defined]  # an Agg canvas: _new_figure
    pixels = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1)
    # A chart's flat colours and their anti-aliased edges fit in 64 colours: a third of the bytes.
    # Octree rather than Pillow's default median cut, and no `optimize` pass: with hundreds of
    # programs (a chart 19 000 pixels tall) 0.4 s instead of 3 s, and fewer bytes, not more.
    image = pixels.convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="png")
    return ChartImage(out.getvalue(), WIDTH_PX, float(min(drawn, default=SMALLEST_PT)))


def _only(card: pd.DataFrame, programs: Sequence[str] | None) -> pd.DataFrame:
    """The scorecard rows of `programs`, in scorecard order; every row when None."""
    return card if programs is None else card.loc[card["program_id"].isin(programs)]


def coverage_chart(scores: QuarterScores, target: float, programs: Sequence[str] | None = None) -> ChartImage:
    """For each program (or each of `programs`), its name and under it one bar per month: the share of
    staff coached that month, blue at or above the target, orange and hatched below it."""
    card = _only(scores.scorecard, programs)
    months = scores.quarter.months
    coverage = scores.monthly_coverage.pivot_table(
        index="program_id", columns="month", values="coverage", aggfunc="first"
    ).reindex(index=card["program_id"], columns=months)
    step = len(months) + 1.3  # rows per program: its months, and room for its name above them
    names = [_wrapped(name, 40) for name in card["program_name"]]
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure(1.6 + 0.27 * step * len(card) + 0.2 * sum(name.count("\n") for name in names))
        axes = figure.add_subplot()
        ticks, tick_labels = [], []
        for p, (program, name) in enumerate(zip(card["program_id"], names)):
            top = p * step + 1.3
            axes.text(0, top - 0.85, name, ha="left", va="bottom", fontweight="bold", fontsize=SMALLEST_PT)
            values = 100 * coverage.loc[program].to_numpy(dtype=float)
            rows = top + np.arange(len(months))
            below = values < 100 * target - 1e-9
            bars = axes.barh(
                rows,
                np.nan_to_num(values),
                0.75,
                color=[BELOW if b else ABOVE for b in below],
                hatch=["////" if b else "" for b in below],
                edgecolor="white",
                linewidth=0.5,
            )
            shown = [f"{v:.0f} %" if not np.isnan(v) else "" for v in values]
            for label in axes.bar_label(bars, shown, padding=2, fontsize=SMALLEST_PT, color="#222222"):
                label.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # over the target line
            if np.isnan(values).all():
                axes.text(
                    1, rows[1], "nobody who requires coaching", va="center", fontsize=SMALLEST_PT, color="#444444"
                )
            ticks += list(rows)
            tick_labels += [month.strftime("%b") for month in months]
        axes.axvline(100 * target, color="#222222", linestyle="--", linewidth=1)
        axes.set_yticks(ticks, tick_labels)
        axes.tick_params(axis="y", length=0)
        axes.set_ylim(max(len(card), 1) * step + 0.1, -0.1)  # first program on top, as in the scorecard
        axes.set_xlim(0, 125)
        axes.set_xticks(range(0, 101, 25), [f"{v} %" for v in range(0, 101, 25)])
        axes.set_xlabel("Staff who require coaching\nand were coached that month")
        _title(figure, f"Monthly coaching coverage, {scores.quarter.label}")
        figure.legend(
            handles=[
                Patch(facecolor=ABOVE, label="At or above target"),
                Patch(facecolor=BELOW, hatch="////", edgecolor="white", label="Below target"),
                Line2D([], [], color="#222222", linestyle="--", label=f"Target {100 * target:.0f} %"),
            ],
            loc="outside lower left",
            ncols=2,
            frameon=False,
        )
        axes.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        axes.set_axisbelow(True)
        return _image(figure)


def scores_chart(
    history: Sequence[QuarterScores], programs: Sequence[str] | None = None, recomputed: Sequence[str] = ()
) -> ChartImage:
    """Lines: each program's (or each of `programs`') score in percent per quarter, and the
    organisation's, oldest first; the quarters in `recomputed` (never reported) are marked with a *.
    The legend goes under the plot, one name a line, so the plot keeps the chart's width."""
    labels = [scores.quarter.label for scores in history]
    cards = pd.concat([scores.scorecard[["quarter", "program_id", "program_name", "percent"]] for scores in history])
    percents = cards.pivot_table(index="quarter", columns="program_id", values="percent", aggfunc="first").reindex(
        labels
    )
    current = _only(history[-1].scorecard, programs)
    names = [_wrapped(name, 40) for name in current["program_name"]]
    legend_lines = sum(name.count("\n") + 1 for name in names) + 1
    positions = np.arange(len(labels))
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure(3.6 + 0.24 * legend_lines)
        axes = figure.add_subplot()
        # Programs with equal scores would hide each other: shift each one's markers a little sideways.
        step = min(0.05, 0.4 / max(len(current), 1))
        dodge = step * (np.arange(len(current)) - (len(current) - 1) / 2)
        for p, (program, name) in enumerate(zip(current["program_id"], names)):
            axes.plot(
                positions + dodge[p],
                percents[program].to_numpy(dtype=float),
                marker=MARKERS[(p + p // len(PALETTE)) % len(MARKERS)],  # colour and marker pairs stay unique
                color=PALETTE[p % len(PALETTE)],
                linewidth=1.5,
                markersize=6,
                label=name,
            )
        organisation = [scores.organisation_percent for scores in history]
        axes.plot(
            positions,
            np.array(organisation, dtype=float),
            color="#000000",
            linewidth=3,
            marker="o",
            markersize=7,
            label="Whole organisation",
        )
        # A mark and one line under the axis: "(recomputed)" under each quarter would not fit beside the next.
        axes.set_xticks(positions, [f"{label}*" if label in recomputed else label for label in labels])
        if recomputed:
            axes.set_xlabel("* recomputed from today’s records:\nnever reported")
        axes.set_xlim(-0.4, len(labels) - 0.6)
        axes.set_ylim(-4, 104)
        axes.set_yticks(range(0, 101, 25), [f"{v} %" for v in range(0, 101, 25)])
        axes.set_ylabel("Points of 8, in %")
        _title(figure, "Best-practice score by quarter")
        figure.legend(loc="outside lower left", ncols=1, frameon=False)
        axes.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        return _image(figure)
