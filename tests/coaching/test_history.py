"""Trends from what was reported, restatements explained, history.csv (coaching/history.py)."""

from __future__ import annotations

import pandas as pd

from coaching.history import HISTORY_COLUMNS, ReportedVersion, compare, history_frame, quarter_record, reconcile
from coaching.quarters import Quarter
from coaching.scoring import Targets, score_quarter
from tests.coaching.report_fixtures import small_tabs, valid_frames

Q2, Q3 = Quarter.parse("2026-Q2"), Quarter.parse("2026-Q3")


def delivered(tabs, quarter: Quarter, on: str = "2026-07-06T14:00:00+00:00", version: int = 1) -> ReportedVersion:
    """The quarter's report as it was delivered from these rows."""
    valid = valid_frames(tabs)
    return ReportedVersion(quarter_record(valid, score_quarter(valid, quarter, Targets())), version, on, "hash")


def history_of(tabs, *reported: ReportedVersion):
    valid = valid_frames(tabs)
    recomputed = [score_quarter(valid, q, Targets()) for q in (Q2, Q3)]
    return reconcile(valid, recomputed, {v.record.quarter: v for v in reported}, Targets())


def percent(scores, program: str) -> float:
    return float(scores.scorecard.set_index("program_id").loc[program, "percent"])


def backfilled_q2():
    tabs = small_tabs()
    tabs["Coaching Log"] += [
        ["Q2-2", "5/12/2026", "P1", "S01", "S02", "60", "TRUE", "TRUE", "", "", ""],
        ["Q2-3", "6/9/2026", "P1", "S01", "S02", "60", "TRUE", "TRUE", "", "", ""],
    ]
    return tabs


def test_sessions_back_filled_after_the_report_restate_the_quarter_but_the_trend_keeps_what_was_reported():
    history = history_of(backfilled_q2(), delivered(small_tabs(), Q2))
    (restated,) = history.restatements
    assert (restated.quarter, restated.program_name) == ("2026-Q2", "Home Visiting")
    assert (restated.reported_total, restated.reported_percent, restated.total, restated.percent) == (5, 62.5, 6, 75.0)
    assert restated.reasons == ("2 sessions dated in 2026-Q2 added to the Coaching Log since the report",)
    assert restated.reported_on == "2026-07-06"
    q2_shown, q2_today = history.shown[0], history.recomputed[0]
    assert percent(q2_shown, "P1") == 62.5 and percent(q2_today, "P1") == 75.0


def test_a_quarter_never_reported_is_recomputed_and_has_no_reported_figures():
    history = history_of(backfilled_q2())
    assert history.restatements == [] and history.as_reported == {}
    assert percent(history.shown[0], "P1") == 75.0
    frame = history_frame(history)
    assert frame.columns.tolist() == HISTORY_COLUMNS
    assert frame["reported_total_score"].isna().all() and (frame["reported_on"] == "").all()


def test_an_earlier_quarter_keeps_the_plan_it_was_reported_with_while_the_reported_quarter_uses_todays():
    tabs = small_tabs()
    tabs["Coaching Plan"] = [row for row in tabs["Coaching Plan"] if row[0] != "P1"]  # Home Visiting's plan deleted
    history = history_of(tabs, delivered(small_tabs(), Q2))
    assert history.restatements == []  # 2026-Q2 is rescored with the plan as it was reported
    q3 = history.current.scorecard.set_index("program_id")
    assert q3.loc["P1", "bp3_service_plan"] == 0


def test_rows_corrected_or_removed_and_plan_changes_are_counted_for_the_version_sent_before():
    tabs = small_tabs()
    tabs["Coaching Log"][1][7] = "FALSE"  # Q3-1: no reflection after all
    del tabs["Coaching Log"][2]  # Q3-2 removed
    tabs["Coaching Plan"][3][2] = "TRUE"  # Home Visiting's feedback now documented
    history = history_of(tabs, delivered(small_tabs(), Q3))
    (home,) = [item for item in history.since_last_sent if item.program_id == "P1"]
    assert home.reasons == (
        "1 Coaching Log row of 2026-Q3 corrected",
        "1 Coaching Log row of 2026-Q3 removed, re-dated or now with an error",
        "Coaching Plan components changed: feedback now documented",
    )
    assert (home.reported_total, home.total) == (8, 6)  # August no longer coached, half the sessions multi-source
    assert all(item.program_id != "P2" for item in history.since_last_sent)  # nothing of it changed


def test_history_csv_puts_todays_figures_beside_the_latest_version_delivered():
    first = delivered(small_tabs(), Q2)
    resent = delivered(backfilled_q2(), Q2, on="2026-08-01T09:00:00+00:00", version=2)
    history = history_of(backfilled_q2(), resent)
    assert history.restatements == []  # the re-sent version already had the back-filled sessions
    frame = history_frame(history).set_index(["quarter", "program_id"])
    assert frame.loc[("2026-Q2", "P1"), ["total_score", "reported_total_score", "reported_on"]].tolist() == [
        6,
        6,
        "2026-08-01",
    ]
    assert pd.isna(frame.loc[("2026-Q3", "P1"), "reported_percent"])
    assert compare(first, resent.record, only_changed_scores=True)[0].total == 6


def test_a_program_added_after_the_report_is_listed_as_not_in_it_and_scored_with_todays_plan():
    tabs = small_tabs()
    tabs["Programs"].append(["P3", "Night Shelter", "S01"])
    tabs["Coaching Plan"] += [["P3", "Frequency", "TRUE", "", ""], ["P3", "Methods", "TRUE", "", ""]]
    history = history_of(tabs, delivered(small_tabs(), Q2))
    (added,) = history.restatements
    assert (added.program_id, added.reported_total, added.reasons) == (
        "P3",
        None,
        ("the program was not in the report, or was added since",),
    )
    assert history.recomputed[0].scorecard.set_index("program_id").loc["P3", "bp3_service_plan"] == 1
    assert "P3" not in set(history.shown[0].scorecard["program_id"])  # the trend keeps the report as it was
