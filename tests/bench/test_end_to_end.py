"""`python -m bench.end_to_end`: the stages of the real command add up to the whole run."""

from __future__ import annotations

from bench.end_to_end import STAGES, measure
from tests.deadlines import scaled


def test_the_stages_of_the_command_add_up_to_the_whole_run_and_each_was_clocked(tmp_path, seed_prefect_home):
    # The smallest synthetic workbook whose report is not held back: at 3,000 cells a few planted errors
    # are over 10 % of the quarter's Coaching Log rows, and "deliver" only writes files (no preview email).
    home = seed_prefect_home(tmp_path / "prefect")  # as on every run after a user's first
    figures = measure(5_000, seed=2, sources=("xlsx",), with_core=False, timeout=scaled(180), prefect_home=home)

    run = figures["xlsx"]
    assert abs(sum(run[stage] for stage in STAGES) - run["whole"]) < 0.02
    assert all(run[stage] >= 0 for stage in STAGES)  # nothing counted twice: Prefect's share is not negative
    # Each stage's clock found its function (a renamed task would leave it at zero).
    assert all(run[stage] > 0 for stage in ("start", "read", "parse", "validate", "score", "render", "deliver"))
    assert run["peak_rss_mb"] > 0
