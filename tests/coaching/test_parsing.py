"""Reading the workbook by the contract's rules (data-contract.md, section 1)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from coaching.parsing import parse_workbook, parsed_where_read
from coaching.records import CellRange, RawTab, RawWorkbook, ReadingOptions, Severity, WorkbookError
from tests.coaching.workbooks import LOG_HEADER, PROGRAMS, STAFF, workbook


def parse(raw, date_format="M/D/YYYY"):
    return parse_workbook(raw, {}, date_format)


def errors(parsed):
    return [i for i in parsed.issues if i.severity is Severity.ERROR]


def log_with(*rows):
    return [LOG_HEADER, *rows]


def test_headers_match_after_normalising_whatever_their_order_and_extra_columns_are_ignored():
    raw = workbook(
        Programs=[
            ["  COACHING lead id ", "Program-Name", "Comments (internal)", "program_id"],
            ["S2", "Home", "x", "P1"],
        ]
    )
    programs = parse(raw).tabs["programs"].frame
    assert programs.loc[2, ["program_id", "program_name", "coaching_lead_id"]].tolist() == ["P1", "Home", "S2"]
    assert "comments_internal" not in programs.columns


def test_a_missing_required_column_stops_the_run_naming_tab_and_column_in_the_sheets_words():
    raw = workbook(Staff=[[h for h in STAFF[0] if h != "Start Date"], ["S1", "Ann", "", "P1", "", "yes", ""]])
    with pytest.raises(
        WorkbookError, match=r"Tab 'Staff' has no column 'Start Date' \(headers found: 'Staff ID', 'Name', "
    ):
        parse(raw)


@pytest.mark.parametrize(
    ("tab", "renamed", "label"),
    [
        ("Coaching Log", "Direct Observation?", "Direct Observation?"),
        ("Coaching Log", "Stakeholder Interview", "Stakeholder Interview?"),
        ("Staff", "Requires Coaching", "Requires Coaching?"),
        ("Staff", "Email", "Email"),
        ("Staff", "End Date", "End Date"),
        ("Programs", "Coaching Lead ID", "Coaching Lead ID"),
        ("Coaching Plan", "Documented", "Documented?"),
    ],
)
def test_a_renamed_scoring_column_stops_the_run_instead_of_reading_as_blanks(tab, renamed, label):
    base = {
        "Programs": PROGRAMS,
        "Staff": STAFF,
        "Coaching Log": log_with(["C1", "7/1/2026", "P1", "S2", "S1", 30, True, True, False, False]),
        "Coaching Plan": [["Program ID", "Component", "Documented"], ["P1", "methods", True]],
    }
    rows = [list(row) for row in base[tab]]
    rows[0] = ["Observed?" if h == renamed else h for h in rows[0]]
    with pytest.raises(
        WorkbookError, match=rf"Tab '{tab}' has no column '{re.escape(label)}' \(headers found: .*'Observed\?'"
    ):
        parse(workbook(**{tab.replace(" ", "_"): rows}))


def test_a_missing_required_tab_stops_the_run_and_lists_the_tabs_found():
    raw = workbook(Coaching_Log=None)
    with pytest.raises(WorkbookError, match=r"no tab 'Coaching Log' \(tabs found: 'Programs', 'Staff'\)"):
        parse(raw)


def test_a_missing_optional_tab_counts_as_empty_and_is_mentioned():
    parsed = parse(workbook())
    assert parsed.tabs["fidelity"].frame.empty
    notes = [i for i in parsed.issues if i.tab == "Fidelity"]
    assert len(notes) == 1 and notes[0].severity is Severity.WARNING and "not in the workbook" in notes[0].problem


def test_a_required_tab_with_only_a_header_stops_the_run_with_no_data():
    with pytest.raises(WorkbookError, match=r"Tab 'Coaching Log' has no data rows: no data"):
        parse(workbook(Coaching_Log=[LOG_HEADER, [], [None, "  "]]))


def test_a_blank_header_over_data_stops_the_run_naming_the_column():
    raw = workbook(Programs=[["Program ID", None, "Program Name"], ["P1", "oops", "Home"]])
    with pytest.raises(WorkbookError, match=r"Tab 'Programs': column B has data but no header"):
        parse(raw)


def test_a_repeated_header_stops_the_run_naming_both_columns():
    raw = workbook(Programs=[["Program ID", "Program Name", "program id"], ["P1", "Home", "P2"]])
    with pytest.raises(WorkbookError, match=r"the header 'program id' in column C repeats column A"):
        parse(raw)


def test_blank_trailing_header_cells_without_data_are_harmless():
    raw = workbook(Programs=[["Program ID", "Program Name", "Coaching Lead ID", None, None], ["P1", "Home", "S2"]])
    assert parse(raw).tabs["programs"].frame["program_id"].tolist() == ["P1"]


def test_empty_rows_are_skipped_and_every_other_row_keeps_its_sheet_row_number():
    rows = log_with(
        ["C1", "7/1/2026", "P1", "S2", "S1"],
        [],
        [None, " ", None],
        ["C2", "7/2/2026", "P1", "S2", "S1", None, "maybe"],
    )
    parsed = parse(workbook(Coaching_Log=rows))
    assert parsed.tabs["coaching_log"].frame["row"].tolist() == [2, 5]
    (issue,) = errors(parsed)
    assert (issue.tab, issue.row, issue.column, issue.value, issue.cell) == (
        "Coaching Log",
        5,
        "Direct Observation?",
        "maybe",
        "G5",
    )
    assert "yes/no" in issue.problem


def test_identifiers_stay_text_and_keep_leading_zeros():
    raw = workbook(
        Programs=[
            ["Program ID", "Program Name", "Coaching Lead ID"],
            ["00123", "A"],
            [123, "B"],
            [45.0, "C"],
            [" P7 ", "D"],
        ]
    )
    assert parse(raw).tabs["programs"].frame["program_id"].tolist() == ["00123", "123", "45", "P7"]


@pytest.mark.parametrize("cell", ["TRUE", "yes", "Y", "1", "x", "X", True, 1])
def test_true_is_read_from_every_spelling_the_contract_allows(cell):
    rows = log_with(["C1", "7/1/2026", "P1", "S2", "S1", None, cell])
    assert bool(parse(workbook(Coaching_Log=rows)).tabs["coaching_log"].frame.loc[2, "direct_observation"]) is True


@pytest.mark.parametrize("cell", ["FALSE", "no", "N", "0", "", None, False, 0])
def test_false_is_read_from_every_spelling_the_contract_allows_blank_included(cell):
    rows = log_with(["C1", "7/1/2026", "P1", "S2", "S1", None, cell])
    parsed = parse(workbook(Coaching_Log=rows))
    assert bool(parsed.tabs["coaching_log"].frame.loc[2, "direct_observation"]) is False
    assert errors(parsed) == []


@pytest.mark.parametrize(
    "cell",
    [
        dt.datetime(2026, 7, 14),
        dt.date(2026, 7, 14),
        46217,  # Sheets serial number for 2026-07-14
        46217.75,  # with a time of day
        "2026-07-14",
        "7/14/2026",
        "07/14/2026",
        "7/14/2026 18:00:00",
        "2026-07-14 09:30",
    ],
)
def test_dates_are_read_from_cells_serials_and_text(cell):
    rows = log_with(["C1", cell, "P1", "S2", "S1"])
    parsed = parse(workbook(Coaching_Log=rows))
    assert parsed.tabs["coaching_log"].frame.loc[2, "session_date"] == pd.Timestamp("2026-07-14")
    assert errors(parsed) == []


def test_the_sheet_date_format_can_be_day_first():
    rows = log_with(["C1", "14/7/2026", "P1", "S2", "S1"])
    parsed = parse(workbook(Coaching_Log=rows), date_format="D/M/YYYY")
    assert parsed.tabs["coaching_log"].frame.loc[2, "session_date"] == pd.Timestamp("2026-07-14")


@pytest.mark.parametrize("cell", ["8/32/2026", "2/29/2026", "14/7/2026", "July 14", "2026/07/14", "soon"])
def test_an_impossible_or_unreadable_date_is_an_error_naming_the_cell(cell):
    rows = log_with(["C1", cell, "P1", "S2", "S1"])
    parsed = parse(workbook(Coaching_Log=rows))
    (issue,) = errors(parsed)
    assert (issue.row, issue.column, issue.value, issue.cell) == (2, "Session Date", cell, "B2")
    assert "is not a date" in issue.problem and "M/D/YYYY" in issue.problem
    assert pd.isna(parsed.tabs["coaching_log"].frame.loc[2, "session_date"])


def test_a_survey_timestamp_keeps_its_time_of_day():
    survey = [["Timestamp", "Program ID", "Coach ID", "Satisfaction"], ["7/14/2026 9:32:10", "P1", "S2", 4]]
    frame = parse(workbook(Satisfaction_Survey=survey)).tabs["satisfaction"].frame
    assert frame.loc[2, "timestamp"] == pd.Timestamp("2026-07-14 09:32:10")


def test_numbers_are_read_from_numeric_cells_and_numeric_text_and_text_is_trimmed():
    rows = log_with(
        ["C1", "7/1/2026", "P1", "S2", "S1", " 45 ", None, None, None, None, "  went well  "],
        ["C2", "7/1/2026", "P1", "S2", "S1", 60.5],
        ["C3", "7/1/2026", "P1", "S2", "S1", "an hour"],
    )
    parsed = parse(workbook(Coaching_Log=rows))
    frame = parsed.tabs["coaching_log"].frame
    assert frame["duration_minutes"].tolist()[:2] == [45.0, 60.5]
    assert frame.loc[2, "notes"] == "went well"
    assert errors(parsed) == []
    (issue,) = [i for i in parsed.issues if i.row is not None]
    assert (issue.row, issue.value, issue.severity) == (4, "an hour", Severity.WARNING)
    assert "is not a number: write digits only" in issue.problem


def test_a_satisfaction_that_is_not_a_whole_number_is_an_error():
    survey = [["Timestamp", "Program ID", "Satisfaction"], ["7/14/2026", "P1", 3.5], ["7/14/2026", "P1", "4"]]
    parsed = parse(workbook(Satisfaction_Survey=survey))
    (issue,) = errors(parsed)
    assert (issue.tab, issue.row, issue.value) == ("Satisfaction Survey", 2, "3.5")
    assert parsed.tabs["satisfaction"].frame.loc[3, "satisfaction"] == 4


def test_long_plan_labels_and_spelled_out_statuses_are_normalised():
    plan = [
        ["Program ID", "Component", "Documented"],
        ["P1", "Feedback methods and timeframe", "yes"],
        ["P1", "Communication protocols for coach and supervisor", "x"],
        ["P1", "Skill Sets", True],
    ]
    actions = [["Quarter", "Program ID", "Action", "Status"], ["2026-q2", "P1", "Plan", "In progress"]]
    parsed = parse(workbook(Coaching_Plan=plan, Improvement_Actions=actions))
    assert parsed.tabs["coaching_plan"].frame["component"].tolist() == ["feedback", "communication", "skill_sets"]
    assert parsed.tabs["improvement_actions"].frame.loc[2, ["quarter", "status"]].tolist() == ["2026-Q2", "in_progress"]


def test_a_missing_optional_column_reads_as_blank_and_is_mentioned_once_in_the_sheets_words():
    rows = [LOG_HEADER[:5] + LOG_HEADER[6:10], ["C1", "7/1/2026", "P1", "S2", "S1", True, False, False, False]]
    parsed = parse(workbook(Coaching_Log=rows))
    assert parsed.tabs["coaching_log"].frame["duration_minutes"].isna().all()
    mentioned = [(i.column, i.severity) for i in parsed.issues if i.tab == "Coaching Log"]
    assert mentioned == [("Duration (minutes)", Severity.WARNING), ("Notes", Severity.WARNING)]


def test_typed_cells_and_the_same_cells_as_text_give_the_same_frames():
    typed = workbook(
        Programs=[PROGRAMS[0], ["P1", "Home Visiting", 123]],
        Staff=[STAFF[0], ["123", "Bo", "bo@a.org", "P1", "coach", True, dt.datetime(2024, 3, 1), 46295.0]],
        Coaching_Log=log_with(["C1", dt.datetime(2026, 7, 14), "P1", 123, 123, 60, True, False, True, False]),
        Satisfaction_Survey=[["Timestamp", "Program ID", "Satisfaction"], [46217.3975694444, "P1", 4]],
    )
    text = workbook(
        Programs=[PROGRAMS[0], ["P1", "Home Visiting", "123"]],
        Staff=[STAFF[0], ["123", "Bo", "bo@a.org", "P1", "coach", "TRUE", "3/1/2024", "9/30/2026"]],
        Coaching_Log=log_with(["C1", "7/14/2026", "P1", "123", "123", "60", "TRUE", "FALSE", "TRUE", "FALSE"]),
        Satisfaction_Survey=[["Timestamp", "Program ID", "Satisfaction"], ["7/14/2026 9:32:30", "P1", "4"]],
    )
    from_typed, from_text = parse(typed), parse(text)
    for key, tab in from_typed.tabs.items():
        pd.testing.assert_frame_equal(tab.frame, from_text.tabs[key].frame, obj=key)
    assert errors(from_typed) == errors(from_text) == []


def test_a_date_sent_as_a_serial_number_is_shown_as_a_date_in_messages():
    staff = [STAFF[0], ["S1", "Ann", "ann@agency.org", "P1", "", "yes", 46237, 46089]]
    text = parse(workbook(Staff=staff)).tabs["staff"].text
    assert text.loc[2, ["start_date", "end_date"]].tolist() == ["2026-08-03", "2026-03-08"]


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("7/14/26", "has a two-digit year: write the year in full, like 7/14/2026"),
        ("TBD", "is not a date: write it as M/D/YYYY"),
        ("14.07.2026", "is not a date: write it as M/D/YYYY"),
        ("46217", "is a number written as text, not a date"),
        ("#N/A", "is not a date"),
        ("#VALUE!", "is not a date"),
        ("9/30/2026 24:30", "is not a date and time that exists"),
        ("7/14/2026 99:00", "is not a date and time that exists"),
        ("2026-07-14 23:99", "is not a date and time that exists"),
        ("7/14/2026 13:00 PM", "is not a date and time that exists"),
        (dt.datetime(2500, 1, 1), "is not a date from 1900 to 2199"),
        (3_000_000, "is not a date from 1900 to 2199"),
    ],
)
def test_an_unreadable_date_among_readable_text_dates_is_an_error_on_its_row_never_a_crash(cell, words):
    rows = log_with(
        ["C1", "7/14/2026", "P1", "S2", "S1"],
        ["C2", cell, "P1", "S2", "S1"],
        ["C3", "2026-07-15", "P1", "S2", "S1"],
    )
    parsed = parse(workbook(Coaching_Log=rows))
    (issue,) = errors(parsed)
    assert (issue.row, issue.column, issue.cell) == (3, "Session Date", "B3")
    assert words in issue.problem
    dates = parsed.tabs["coaching_log"].frame["session_date"]
    assert dates[2] == pd.Timestamp("2026-07-14") and pd.isna(dates[3]) and dates[4] == pd.Timestamp("2026-07-15")


def test_a_time_past_midnight_is_never_rolled_into_the_next_day_or_quarter():
    survey = [["Timestamp", "Program ID", "Satisfaction"], ["9/30/2026 24:30", "P1", 4], ["9/30/2026 23:59", "P1", 4]]
    parsed = parse(workbook(Satisfaction_Survey=survey))
    stamps = parsed.tabs["satisfaction"].frame["timestamp"]
    assert pd.isna(stamps[2]) and stamps[3] == pd.Timestamp("2026-09-30 23:59")
    assert [i.row for i in errors(parsed)] == [2]


def test_twelve_hour_times_read_as_the_sheet_shows_them():
    survey = [
        ["Timestamp", "Program ID", "Satisfaction"],
        ["7/14/2026 12:05 AM", "P1", 4],
        ["7/14/2026 1:30 pm", "P1", 4],
    ]
    stamps = parse(workbook(Satisfaction_Survey=survey)).tabs["satisfaction"].frame["timestamp"]
    assert stamps.tolist() == [pd.Timestamp("2026-07-14 00:05"), pd.Timestamp("2026-07-14 13:30")]


def test_a_duration_that_is_not_a_number_is_a_warning_and_the_session_still_counts():
    rows = log_with(["C1", "7/14/2026", "P1", "S2", "S1", "45 min", True, True, False, False])
    parsed = parse(workbook(Coaching_Log=rows))
    (issue,) = [i for i in parsed.issues if i.row == 2]
    assert (issue.column, issue.value, issue.severity) == ("Duration (minutes)", "45 min", Severity.WARNING)
    assert pd.isna(parsed.tabs["coaching_log"].frame.loc[2, "duration_minutes"])


def test_an_empty_optional_tab_without_even_a_header_counts_as_empty_and_is_mentioned():
    parsed = parse(workbook(Fidelity=[], Coaching_Plan=[[None, "  "], []]))
    for key, title in (("fidelity", "Fidelity"), ("coaching_plan", "Coaching Plan")):
        assert parsed.tabs[key].frame.empty
        (note,) = [i for i in parsed.issues if i.tab == title]
        assert note.severity is Severity.WARNING and "is empty (not even a header row)" in note.problem


def test_an_empty_required_tab_stops_the_run_saying_it_is_empty():
    with pytest.raises(WorkbookError, match=r"Tab 'Staff' is empty \(not even a header row\)"):
        parse(workbook(Staff=[]))


def test_a_merge_over_log_rows_is_an_error_on_every_row_it_covers():
    rows = log_with(
        *[[f"C{n}", "7/14/2026", "P1", "S2", "S1", 30, True if n == 1 else None, True] for n in range(1, 6)]
    )
    raw = workbook(Coaching_Log=rows)
    merged = RawTab("Coaching Log", rows, merges=(CellRange(2, 5, 7, 7), CellRange(1, 1, 11, 12)))
    parsed = parse(RawWorkbook({**raw.tabs, "Coaching Log": merged}, raw.label))
    merge_errors = errors(parsed)
    assert [(i.row, i.column, i.cell) for i in merge_errors] == [
        (r, "Direct Observation?", f"G{r}") for r in (2, 3, 4, 5)
    ]
    assert all(i.problem == "cells G2:G5 are merged: unmerge them and fill each row" for i in merge_errors)
    assert merge_errors[0].value == "TRUE"


def test_merges_in_the_header_row_or_over_ignored_columns_are_harmless():
    rows = [
        LOG_HEADER + ["Entered By"],
        *[
            [f"C{n}", "7/14/2026", "P1", "S2", "S1", 30, True, True, None, None, "", "Ann" if n == 1 else None]
            for n in range(1, 4)
        ],
    ]
    raw = workbook(Coaching_Log=rows)
    merged = RawTab("Coaching Log", rows, merges=(CellRange(1, 1, 1, 2), CellRange(2, 4, 12, 12)))
    parsed = parse(RawWorkbook({**raw.tabs, "Coaching Log": merged}, raw.label))
    assert errors(parsed) == []


def test_a_header_merge_that_hides_the_header_of_a_column_with_data_says_to_unmerge_it():
    rows = log_with(["C1", "7/14/2026", "P1", "S2", "S1", 30, True, True, False, False, "ok"])
    rows[0] = [*LOG_HEADER[:10], "Notes", None]
    rows[1] = [*rows[1], "Ann"]
    raw = workbook(Coaching_Log=rows)
    merged = RawTab("Coaching Log", rows, merges=(CellRange(1, 1, 11, 12),))
    with pytest.raises(
        WorkbookError, match=r"column L has data but no header in row 1 \(header cells K1:L1 are merged: unmerge them\)"
    ):
        parse(RawWorkbook({**raw.tabs, "Coaching Log": merged}, raw.label))


def test_a_workbook_parsed_where_it_was_read_gives_that_parse_without_its_cells():
    raw = workbook(Coaching_Log=log_with(["L1", "P1", "S1", "S2", "7/14/2026", "60", "x", ""]))
    ahead = parsed_where_read(raw, ReadingOptions({}, "M/D/YYYY", {}))
    assert ahead.tabs == {} and ahead.label == raw.label
    parsed, direct = parse(ahead), parse(raw)
    assert direct.issues and parsed.issues == direct.issues
    for key, tab in direct.tabs.items():
        assert parsed.tabs[key].frame.equals(tab.frame) and parsed.tabs[key].text.equals(tab.text)


def test_a_workbook_parsed_where_it_was_read_is_never_taken_for_one_parsed_with_other_options():
    ahead = parsed_where_read(workbook(), ReadingOptions({}, "M/D/YYYY", {}))
    # Its cells were left out: parsing it otherwise would find no tab at all.
    with pytest.raises(ValueError, match="other reading options"):
        parse(ahead, date_format="D/M/YYYY")


def test_a_workbook_that_does_not_parse_where_it_was_read_keeps_its_cells_for_the_run_to_report():
    raw = workbook(Coaching_Log=None)
    assert parsed_where_read(raw, ReadingOptions({}, "M/D/YYYY", {})) is raw
    with pytest.raises(WorkbookError, match="no tab 'Coaching Log'"):
        parse(raw)
