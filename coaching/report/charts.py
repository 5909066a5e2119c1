"""The report's two charts as PNG bytes: monthly coverage per program, and scores over quarters.

Figures are drawn on an explicit Agg canvas (no pyplot, so no global backend and no state shared
between runs or threads). The PNGs carry no metadata, so the same data gives the same bytes and the
same email hash on a re-run; they are reduced to a 64-colour palette to keep the email light.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType
from PIL import Image

from coaching.scoring import QuarterScores

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "////", "xxxx")
WIDTH_INCHES = 6.8  # 680 px at 100 dpi; saved at 2x for sharp text on high-density screens
DPI = 200
_STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs on every machine
    "font.size": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _plain(label: str) -> str:
    """Sheet text shown literally: a `$` would otherwise start matplotlib's math mode."""
    return str(label).replace("$", r"\$")


def _wrapped(label: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(_plain(label), width, break_long_words=True)) or " "


def _new_figure(height: float) -> Figure:
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained", facecolor="white")
    FigureCanvasAgg(figure)  # the Agg backend, chosen here rather than process-wide
    return figure


def _title(figure: Figure, text: str) -> None:
    """Above the axes and the legend alike, aligned left like the report's headings."""
    figure.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=12)


def _png(figure: Figure) -> bytes:
    canvas = figure.canvas
    canvas.draw()
    # The canvas' pixels go to Pillow as they are: the image savefig would write, without encoding and
    # decoding a PNG on the way (with hundreds of programs the coverage chart has 50 million pixels).
    size = canvas.get_width_height(physical=True)
    rgba = canvas.buffer_rgba()  # type: ignore[attr-defined]  # an Agg canvas: _new_figure
    pixels = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1)
    # A chart's flat colours and their anti-aliased edges fit in 64 colours: a third of the bytes.
    image = pixels.convert("RGB").quantize(colors=64)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _only(card: pd.DataFrame, programs: Sequence[str] | None) -> pd.DataFrame:
    """The scorecard rows of `programs`, in scorecard order; every row when None."""
    return card if programs is None else card.loc[card["program_id"].isin(programs)]


def coverage_chart(scores: QuarterScores, target: float, programs: Sequence[str] | None = None) -> bytes:
    """Grouped horizontal bars: for each program (or each of `programs`), the share of staff coached
    in each month.

    Horizontal, so that long program names fit: the chart grows in height.
    """
    card = _only(scores.scorecard, programs)
    months = scores.quarter.months
    coverage = (
        scores.monthly_coverage.pivot_table(index="program_id", columns="month", values="coverage", aggfunc="first")
        .reindex(index=card["program_id"], columns=months)
    )
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure(1.5 + 0.62 * len(card))
        axes = figure.add_subplot()
        positions = np.arange(len(card))
        bar = 0.8 / len(months)
        for m, month in enumerate(months):
            values = 100 * coverage[month].to_numpy(dtype=float)
            bars = axes.barh(
                positions + (m - 1) * bar, np.nan_to_num(values), bar * 0.9,
                label=month.strftime("%B %Y"), color=PALETTE[m], hatch=HATCHES[m % len(HATCHES)],
                edgecolor="white", linewidth=0.5,
            )
            shown = [f"{v:.0f} %" if not np.isnan(v) else "" for v in values]
            for label in axes.bar_label(bars, shown, padding=2, fontsize=9, color="#333333"):
                label.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.8})  # over the target line
        for p, program in enumerate(card["program_id"]):
            if coverage.loc[program].isna().all():
                axes.text(1, p, "nobody who requires coaching", va="center", fontsize=9, color="#444444")
        axes.axvline(100 * target, color="#222222", linestyle="--", linewidth=1, label=f"Target {100 * target:.0f} %")
        axes.set_yticks(positions, [_wrapped(name, 22) for name in card["program_name"]])
        axes.set_ylim(max(len(card), 1) - 0.5, -0.5)  # first program on top, as in the scorecard
        axes.set_xlim(0, 112)
        axes.set_xticks(range(0, 101, 20), [f"{v} %" for v in range(0, 101, 20)])
        axes.set_xlabel("Staff who require coaching and were coached that month")
        _title(figure, f"Monthly coaching coverage, {scores.quarter.label}")
        figure.legend(loc="outside lower left", ncols=len(months) + 1, frameon=False, fontsize=10)
        axes.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        axes.set_axisbelow(True)
        return _png(figure)


def scores_chart(
    history: Sequence[QuarterScores], programs: Sequence[str] | None = None, recomputed: Sequence[str] = ()
) -> bytes:
    """Lines: each program's (or each of `programs`') score in percent per quarter, and the
    organisation's, oldest first; the quarters in `recomputed` (never reported) are marked so."""
    labels = [scores.quarter.label for scores in history]
    cards = pd.concat([scores.scorecard[["quarter", "program_id", "program_name", "percent"]] for scores in history])
    percents = cards.pivot_table(index="quarter", columns="program_id", values="percent", aggfunc="first").reindex(labels)
    current = _only(history[-1].scorecard, programs)
    names = [_wrapped(name, 26) for name in current["program_name"]]
    legend_lines = sum(name.count("\n") + 1 for name in names) + 1
    positions = np.arange(len(labels))
    with matplotlib.rc_context(_STYLE):
        figure = _new_figure(max(3.4, 0.9 + 0.2 * legend_lines))
        axes = figure.add_subplot()
        # Programs with equal scores would hide each other: shift each one's markers a little sideways.
        step = min(0.05, 0.4 / max(len(current), 1))
        dodge = step * (np.arange(len(current)) - (len(current) - 1) / 2)
        for p, (program, name) in enumerate(zip(current["program_id"], names)):
            axes.plot(
                positions + dodge[p], percents[program].to_numpy(dtype=float),
                marker=MARKERS[(p + p // len(PALETTE)) % len(MARKERS)],  # colour and marker pairs stay unique
                color=PALETTE[p % len(PALETTE)], linewidth=1.5, markersize=5, label=name,
            )
        organisation = [scores.organisation_percent for scores in history]
        axes.plot(
            positions, np.array(organisation, dtype=float), color="#000000", linewidth=3,
            marker="o", markersize=6, label="Whole organisation",
        )
        axes.set_xticks(positions, [f"{label}\n(recomputed)" if label in recomputed else label for label in labels])
        axes.set_xlim(-0.4, len(labels) - 0.6)
        axes.set_ylim(-4, 104)
        axes.set_yticks(range(0, 101, 25), [f"{v} %" for v in range(0, 101, 25)])
        axes.set_ylabel("Score (points of 8, in %)")
        axes.set_xlabel("Quarter")
        _title(figure, "Coaching best-practice score by quarter")
        figure.legend(loc="outside right upper", frameon=False, fontsize=10)
        axes.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        return _png(figure)
