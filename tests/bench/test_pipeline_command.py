"""`python -m bench.pipeline --cells N`: a small run prints the benchmark's figures as one JSON line."""

from __future__ import annotations

import json

from bench.pipeline import main

KEYS = {
    "cells",
    "rows",
    "seconds_parse",
    "seconds_validate",
    "seconds_score",
    "seconds_render",
    "seconds_total",
    "peak_rss_mb",
    "seconds_floor_parse",
    "seconds_floor_validate",
    "seconds_floor_score",
}


def test_a_small_run_prints_its_figures_as_json_on_the_last_line(tmp_path, capsys):
    assert main(["--cells", "20000", "--seed", "1", "--output-dir", str(tmp_path)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert KEYS <= set(figures)
    assert 19_800 <= figures["cells"] <= 20_000 and figures["rows"] > 1_000
    assert all(figures[key] > 0 for key in KEYS)
    stages = ("seconds_parse", "seconds_validate", "seconds_score", "seconds_recommend", "seconds_render")
    assert abs(figures["seconds_total"] - sum(figures[key] for key in stages)) < 0.01
    assert figures["floor_agrees"] is True  # the plain-pandas floor kept the same rows, gave the same scores
    assert figures["rows_quarantined"] > 0 and figures["recommendations"] > 0
    assert "Coaching effectiveness report" in (tmp_path / "report.html").read_text()  # to look at
