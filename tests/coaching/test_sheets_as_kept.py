"""Sheets as operations staff really keep them (issue 15): formulas, headers mapped from another
tool, Google Forms surveys, title rows, people entered twice, near IDs, and rows pointing at the
row that causes their error. Workbooks go through the real parser and checks, as in a run."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from coaching.parsing import parse_workbook
from coaching.quarterly import check_records
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, DataIssue, RawTab, RawWorkbook, Severity, WorkbookError
from tests.coaching.workbooks import LOG_HEADER, PROGRAMS, STAFF, workbook

RUN_DATE = dt.date(2026, 11, 25)
LOG_ROW = ["C1", dt.datetime(2026, 7, 14), "P1", "S2", "S1", 60, True, True, False, False, "went well"]


def check(
    raw: RawWorkbook, columns: dict[str, dict[str, str]] | None = None, titles: dict[str, str] | None = None
) -> CheckedRecords:
    return check_records(
        raw,
        titles or {},
        date_format="M/D/YYYY",
        run_date=RUN_DATE,
        quarter=Quarter.parse("2026-Q3"),
        max_error_share=1.0,
        min_log_volume_ratio=0.0,
        columns=columns,
    )


def with_formulas(raw: RawWorkbook, title: str, formulas: dict[tuple[int, int], str]) -> RawWorkbook:
    tab = raw.tabs[title]
    return RawWorkbook({**raw.tabs, title: RawTab(tab.title, tab.rows, formulas=formulas)}, raw.label)


def issues_of(checked: CheckedRecords | object, tab: str) -> list[DataIssue]:
    return [i for i in checked.issues if i.tab == tab]  # type: ignore[attr-defined]


# --- formulas -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "header", "stored", "formula"),
    [
        (2, "Session Date", dt.datetime(2026, 7, 14), "=TODAY()"),
        (5, "Staff ID", "S1", "=A2"),
        (7, "Direct Observation?", True, '=C2<>""'),
        (6, "Duration (minutes)", 60, "=30*2"),
    ],
)
def test_a_formula_where_a_typed_value_belongs_is_listed_naming_the_formula_whatever_it_shows(
    column, header, stored, formula
):
    row = [*LOG_ROW]
    row[column - 1] = stored
    raw = with_formulas(workbook(Coaching_Log=[LOG_HEADER, row]), "Coaching Log", {(2, column): formula})
    parsed = parse_workbook(raw, {})
    [issue] = [i for i in parsed.issues if i.tab == "Coaching Log"]
    assert (issue.row, issue.column, issue.value) == (2, header, formula)
    assert issue.problem.startswith(f"'{formula}' is a formula (it shows '")
    assert "type the value itself" in issue.problem
    # The session date, ID or yes/no is never the formula's last result; the duration (no score needs
    # it) is only a warning, as any unreadable duration is.
    assert issue.severity is (Severity.WARNING if header.startswith("Duration") else Severity.ERROR)


def test_a_session_date_formula_quarantines_the_row_so_a_recalculation_never_moves_it_to_another_quarter():
    raw = with_formulas(
        workbook(Coaching_Log=[LOG_HEADER, LOG_ROW, ["C2", *LOG_ROW[1:]]]), "Coaching Log", {(3, 2): "=TODAY()"}
    )
    checked = check(raw)
    assert checked.valid["coaching_log"].index.tolist() == [2]


def test_a_formula_in_a_free_text_column_reads_as_its_value():
    raw = with_formulas(
        workbook(Coaching_Log=[LOG_HEADER, LOG_ROW]), "Coaching Log", {(2, 11): '=CONCAT("went ","well")'}
    )
    parsed = parse_workbook(raw, {})
    assert parsed.tabs["coaching_log"].frame.at[2, "notes"] == "went well"
    assert not [i for i in parsed.issues if i.tab == "Coaching Log"]


def test_a_formula_with_no_stored_value_is_said_to_be_a_formula_not_a_blank_cell():
    programs = [PROGRAMS[0], ["P1", None, "S2"]]  # the name is =B1 & "x", saved without a value
    raw = with_formulas(workbook(Programs=programs), "Programs", {(2, 2): '=B1&"x"'})
    checked = check(raw)
    [issue] = issues_of(checked, "Programs")
    assert (issue.row, issue.column, issue.value, issue.severity) == (2, "Program Name", '=B1&"x"', Severity.ERROR)
    assert "is a formula with no value stored in the file" in issue.problem
    assert "blank;" not in issue.problem


def test_a_row_whose_only_content_is_a_formula_without_a_value_is_read_not_skipped():
    raw = with_formulas(workbook(Coaching_Log=[LOG_HEADER, LOG_ROW, [None] * 11]), "Coaching Log", {(3, 2): "=TODAY()"})
    parsed = parse_workbook(raw, {})
    assert parsed.tabs["coaching_log"].frame.index.tolist() == [2, 3]
    assert ("Session Date", "=TODAY()") in [(i.column, i.value) for i in parsed.issues if i.row == 3]


# --- headers --------------------------------------------------------------------------------------

FORM_HEADERS = [
    "Timestamp",
    "Email Address",
    "Which program are you in?",
    "Who coached you?",
    "How satisfied are you with your coaching? (1-5)",
    "Anything else?",
    "Anything else?",
]
FORMS_MAPPING = {
    "satisfaction": {
        "program_id": "Which program are you in?",
        "coach_id": "Who coached you?",
        "satisfaction": "How satisfied are you with your coaching? (1-5)",
        "comments": "Anything else?",
    }
}


def test_mapped_headers_read_as_the_contract_columns_and_messages_name_the_sheets_header():
    survey = [FORM_HEADERS, ["7/14/2026 9:31:05", "ann@agency.org", "P1", "S2", "seven", "ok", "again"]]
    mapping = {"satisfaction": {**FORMS_MAPPING["satisfaction"], "comments": "Anything else?"}}
    with pytest.raises(WorkbookError, match="repeats column F"):  # a read column may not repeat
        parse_workbook(workbook(Satisfaction_Survey=survey), {}, columns=mapping)
    mapping["satisfaction"].pop("comments")  # the repeated question is not read: it stops nothing
    parsed = parse_workbook(workbook(Satisfaction_Survey=survey), {}, columns=mapping)
    frame = parsed.tabs["satisfaction"].frame
    assert frame.loc[2, ["timestamp", "program_id", "coach_id"]].tolist() == [
        pd.Timestamp("2026-07-14 09:31:05"),
        "P1",
        "S2",
    ]
    [issue] = [i for i in parsed.issues if i.row == 2]
    assert (issue.column, issue.value) == ("How satisfied are you with your coaching? (1-5)", "seven")


def test_a_mapped_header_that_is_not_in_the_tab_stops_the_run_naming_it_and_the_setting():
    survey = [["Timestamp", "Program ID", "Rating"], ["7/14/2026", "P1", 4]]
    with pytest.raises(
        WorkbookError, match=r"has no column 'How happy\?' \(columns\.satisfaction\.satisfaction in the settings\)"
    ):
        parse_workbook(
            workbook(Satisfaction_Survey=survey), {}, columns={"satisfaction": {"satisfaction": "How happy?"}}
        )


def test_a_title_row_above_the_headers_says_in_which_row_the_headers_seem_to_be():
    staff = [["Staff list, updated weekly"], *STAFF]
    with pytest.raises(WorkbookError, match=r"Tab 'Staff': the headers seem to be in row 2, not row 1"):
        parse_workbook(workbook(Staff=staff), {})


# --- Google Forms surveys ---------------------------------------------------------------------------


def check_forms(raw: RawWorkbook) -> CheckedRecords:
    """The records with the survey in a Forms responses tab, its questions mapped (no comments question)."""
    mapping = {k: v for k, v in FORMS_MAPPING["satisfaction"].items() if k != "comments"}
    return check(raw, {"satisfaction": mapping}, {"satisfaction": "Form Responses 1"})


def forms_workbook(*answers: list[object], title: str = "Form Responses 1") -> RawWorkbook:
    raw = workbook(
        Programs=[
            PROGRAMS[0],
            ["P1", "Home Visiting", "S2"],
            ["P2", "Family Support", ""],
            ["P3", "Family Support", ""],
        ]
    )
    return RawWorkbook({**raw.tabs, title: RawTab(title, [FORM_HEADERS, *answers])}, raw.label)


def test_a_forms_survey_with_program_names_reads_as_program_ids():
    raw = forms_workbook(
        ["7/14/2026 9:31:05", "a@agency.org", "home visiting ", "S2", 5, "", ""],
        ["7/15/2026 10:00:00", "b@agency.org", "P1", "S2", 4, "", ""],
        ["7/16/2026 10:00:00", "c@agency.org", "Family Support", "", 3, "", ""],
        ["7/17/2026 10:00:00", "d@agency.org", "Home Visits", "", 3, "", ""],
    )
    checked = check_forms(raw)
    valid = checked.valid["satisfaction"]
    assert valid["program_id"].tolist() == ["P1", "P1"]
    problems = {i.row: i.problem for i in issues_of(checked, "Form Responses 1") if i.row}
    assert problems[4].startswith("'Family Support' is the name of 2 programs (P2, P3): write the program's ID")
    assert problems[5].startswith("Program 'Home Visits' is neither an ID nor a name on the Programs tab")
    assert set(problems) == {4, 5}


def test_a_missing_survey_tab_names_the_forms_tab_and_the_setting_beside_the_score_it_lowers():
    checked = check(forms_workbook(["7/14/2026 9:31:05", "a@agency.org", "P1", "S2", 5, "", ""]))
    [note] = [i for i in checked.issues if i.tab == "Satisfaction Survey"]
    assert note.problem == (
        "this tab is not in the workbook, so it counts as empty; the tab 'Form Responses 1' looks like it: "
        "rename that tab 'Satisfaction Survey', or set tabs.satisfaction in the settings "
        "(COACHING_TABS__SATISFACTION) to 'Form Responses 1'"
    )
    notes = checked.score_notes()
    assert set(notes) == {3, 4}  # no Coaching Plan (3); no Fidelity, survey or actions (4)
    assert any("'Form Responses 1' looks like it" in line for line in notes[4])
    assert notes[3] == (
        (
            "The 'Coaching Plan' tab is not in the workbook, so it counts as empty here; add the tab, or check "
            "that its title is spelled as in the settings, if you keep these records."
        ),
    )


def test_a_tab_holding_a_missing_tabs_columns_under_another_title_is_named():
    raw = workbook(Plan_2026=[["Program ID", "Component", "Documented"], ["P1", "methods", "yes"]])
    checked = check(raw)
    [note] = [i for i in checked.issues if i.tab == "Coaching Plan"]
    assert "the tab 'Plan 2026' looks like it" in note.problem and "COACHING_TABS__COACHING_PLAN" in note.problem


# --- people entered twice, near IDs ---------------------------------------------------------------


def staff_rows(*rows: list[object]) -> list[list[object]]:
    return [*STAFF, *rows]


def test_the_same_email_or_name_and_start_date_on_two_staff_rows_warns_on_the_later_and_keeps_both():
    raw = workbook(
        Staff=staff_rows(
            ["S3", "Cy Lee", "ANN@agency.org ", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None],
            ["S4", "bo diaz", "bo.diaz@other.org", "P1", "coach", False, dt.datetime(2024, 3, 1), None],
        )
    )
    checked = check(raw)
    warned = {(i.row, i.column): i for i in issues_of(checked, "Staff")}
    assert set(warned) == {(4, "Email"), (5, "Name")}
    assert warned[(4, "Email")].problem.startswith("The email 'ANN@agency.org' is already on row 2:")
    assert warned[(5, "Name")].problem.startswith("'bo diaz' with the start date 2024-03-01 is already on row 3:")
    assert all(i.severity is Severity.WARNING for i in warned.values())
    staff = checked.valid["staff"]
    assert staff.index.tolist() == [2, 3, 4, 5] and staff.at[4, "email"] == "ANN@agency.org"


@pytest.mark.parametrize(
    ("typed", "known", "words"),
    [
        ("p1", "P1", "did you mean 'P1'? IDs are matched exactly, capital letters included: write it as 'P1'"),
        ("S 9", "S9", "did you mean 'S9'? IDs are matched exactly, spaces included: write it as 'S9'"),
        ("s 9", "S9", "did you mean 'S9'? IDs are matched exactly, spaces and capital letters included"),
        ("'00155", "00155", "did you mean '00155'? The cell holds an apostrophe before the ID"),
        ("155", "00155", "did you mean '00155'? Format the column as Plain text"),
        ("00155", "'00155", "did you mean ''00155'? The other tab holds that ID with an apostrophe"),
    ],
)
def test_an_unknown_id_near_a_known_one_says_which_it_is_and_why_it_differs(typed, known, words):
    staff = staff_rows([known, "Dee", "dee@agency.org", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None])
    programs = [PROGRAMS[0], ["P1", "Home Visiting", "S2"]]
    log = [LOG_HEADER, ["C1", dt.datetime(2026, 7, 14), "P1", "S2", typed, 60, True, True, False, False, ""]]
    if typed == "p1":
        log[1][2:5] = ["p1", "S2", "S1"]
    checked = check(workbook(Programs=programs, Staff=staff, Coaching_Log=log))
    [issue] = [i for i in issues_of(checked, "Coaching Log")]
    assert words in issue.problem


def test_a_staff_id_that_differs_from_another_only_by_pasted_characters_or_case_is_listed():
    raw = workbook(
        Staff=staff_rows(
            ["'00155", "Dee", "dee@agency.org", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None],
            ["s1", "Eve", "eve@agency.org", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None],
        )
    )
    checked = check(raw)
    warned = {i.row: i.problem for i in issues_of(checked, "Staff")}
    assert warned[4].startswith("Staff ID ''00155' holds an apostrophe or invisible characters")
    assert warned[5].startswith("Staff ID 's1' differs from 'S1' on row 2 only by capital letters")
    # Listed, not changed: both rows still count, with their IDs as typed.
    assert checked.valid["staff"]["staff_id"].tolist() == ["S1", "S2", "'00155", "s1"]


def test_the_report_says_beside_the_score_it_lowers_that_a_tab_is_missing():
    import dataclasses
    import re

    from coaching.report.render import render_report
    from tests.coaching.report_fixtures import report_data, small_tabs

    checked = check(forms_workbook(["7/14/2026 9:31:05", "a@agency.org", "P1", "S2", 5, "", ""]))
    data = dataclasses.replace(report_data(small_tabs(), "2026-Q3"), score_notes=checked.score_notes())
    html = render_report(data).html_email
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")
    words = words[words.index("Program by program") :]
    detail = words[words.index("4. Coaching effectiveness reviewed quarterly") :]
    assert (
        "The 'Satisfaction Survey' tab is not in the workbook, so it counts as empty here; the tab "
        "'Form Responses 1' looks like it" in detail
    )
    plan = words[
        words.index("3. A written coaching service delivery plan") : words.index("4. Coaching effectiveness reviewed")
    ]
    assert "The 'Coaching Plan' tab is not in the workbook" in plan


@pytest.mark.parametrize("value_render", ["UNFORMATTED_VALUE", "FORMATTED_VALUE"])
def test_a_forms_responses_tab_read_from_the_loopback_sheets_gives_the_survey_by_program_id(value_render):
    """As a linked Google Form leaves it: "Form Responses 1", question texts as headers, an email
    column, text timestamps in the sheet's locale and programs chosen by name."""
    import json

    from adapters.google_sheets import GoogleSheetsSource, load_service_account_info
    from tests.fakes.google_api import FakeGoogle, new_private_key

    answers = [
        ["7/14/2026 9:31:05", "a@agency.org", "Home Visiting", "S2", 5, "Helpful", ""],
        ["7/15/2026 16:02:44", "b@agency.org", "Home Visiting", "", 4, "", ""],
    ]
    tabs = {
        "Programs": PROGRAMS,
        "Staff": STAFF,
        "Coaching Log": [LOG_HEADER, LOG_ROW],
        "Form Responses 1": [FORM_HEADERS, *answers],
    }
    with FakeGoogle() as google:
        account = load_service_account_info(
            text=json.dumps(google.new_service_account("reader@x.iam.gserviceaccount.com", new_private_key()))
        )
        google.add_spreadsheet("K" * 44, "Coaching records", tabs, {"reader@x.iam.gserviceaccount.com": "reader"})
        raw = GoogleSheetsSource("K" * 44, account, api_url=google.url, value_render=value_render).read()
    checked = check_forms(raw)
    survey = checked.valid["satisfaction"]
    assert survey["program_id"].tolist() == ["P1", "P1"]
    assert survey["timestamp"].tolist() == [pd.Timestamp("2026-07-14 09:31:05"), pd.Timestamp("2026-07-15 16:02:44")]
    assert not [i for i in checked.issues if i.tab == "Form Responses 1" and i.row]
