"""The data-quality notice: what the data stewards read, tab by tab, and when it counts as unchanged.

The records go through the real parser and validation (tests/coaching/workbooks.py), as in a run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from coaching.contract import TABS
from coaching.notices import DataQualityNotice, build_notice, problem_and_fix
from coaching.quarterly import check_records
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, DataIssue, RawWorkbook, Severity
from coaching.report.messages import data_quality_email
from tests.coaching.workbooks import LOG, STAFF, workbook

RUN_DATE = dt.date(2026, 11, 25)
SHEET = "https://docs.google.com/spreadsheets/d/abc123/edit"


def records_with_problems(url: str | None = None) -> CheckedRecords:
    """A malformed email on Staff row 4 (a warning) and an impossible date on Coaching Log row 3 (an
    error); the four optional tabs are missing (a note each)."""
    raw = workbook(
        Staff=[
            *STAFF,
            ["S3", "Cy Diaz", "cy at agency.org", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None],
        ],
        Coaching_Log=[*LOG, ["C2", "8/32/2026", "P1", "S2", "S1", 60, True, True, False, False, ""]],
    )
    if url:  # as the Google Sheets source delivers it: a spreadsheet URL and each tab's gid
        tabs = {title: replace(tab, sheet_id=100 + i) for i, (title, tab) in enumerate(raw.tabs.items())}
        raw = RawWorkbook(tabs, "Google Sheet abc123", url)
    return check_records(
        raw,
        {},
        date_format="M/D/YYYY",
        run_date=RUN_DATE,
        quarter=Quarter(2026, 3),
        max_error_share=0.10,
        min_log_volume_ratio=0.5,
    )


@pytest.fixture(scope="module")
def checked() -> CheckedRecords:
    return records_with_problems()


def notice_of(checked: CheckedRecords, held_back: str | None = None) -> DataQualityNotice:
    return build_notice(checked, {}, organisation="Test Agency", source_label="test.xlsx", held_back=held_back)


def email_of(notice: DataQualityNotice, period: str = "2026-11-25", csv: bytes = b"tab,row\n"):
    return data_quality_email(
        notice,
        sender="reports@agency.org",
        recipients=("stewards@agency.org",),
        period=period,
        data_quality_csv=csv,
        tags={},
    )


def test_the_notice_groups_the_issues_by_tab_with_a_summary_line_per_tab(checked):
    notice = notice_of(checked)
    assert [tab.title for tab in notice.tabs] == [spec.default_title for spec in TABS]
    summary = {tab.title: (tab.rows_read, tab.rows_quarantined, tab.errors, tab.warnings) for tab in notice.tabs}
    assert summary["Programs"] == (1, 0, 0, 0)
    assert summary["Staff"] == (3, 0, 0, 1)
    assert summary["Coaching Log"] == (2, 1, 1, 0)
    assert summary["Fidelity"] == (0, 0, 0, 1)  # the missing tab

    email = email_of(notice)
    assert email.subject == "Data quality: 1 error and 5 warnings to fix in test.xlsx"
    text = email.text
    assert "- Coaching Log: 2 rows read, 1 left out; 1 error\n" in text
    assert text.index("STAFF: 1 warning") < text.index("COACHING LOG: 1 error") < text.index("FIDELITY: 1 warning")
    assert (
        "- Error, row 3 (B3), Session Date: '8/32/2026'\n"
        "  Problem: '8/32/2026' is not a date\n"
        "  What to do: Write it as M/D/YYYY (like 7/14/2026) or YYYY-MM-DD\n"
    ) in text
    assert "- Warning, row 4 (C4), Email: 'cy at agency.org'\n" in text
    # Half of the Coaching Log has errors: the stewards learn the leadership report would be held back.
    assert (
        "The next leadership report cannot go out until these are fixed:\n- Coaching Log: 1 of 2 rows for 2026-Q3 (50.0 %) have errors"
        in text
    )
    assert text.index("cannot go out") < text.index("SUMMARY BY TAB")  # the reasons lead
    assert [a.filename for a in email.attachments] == ["data_quality.csv"]


def test_each_line_links_to_its_cell_when_the_source_is_google_sheets(checked):
    linked = email_of(notice_of(records_with_problems(url=SHEET)))
    assert f'<a href="{SHEET}#gid=101&amp;range=C4" style="color:#0b57a4;">row 4 (C4)</a>' in linked.html
    assert f"Open the cell: {SHEET}#gid=102&range=B3" in linked.text
    assert "<a href" not in email_of(notice_of(checked)).html


@pytest.mark.parametrize(
    ("issue", "problem", "fix"),
    [
        (
            DataIssue(
                "Fidelity",
                31,
                "Score",
                "34",
                "The score 34 is higher than the maximum score 30; correct the score or the maximum",
                Severity.ERROR,
            ),
            "The score 34 is higher than the maximum score 30",
            "Correct the score or the maximum",
        ),
        (
            DataIssue(
                "Staff",
                9,
                "Program ID",
                "P1; P2",
                "Program ID 'P1; P2' is not on the Programs tab; add the program there or correct the ID",
                Severity.ERROR,
            ),
            "Program ID 'P1; P2' is not on the Programs tab",
            "Add the program there or correct the ID",
        ),
        (
            DataIssue("Coaching Log", 7, "Duration (minutes)", "abc", "'abc' is not a number", Severity.ERROR),
            "'abc' is not a number",
            "Correct the cell; until then the whole row is left out of the figures",
        ),
        (
            DataIssue(
                "Coaching Log",
                8,
                "Duration (minutes)",
                "900",
                "A duration of '900' minutes is outside 1 to 600; it is ignored until it is corrected",
                Severity.WARNING,
            ),
            "A duration of '900' minutes is outside 1 to 600; it is ignored until it is corrected",
            "Correct the cell",
        ),
        (
            DataIssue(
                "Coaching Plan",
                None,
                "last_reviewed",
                "",
                "this column is not in the tab, so every row counts it as blank",
                Severity.WARNING,
            ),
            "This column is not in the tab, so every row counts it as blank",
            "Add a column headed 'last_reviewed' in row 1 if you keep this information",
        ),
    ],
)
def test_every_line_says_what_is_wrong_and_what_to_do(issue, problem, fix):
    assert problem_and_fix(issue) == (problem, fix)


def test_the_same_issues_on_another_day_are_the_same_notice_and_a_changed_issue_is_not(checked):
    today = email_of(notice_of(checked), period="2026-11-25")
    tomorrow = email_of(notice_of(checked), period="2026-11-26")
    assert today.content_hash == tomorrow.content_hash

    first, *rest = checked.issues
    changed = replace(checked, issues=[replace(first, value="cy(at)agency.org"), *rest])
    assert email_of(notice_of(changed)).content_hash != today.content_hash


def test_a_value_or_link_from_the_sheet_never_becomes_html_or_script():
    hostile = DataIssue(
        "Staff",
        4,
        "Name",
        "<img src=x onerror=alert(1)>",
        "'<img src=x onerror=alert(1)>' is odd; fix it",
        Severity.WARNING,
        "B4",
        "javascript:alert(1)",
    )
    records = CheckedRecords(valid={}, issues=[hostile], rows_read={"staff": 3}, rows_quarantined={})
    html = email_of(notice_of(records)).html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html


def test_a_notice_that_replaces_the_leadership_report_opens_with_the_reasons(checked):
    email = email_of(notice_of(checked, held_back="2026-Q3"))
    assert email.subject == "Action needed: data errors held back the 2026-Q3 coaching report"
    text = email.text
    assert text.index("WAS NOT SENT TO LEADERSHIP") < text.index("- Coaching Log: 1 of 2 rows for 2026-Q3 (50.0 %)")
    assert text.index("- Coaching Log: 1 of 2 rows for 2026-Q3 (50.0 %)") < text.index("SUMMARY BY TAB")


def test_records_without_errors_or_warnings_have_nothing_to_notify():
    clean = CheckedRecords(valid={}, issues=[], rows_read={"staff": 3}, rows_quarantined={})
    assert not notice_of(clean).has_issues


def test_a_staff_row_in_error_comes_first_once_with_the_rows_that_wait_on_it_instead_of_a_line_each():
    log = [
        LOG[0],
        *(
            ["C%d" % n, dt.datetime(2026, 7, n), "P1", "S3", "S1", 60, True, True, False, False, ""]
            for n in range(1, 6)
        ),
    ]
    raw = workbook(
        Staff=[*STAFF, ["S3", "Cy Diaz", "cy@agency.org", "P1", "coach", False, "TBD", None]],
        Coaching_Log=log,
    )
    checked = check_records(
        raw,
        {},
        date_format="M/D/YYYY",
        run_date=RUN_DATE,
        quarter=Quarter(2026, 3),
        max_error_share=1.0,
        min_log_volume_ratio=0.0,
    )
    notice = notice_of(checked)
    [cause] = notice.causes
    assert (cause.title, cause.row, cause.waiting) == ("Staff", 4, (("Coaching Log", (2, 3, 4, 5, 6)),))
    assert [line.column for line in cause.lines] == ["Start Date"]
    tabs = {tab.title: tab for tab in notice.tabs}
    # Counted on their tabs, said once under the cause.
    assert (tabs["Coaching Log"].errors, tabs["Coaching Log"].lines) == (5, ())
    assert (tabs["Staff"].errors, tabs["Staff"].lines) == (1, ())
    text = email_of(notice).text
    assert text.index("FIX THESE ROWS FIRST") < text.index("SUMMARY BY TAB")
    assert "- Error, Staff, row 4, Start Date: 'TBD'" in text
    assert "5 rows wait on it: Coaching Log rows 2, 3, 4, 5, 6." in text
    assert "not on the Staff tab" not in text and "not on the Staff tab" not in email_of(notice).html
