"""The scale benchmark: the real stages of a quarterly run on a synthetic workbook of N cells.

    python -m bench.pipeline --cells 10000000 [--seed 0]

Builds the workbook in memory as the Sheets API returns it (bench/synthetic.py), then times
parse → validate (the GX suites) → score (the quarter and its history, as the flow does) →
recommend → render (the report and the run's files), and the plain-pandas floor of validation and
scoring on the same data (bench/floor.py). Prints a table, then as its last line one JSON object.
No Prefect, no network, no files written.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from bench.floor import BP, floor_parse, floor_scores, floor_validate
from bench.synthetic import QUARTER, RUN_DATE, synthetic_workbook
from coaching.parsing import parse_workbook
from coaching.quarterly import (
    check_parsed,
    previous_scores,
    require_sessions_in,
    score_history,
    select_programs,
)
from coaching.quarters import Quarter
from coaching.recommendations import improvements, recommend
from coaching.report.assemble import build_quarterly_report
from coaching.scoring import QuarterScores, Targets

T = TypeVar("T")
# The contract's defaults (config/settings.yaml ships the same).
DATE_FORMAT = "M/D/YYYY"
MAX_ERROR_SHARE = 0.10
MIN_LOG_VOLUME_RATIO = 0.5
MIN_RESPONSES_PER_COACH = 3


def _timed(seconds: dict[str, float], stage: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    seconds[stage] = round(time.perf_counter() - start, 3)
    return result


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _floor_agrees(
    valid: dict[str, pd.DataFrame],
    floor_valid: dict[str, pd.DataFrame],
    history: list[QuarterScores],
    floor_card: pd.DataFrame,
) -> bool:
    """The floor is only a floor if it does the same work: the same rows kept, the same scores."""
    same_rows = all(floor_valid[key].index.equals(frame.index) for key, frame in valid.items())
    card = pd.concat([scores.scorecard[["quarter", "program_id", *BP]] for scores in history], ignore_index=True)
    same_scores = card.astype(str).equals(floor_card[card.columns].astype(str))
    return bool(same_rows and same_scores)


def run(cells: int, seed: int = 0, output_dir: Path | None = None) -> dict[str, object]:
    """Every stage once; the figures of the benchmark's JSON line. With `output_dir`, the run's
    files (report.html and the CSVs) are written there afterwards, to look at."""
    seconds: dict[str, float] = {}
    targets = Targets()
    quarter = Quarter.parse(QUARTER)
    synthetic = _timed(seconds, "generate", lambda: synthetic_workbook(cells, seed))
    raw = synthetic.raw

    parsed = _timed(seconds, "parse", lambda: parse_workbook(raw, {}, DATE_FORMAT))
    checked = _timed(
        seconds,
        "validate",
        lambda: check_parsed(
            parsed,
            run_date=RUN_DATE,
            quarter=quarter,
            max_error_share=MAX_ERROR_SHARE,
            min_log_volume_ratio=MIN_LOG_VOLUME_RATIO,
        ),
    )

    def score() -> list[QuarterScores]:
        valid = select_programs(checked.valid, None)
        require_sessions_in(valid, quarter, parsed.tabs["coaching_log"].title)
        return score_history(valid, quarter, targets)

    history = _timed(seconds, "score", score)
    current, previous = history[-1], previous_scores(history)
    recommendations, improved = _timed(
        seconds, "recommend", lambda: (recommend(current, targets), improvements(current, previous))
    )
    report = _timed(
        seconds,
        "render",
        lambda: build_quarterly_report(
            history,
            recommendations,
            improved,
            checked,
            organisation="Synthetic agency",
            source_label=raw.label,
            today=RUN_DATE,
            targets=targets,
            min_responses_per_coach=MIN_RESPONSES_PER_COACH,
        ),
    )
    total = sum(seconds[stage] for stage in ("parse", "validate", "score", "recommend", "render"))

    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, content in report.files.items():
            (output_dir / name).write_bytes(content)

    _timed(seconds, "floor_parse", lambda: floor_parse(raw))
    floor_valid, _ = _timed(seconds, "floor_validate", lambda: floor_validate(parsed, RUN_DATE))
    quarters = [scores.quarter for scores in history]
    floor_card = _timed(seconds, "floor_score", lambda: floor_scores(checked.valid, quarters, targets))
    return {
        "cells": synthetic.cells,
        "rows": synthetic.rows,
        "seed": seed,
        "programs": len(parsed.tabs["programs"].frame),
        "staff": len(parsed.tabs["staff"].frame),
        "coaching_log_rows": len(parsed.tabs["coaching_log"].frame),
        "rows_quarantined": sum(checked.rows_quarantined.values()),
        "issues": len(checked.issues),
        "quarters_scored": len(history),
        "recommendations": len(recommendations),
        "report_html_kb": round(len(report.files["report.html"]) / 1024, 1),
        "seconds_generate": seconds["generate"],
        "seconds_parse": seconds["parse"],
        "seconds_validate": seconds["validate"],
        "seconds_score": seconds["score"],
        "seconds_recommend": seconds["recommend"],
        "seconds_render": seconds["render"],
        "seconds_total": round(total, 3),
        "seconds_floor_parse": seconds["floor_parse"],
        "seconds_floor_validate": seconds["floor_validate"],
        "seconds_floor_score": seconds["floor_score"],
        "parse_over_floor": round(seconds["parse"] / max(seconds["floor_parse"], 1e-3), 2),
        "validate_over_floor": round(seconds["validate"] / max(seconds["floor_validate"], 1e-3), 2),
        "score_over_floor": round(seconds["score"] / max(seconds["floor_score"], 1e-3), 2),
        "floor_agrees": _floor_agrees(checked.valid, floor_valid, history, floor_card),
        "peak_rss_mb": _peak_rss_mb(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells", type=int, required=True, help="cells of the synthetic workbook (Google Sheets' limit: 10000000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the synthetic workbook")
    parser.add_argument("--output-dir", type=Path, help="also write the report and CSV files here, to look at")
    args = parser.parse_args(argv)
    if args.cells < 1:
        parser.error("--cells must be positive")
    figures = run(args.cells, args.seed, args.output_dir)
    print_figures(figures)
    return 0


def print_figures(figures: dict[str, object]) -> None:
    """One figure a line for people, then all of them as one JSON line for scripts."""
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(figures))
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
