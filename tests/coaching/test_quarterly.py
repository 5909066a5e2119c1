"""The whole-workbook checks of a quarterly run: export volume, a quarter without data, program choice."""

import datetime as dt

import pytest

from coaching.quarterly import check_records, require_sessions_in, score_history, select_programs
from coaching.quarters import Quarter
from coaching.records import Severity, UsageError, WorkbookError
from coaching.scoring import Targets
from tests.coaching.workbooks import LOG_HEADER, workbook

Q3 = Quarter.parse("2026-Q3")


def log_rows(dates):
    return [LOG_HEADER] + [[f"C{i}", d, "P1", "S2", "S1", 60, "yes", "yes"] for i, d in enumerate(dates)]


def checked(dates):
    return check_records(
        workbook(Coaching_Log=log_rows(dates)),
        {},
        date_format="M/D/YYYY",
        run_date=dt.date(2026, 11, 25),
        quarter=Q3,
        max_error_share=0.1,
        min_log_volume_ratio=0.5,
    )


def test_a_quarter_with_under_half_the_previous_quarters_log_rows_blocks_the_report_as_a_likely_missing_export():
    result = checked(["4/10/2026"] * 5 + ["7/10/2026"] * 2)
    (flag,) = [i for i in result.issues if i.tab == "Coaching Log" and i.row is None]
    assert flag.severity is Severity.WARNING
    assert "only 2 coaching-log rows are dated in 2026-Q3, against 5 in 2026-Q2" in flag.problem
    assert result.blocking == [f"Coaching Log: {flag.problem}"]


def test_half_the_previous_quarters_rows_is_not_flagged():
    result = checked(["4/10/2026"] * 4 + ["7/10/2026"] * 2)
    assert not [i for i in result.issues if i.tab == "Coaching Log" and i.row is None]
    assert result.blocking == []


def test_a_quarter_without_a_valid_session_stops_the_run_instead_of_reporting_zeros():
    result = checked(["4/10/2026"])
    with pytest.raises(
        WorkbookError, match=r"no valid rows dated in 2026-Q3 \(the latest valid session is dated 2026-04-10\)"
    ) as stop:
        require_sessions_in(result.valid, Q3, "Coaching Log")
    assert "with --quarter (in the Prefect UI: the run's parameter quarter), for example --quarter 2026-Q2" in str(
        stop.value
    )


def test_programs_can_be_chosen_by_id_or_name_and_an_unknown_one_is_named():
    valid = checked(["7/10/2026"]).valid
    assert select_programs(valid, ["Home Visiting"])["programs"]["program_id"].tolist() == ["P1"]
    with pytest.raises(UsageError, match=r"Unknown program 'P7': the Programs tab has P1 \(Home Visiting\)"):
        select_programs(valid, ["P7"])


def test_a_quarter_whose_log_rows_are_all_errors_is_blocked_and_still_scores_for_the_stewards_notice():
    rows = log_rows(["4/10/2026", "7/10/2026", "8/10/2026"])
    for row in rows[2:]:
        row[3] = "NOBODY"  # coach not on the Staff tab: every 2026-Q3 row has an error
    result = check_records(
        workbook(Coaching_Log=rows),
        {},
        date_format="M/D/YYYY",
        run_date=dt.date(2026, 11, 25),
        quarter=Q3,
        max_error_share=0.1,
        min_log_volume_ratio=0.5,
    )
    assert result.blocking[0].startswith("Coaching Log: all 2 rows for 2026-Q3 have errors")
    (scores,) = score_history(result.valid, Q3, Targets())[-1:]
    assert scores.scorecard["multi_source_rate"].isna().all()  # nothing to divide: blank, not 0
