"""Validation by the GX suites: what an office worker sees in data_quality.csv, and which rows the
metrics may use. Workbooks go through the real parser, as they do in a run."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace

import pandas as pd
import pytest

from coaching.contract import TABS, normalise
from coaching.parsing import parse_workbook
from coaching.quarterly import check_parsed
from coaching.quarters import Quarter
from coaching.records import CellRange, CheckedRecords, DataIssue, RawTab, RawWorkbook, Severity
from coaching.recipients import RecipientError, check_recipients
from coaching.validation import SUITES_DIR, suite_definition, validate_records
from tests.coaching.workbooks import HEADERS

RUN_DATE = dt.date(2026, 11, 25)
Q4 = Quarter.parse("2026-Q4")

# A row that breaks no rule, per tab; a test changes only what it is about.
TYPICAL = {
    "Programs": {"program_id": "P9", "program_name": "Outreach", "coaching_lead_id": ""},
    "Staff": {
        "staff_id": "S9",
        "name": "Sam Lee",
        "email": "sam@agency.org",
        "program_id": "P1",
        "role": "practitioner",
        "requires_coaching": "yes",
        "start_date": "1/15/2025",
        "end_date": "",
    },
    "Coaching Log": {
        "session_id": "X9",
        "session_date": "10/2/2026",
        "program_id": "P1",
        "coach_id": "S1",
        "staff_id": "S2",
        "duration_minutes": 45,
        "direct_observation": "yes",
        "reflection": "yes",
        "document_review": "",
        "stakeholder_interview": "",
        "notes": "",
    },
    "Coaching Plan": {
        "program_id": "P1",
        "component": "Skill sets",
        "documented": "TRUE",
        "document_url": "",
        "last_reviewed": "2026-09-30",
    },
    "Fidelity": {
        "assessment_date": "9/30/2026",
        "program_id": "P1",
        "subject_type": "Practitioner",
        "subject_id": "S2",
        "score": 14,
        "max_score": 20,
    },
    "Satisfaction Survey": {
        "timestamp": "10/3/2026 14:05:00",
        "program_id": "P1",
        "coach_id": "S1",
        "satisfaction": 4,
        "comments": "Helpful",
    },
    "Improvement Actions": {
        "quarter": "2026-Q3",
        "program_id": "P1",
        "best_practice": 2,
        "action": "Observe monthly",
        "owner": "Ann",
        "status": "In progress",
        "due_date": "12/31/2026",
    },
}
# The rows every workbook starts with (sheet rows 2, 3, …).
BASE = {
    "Programs": [{"program_id": "P1", "coaching_lead_id": "S1"}, {"program_id": "P2"}],
    "Staff": [
        {
            "staff_id": "S1",
            "name": "Ann Coach",
            "email": "ann.coach@agency.org",
            "role": "coach",
            "requires_coaching": "no",
        },
        {"staff_id": "S2", "name": "Bo Practitioner", "email": "bo@agency.org"},
        {"staff_id": "S3", "name": "Cy Practitioner", "email": "cy@agency.org", "program_id": "P2"},
    ],
    "Coaching Log": [{"session_id": "X1"}, {"session_id": "X2", "staff_id": "S3", "program_id": "P2"}],
    "Coaching Plan": [{}],
    "Fidelity": [{}],
    "Satisfaction Survey": [{}],
    "Improvement Actions": [{}],
}


def sheet_row(title: str, **changes: object) -> list[object]:
    """A typical row of the tab with some cells changed (by normalised column name)."""
    cells = {**TYPICAL[title], **changes}
    return [cells[normalise(header)] for header in HEADERS[title]]


def workbook(extra: dict[str, list[dict]] | None = None, leave_out: tuple[str, ...] = ()) -> RawWorkbook:
    """The base rows of every tab, then `extra` rows (as changes to a typical row) appended."""
    tabs = {}
    for title, base in BASE.items():
        if title in leave_out:
            continue
        rows = [sheet_row(title, **changes) for changes in [*base, *(extra or {}).get(title, [])]]
        tabs[title] = RawTab(title, [HEADERS[title], *rows])
    return RawWorkbook(tabs, "test workbook")


def check(raw: RawWorkbook, max_error_share: float = 0.10, quarter: Quarter = Q4) -> CheckedRecords:
    """Validated as a quarterly run does it (the typical rows are dated in 2026-Q4)."""
    return check_parsed(
        parse_workbook(raw, {}),
        run_date=RUN_DATE,
        quarter=quarter,
        max_error_share=max_error_share,
        min_log_volume_ratio=0.5,
    )


def first_extra_row(title: str) -> int:
    return len(BASE[title]) + 2


def issues_at(checked: CheckedRecords, title: str, row: int) -> list[DataIssue]:
    return [i for i in checked.issues if i.tab == title and i.row == row]


# One case per rule of the suites: the tab, the changed cells, the header and value reported,
# and words the problem must contain. All cases share one workbook (each adds one row).
RULES = [
    ("blank program id", "Programs", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    ("repeated program id", "Programs", {"program_id": "P1"}, "Program ID", "P1", "already used on row 2"),
    ("blank program name", "Programs", {"program_name": ""}, "Program Name", "", "program name is blank"),
    ("blank staff id", "Staff", {"staff_id": ""}, "Staff ID", "", "staff ID is blank"),
    ("repeated staff id", "Staff", {"staff_id": "S2"}, "Staff ID", "S2", "already used on row 3"),
    ("blank staff name", "Staff", {"name": ""}, "Name", "", "name is blank"),
    ("blank staff program", "Staff", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "staff program not in programs",
        "Staff",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is not on the Programs tab",
    ),
    ("blank start date", "Staff", {"start_date": ""}, "Start Date", "", "start date is blank"),
    (
        "end before start",
        "Staff",
        {"end_date": "1/14/2025"},
        "End Date",
        "1/14/2025",
        "end date 1/14/2025 is before the start date 1/15/2025",
    ),
    ("blank session id", "Coaching Log", {"session_id": ""}, "Session ID", "", "session ID is blank"),
    ("blank session date", "Coaching Log", {"session_date": ""}, "Session Date", "", "session date is blank"),
    (
        "session after run date",
        "Coaching Log",
        {"session_date": "11/26/2026"},
        "Session Date",
        "11/26/2026",
        "session date 11/26/2026 is in the future",
    ),
    ("blank log program", "Coaching Log", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "log program not in programs",
        "Coaching Log",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is not on the Programs tab",
    ),
    ("blank coach", "Coaching Log", {"coach_id": ""}, "Coach ID", "", "coach ID is blank"),
    ("coach not in staff", "Coaching Log", {"coach_id": "S77"}, "Coach ID", "S77", "'S77' is not on the Staff tab"),
    ("blank coached staff", "Coaching Log", {"staff_id": ""}, "Staff ID", "", "staff ID is blank"),
    (
        "coached staff not in staff",
        "Coaching Log",
        {"staff_id": "S77"},
        "Staff ID",
        "S77",
        "'S77' is not on the Staff tab",
    ),
    (
        "repeated session and staff",
        "Coaching Log",
        {"session_id": "X1"},
        "Staff ID",
        "S2",
        "already listed for session 'X1' on row 2",
    ),
    ("blank plan program", "Coaching Plan", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "plan program not in programs",
        "Coaching Plan",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is not on the Programs tab",
    ),
    ("blank component", "Coaching Plan", {"component": ""}, "Component", "", "plan component is blank"),
    (
        "unknown component",
        "Coaching Plan",
        {"component": "Budget"},
        "Component",
        "Budget",
        "'Budget' is not a valid component; use one of: skill sets, frequency, methods, feedback, communication",
    ),
    ("blank assessment date", "Fidelity", {"assessment_date": ""}, "Assessment Date", "", "assessment date is blank"),
    (
        "assessment after run date",
        "Fidelity",
        {"assessment_date": "2027-01-05"},
        "Assessment Date",
        "2027-01-05",
        "is in the future",
    ),
    ("blank fidelity program", "Fidelity", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "fidelity program not in programs",
        "Fidelity",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is not on the Programs tab",
    ),
    ("blank subject type", "Fidelity", {"subject_type": ""}, "Subject Type", "", "subject type is blank"),
    (
        "unknown subject type",
        "Fidelity",
        {"subject_type": "Supervisor"},
        "Subject Type",
        "Supervisor",
        "'Supervisor' is not a valid subject type; use one of: practitioner, coach",
    ),
    ("blank subject", "Fidelity", {"subject_id": ""}, "Subject ID", "", "subject ID is blank"),
    ("subject not in staff", "Fidelity", {"subject_id": "S77"}, "Subject ID", "S77", "'S77' is not on the Staff tab"),
    ("blank score", "Fidelity", {"score": ""}, "Score", "", "score is blank"),
    ("negative score", "Fidelity", {"score": -1}, "Score", "-1", "score -1 is below 0"),
    ("blank max score", "Fidelity", {"max_score": ""}, "Max Score", "", "maximum score is blank"),
    ("zero max score", "Fidelity", {"max_score": 0, "score": 0}, "Max Score", "0", "maximum score 0 is not above 0"),
    ("score above max", "Fidelity", {"score": 21}, "Score", "21", "score 21 is higher than the maximum score 20"),
    ("blank timestamp", "Satisfaction Survey", {"timestamp": ""}, "Timestamp", "", "timestamp is blank"),
    ("blank survey program", "Satisfaction Survey", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "survey program not in programs",
        "Satisfaction Survey",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is neither an ID nor a name on the Programs tab",
    ),
    (
        "survey coach not in staff",
        "Satisfaction Survey",
        {"coach_id": "S77"},
        "Coach ID",
        "S77",
        "'S77' is not on the Staff tab",
    ),
    ("blank rating", "Satisfaction Survey", {"satisfaction": ""}, "Satisfaction", "", "rating is blank"),
    (
        "rating above 5",
        "Satisfaction Survey",
        {"satisfaction": 6},
        "Satisfaction",
        "6",
        "rating 6 is not between 1 and 5",
    ),
    (
        "rating below 1",
        "Satisfaction Survey",
        {"satisfaction": "0"},
        "Satisfaction",
        "0",
        "rating 0 is not between 1 and 5",
    ),
    ("blank quarter", "Improvement Actions", {"quarter": ""}, "Quarter", "", "quarter is blank"),
    (
        "malformed quarter",
        "Improvement Actions",
        {"quarter": "Q3 2026"},
        "Quarter",
        "Q3 2026",
        "'Q3 2026' is not a quarter; write it as YYYY-Qn",
    ),
    ("blank action program", "Improvement Actions", {"program_id": ""}, "Program ID", "", "program ID is blank"),
    (
        "action program not in programs",
        "Improvement Actions",
        {"program_id": "P7"},
        "Program ID",
        "P7",
        "'P7' is not on the Programs tab",
    ),
    (
        "unknown best practice",
        "Improvement Actions",
        {"best_practice": 5},
        "Best Practice",
        "5",
        "Best practice 5 does not exist",
    ),
    ("blank action", "Improvement Actions", {"action": ""}, "Action", "", "action is blank"),
    ("blank status", "Improvement Actions", {"status": ""}, "Status", "", "status is blank"),
    (
        "unknown status",
        "Improvement Actions",
        {"status": "Someday"},
        "Status",
        "Someday",
        "'Someday' is not a valid status; use one of: proposed, planned, in progress, done, dropped",
    ),
    # An ID on a row in error (P102: the program of "blank program name", Programs row 6; S105: the
    # person of "blank staff name", Staff row 7) points at that row, never "not on the tab".
    *(
        (
            f"{title} {column} on a row in error",
            title,
            {column: value},
            header,
            value,
            f"'{value}' is on {tab} row {row}, which has an error: fix that row first",
        )
        for title, column, header, value, tab, row in [
            ("Staff", "program_id", "Program ID", "P102", "Programs", 6),
            ("Coaching Log", "program_id", "Program ID", "P102", "Programs", 6),
            ("Coaching Log", "coach_id", "Coach ID", "S105", "Staff", 7),
            ("Coaching Log", "staff_id", "Staff ID", "S105", "Staff", 7),
            ("Coaching Plan", "program_id", "Program ID", "P102", "Programs", 6),
            ("Fidelity", "program_id", "Program ID", "P102", "Programs", 6),
            ("Fidelity", "subject_id", "Subject ID", "S105", "Staff", 7),
            ("Satisfaction Survey", "program_id", "Program ID", "P102", "Programs", 6),
            ("Satisfaction Survey", "coach_id", "Coach ID", "S105", "Staff", 7),
            ("Improvement Actions", "program_id", "Program ID", "P102", "Programs", 6),
        ]
    ),
]


UNIQUE_IDS = {"Programs": ("program_id",), "Staff": ("staff_id",), "Coaching Log": ("session_id",)}


@pytest.fixture(scope="module")
def every_rule_broken() -> tuple[CheckedRecords, dict[str, int]]:
    """One workbook with a row per rule case; returns the outcome and each case's sheet row."""
    extra: dict[str, list[dict]] = {}
    rows: dict[str, int] = {}
    for number, (case, title, changes, *_) in enumerate(RULES):
        # Each row gets its own ID, so that it repeats no other row by accident.
        own_id = {column: f"{column[0].upper()}{100 + number}" for column in UNIQUE_IDS.get(title, ())}
        if title == "Staff":  # nor the same person as another row
            own_id.update(name=f"Sam {number}", email=f"sam{number}@agency.org")
        extra.setdefault(title, []).append({**own_id, **changes})
        rows[case] = first_extra_row(title) + len(extra[title]) - 1
    return check(workbook(extra)), rows


@pytest.mark.parametrize(("case", "title", "changes", "header", "value", "words"), RULES, ids=[r[0] for r in RULES])
def test_a_value_that_breaks_a_rule_quarantines_its_row_with_a_readable_problem(
    every_rule_broken, case, title, changes, header, value, words
):
    checked, rows = every_rule_broken
    row = rows[case]
    [issue] = issues_at(checked, title, row)
    assert (issue.column, issue.value, issue.severity) == (header, value, Severity.ERROR)
    assert words in issue.problem
    assert issue.cell == f"{chr(65 + HEADERS[title].index(header))}{row}"
    key = next(tab.key for tab in TABS if tab.default_title == title)
    assert row not in checked.valid[key].index


def test_every_rule_in_the_suites_is_exercised_by_a_case(every_rule_broken):
    checked, _ = every_rule_broken
    for tab in TABS:
        suite = suite_definition(tab.key)
        problems = [i.problem for i in checked.issues if i.tab == tab.default_title]
        for expectation in suite["expectations"]:
            if expectation["meta"]["severity"] != "error":
                continue
            pattern = ".*".join(map(re.escape, re.split(r"\{\w+\}", expectation["meta"]["problem"])))
            assert any(re.fullmatch(pattern, p) for p in problems), (tab.key, expectation["meta"]["problem"])


def test_the_rows_that_break_no_rule_are_all_kept(every_rule_broken):
    checked, _ = every_rule_broken
    for tab in TABS:
        base_rows = list(range(2, len(BASE[tab.default_title]) + 2))
        assert checked.valid[tab.key].index[: len(base_rows)].tolist() == base_rows
        assert checked.rows_read[tab.key] - checked.rows_quarantined[tab.key] == len(base_rows)


def test_values_on_the_edge_of_a_rule_are_accepted():
    checked = check(
        workbook(
            {
                "Staff": [{"staff_id": "S4", "start_date": "3/1/2026", "end_date": "3/1/2026", "email": ""}],
                "Coaching Log": [
                    {"session_date": "11/25/2026", "duration_minutes": 600},
                    {"session_id": "X10", "duration_minutes": 1},
                ],
                "Coaching Plan": [{"component": "Feedback methods and timeframe"}],
                "Fidelity": [
                    {"score": 20, "max_score": 20, "subject_type": "coach", "subject_id": "S1"},
                    {"score": 0, "max_score": 0.5, "assessment_date": "11/25/2026"},
                ],
                "Satisfaction Survey": [{"satisfaction": 1, "coach_id": ""}, {"satisfaction": 5}],
                "Improvement Actions": [
                    {"quarter": "2026-q4", "best_practice": "", "status": "done"},
                    {"best_practice": 1, "status": "dropped"},
                ],
            }
        )
    )
    assert checked.issues == []
    assert checked.rows_quarantined == {tab.key: 0 for tab in TABS}


def test_a_doubtful_email_keeps_the_row_but_blanks_the_email():
    checked = check(workbook({"Staff": [{"staff_id": "S4", "email": "sam at agency"}]}))
    row = first_extra_row("Staff")
    [issue] = issues_at(checked, "Staff", row)
    assert (issue.column, issue.value, issue.severity) == ("Email", "sam at agency", Severity.WARNING)
    assert "does not look like an email address" in issue.problem
    assert pd.isna(checked.valid["staff"].loc[row, "email"])
    assert checked.valid["staff"].loc[row, "name"] == "Sam Lee"


def test_a_duration_out_of_range_keeps_the_session_but_blanks_the_duration():
    checked = check(workbook({"Coaching Log": [{"session_id": "X10", "duration_minutes": 601}]}))
    row = first_extra_row("Coaching Log")
    [issue] = issues_at(checked, "Coaching Log", row)
    assert (issue.column, issue.value, issue.severity) == ("Duration (minutes)", "601", Severity.WARNING)
    assert "outside 1 to 600" in issue.problem
    assert pd.isna(checked.valid["coaching_log"].loc[row, "duration_minutes"])
    assert checked.valid["coaching_log"].loc[row, "session_id"] == "X10"
    assert checked.blocking == []


def test_a_repeated_session_and_staff_pair_keeps_the_first_row_only():
    checked = check(workbook({"Coaching Log": [{"session_id": "X1", "notes": "typed twice"}]}))
    log = checked.valid["coaching_log"]
    assert log.loc[2, "session_id"] == "X1"
    assert first_extra_row("Coaching Log") not in log.index
    assert [i.row for i in checked.issues] == [first_extra_row("Coaching Log")]


def test_the_same_person_in_two_sessions_or_two_people_in_one_session_is_not_a_repeat():
    checked = check(workbook({"Coaching Log": [{"session_id": "X1", "staff_id": "S3"}, {"session_id": "X10"}]}))
    assert checked.issues == []


def test_a_staff_row_with_an_unknown_program_makes_that_persons_coaching_rows_errors_too():
    checked = check(
        workbook(
            {
                "Staff": [{"staff_id": "S4", "program_id": "P7"}],
                "Coaching Log": [{"session_id": "X10", "staff_id": "S4"}, {"session_id": "X11", "coach_id": "S4"}],
                "Fidelity": [{"subject_id": "S4"}],
            }
        )
    )
    staff_row, log_row = first_extra_row("Staff"), first_extra_row("Coaching Log")
    assert [(i.tab, i.row, i.column, i.cause) for i in checked.issues] == [
        ("Staff", staff_row, "Program ID", None),
        ("Coaching Log", log_row, "Staff ID", ("Staff", staff_row)),
        ("Coaching Log", log_row + 1, "Coach ID", ("Staff", staff_row)),
        ("Fidelity", first_extra_row("Fidelity"), "Subject ID", ("Staff", staff_row)),
    ]
    # One message for one cause: the coaching rows point at the Staff row to fix, and never ask
    # for the person to be added to Staff (which would enter them twice).
    assert checked.issues[1].problem == (
        f"Staff ID 'S4' is on Staff row {staff_row}, which has an error: fix that row first"
    )
    assert "add" not in checked.issues[2].problem
    assert checked.valid["coaching_log"].index.tolist() == [2, 3]


def test_a_program_row_with_an_error_makes_rows_naming_that_program_errors():
    checked = check(
        workbook({"Programs": [{"program_id": "P3", "program_name": ""}], "Coaching Plan": [{"program_id": "P3"}]})
    )
    assert [(i.tab, i.column, i.value) for i in checked.issues if i.tab == "Coaching Plan"] == [
        ("Coaching Plan", "Program ID", "P3")
    ]


def test_a_cell_that_cannot_be_read_quarantines_its_row_with_one_message():
    checked = check(
        workbook({"Coaching Log": [{"session_date": "8/32/2026"}, {"session_id": "X10", "reflection": "maybe"}]})
    )
    row = first_extra_row("Coaching Log")
    [date_issue] = issues_at(checked, "Coaching Log", row)
    [flag_issue] = issues_at(checked, "Coaching Log", row + 1)
    assert (date_issue.column, date_issue.value) == ("Session Date", "8/32/2026")
    assert "is not a date" in date_issue.problem
    assert (flag_issue.column, flag_issue.value) == ("Reflection", "maybe")
    assert checked.valid["coaching_log"].index.tolist() == [2, 3]
    assert checked.rows_quarantined["coaching_log"] == 2


def test_more_than_the_allowed_share_of_error_rows_blocks_the_report_with_a_plain_sentence():
    bad = [{"session_id": f"X{n}", "coach_id": "S77"} for n in (10, 11)]
    good = [{"session_id": f"X{n}"} for n in range(12, 19)]
    checked = check(workbook({"Coaching Log": bad + good}))
    assert checked.rows_read["coaching_log"] == 11
    assert checked.blocking == ["Coaching Log: 2 of 11 rows for 2026-Q4 (18.2 %) have errors, above the 10 % limit"]
    assert checked.blocked


def test_exactly_the_allowed_share_of_error_rows_does_not_block():
    bad = [{"session_id": "X10", "coach_id": "S77"}]
    good = [{"session_id": f"X{n}"} for n in range(11, 18)]
    checked = check(workbook({"Coaching Log": bad + good}))
    assert (checked.rows_read["coaching_log"], checked.rows_quarantined["coaching_log"]) == (10, 1)
    assert checked.blocking == []
    assert not checked.blocked


def test_the_allowed_share_of_error_rows_is_configurable():
    bad = [{"session_id": f"X{n}", "coach_id": "S77"} for n in (10, 11)]
    raw = workbook({"Coaching Log": bad})
    assert check(raw, max_error_share=0.5).blocking == []
    assert check(raw, max_error_share=0.25).blocking == [
        "Coaching Log: 2 of 4 rows for 2026-Q4 (50.0 %) have errors, above the 25 % limit"
    ]


def test_a_missing_optional_tab_validates_to_an_empty_frame_with_the_contract_columns():
    checked = check(workbook(leave_out=("Fidelity",)))
    fidelity = checked.valid["fidelity"]
    assert fidelity.empty
    assert list(fidelity.columns) == [*TABS[4].column_names, "row"]
    assert (checked.rows_read["fidelity"], checked.rows_quarantined["fidelity"]) == (0, 0)
    assert checked.blocking == []


def test_valid_frames_keep_the_parsed_columns_types_and_sheet_row_index():
    raw = workbook()
    parsed = parse_workbook(raw, {})
    checked = validate_records(parsed, RUN_DATE)
    for tab in TABS:
        pd.testing.assert_frame_equal(checked.valid[tab.key], parsed.tabs[tab.key].frame)


def test_issues_are_listed_by_tab_then_row_then_column():
    checked = check(
        workbook(
            {
                "Coaching Log": [{"session_id": "X10", "staff_id": "S77", "coach_id": "S77", "reflection": "maybe"}],
                "Staff": [{"staff_id": "S4", "email": "nope", "start_date": ""}],
                "Programs": [{"program_id": ""}],
            }
        )
    )
    assert [(i.tab, i.row, i.column) for i in checked.issues] == [
        ("Programs", 4, "Program ID"),
        ("Staff", 5, "Email"),
        ("Staff", 5, "Start Date"),
        ("Coaching Log", 4, "Coach ID"),
        ("Coaching Log", 4, "Staff ID"),
        ("Coaching Log", 4, "Reflection"),
    ]


def test_tab_and_column_are_named_as_in_the_sheet():
    raw = workbook({"Coaching Log": [{"session_id": "X10", "coach_id": "S77"}]})
    log = raw.tabs["Coaching Log"]
    renamed = RawTab("Sessions 2026", [["session id", "SESSION DATE", *log.rows[0][2:]], *log.rows[1:]])
    tabs = {**raw.tabs, "Sessions 2026": renamed}
    del tabs["Coaching Log"]
    parsed = parse_workbook(RawWorkbook(tabs, "test workbook"), {"coaching_log": "Sessions 2026"})
    checked = validate_records(parsed, RUN_DATE)
    [issue] = checked.issues
    assert (issue.tab, issue.row, issue.column, issue.cell) == ("Sessions 2026", 4, "Coach ID", "D4")


def test_the_column_rules_come_from_the_contract_and_the_stored_suites_hold_only_the_rest():
    for tab in TABS:
        stored = json.loads((SUITES_DIR / f"{tab.key}.json").read_text())
        assert not [
            e
            for e in stored["expectations"]
            if e["type"]
            in (
                "expect_column_values_to_not_be_null",
                "expect_column_values_to_be_in_set",
                "expect_column_values_to_match_regex",
            )
        ], tab.key
        filled = {c.name for c in tab.columns if c.filled}
        assert set(stored["meta"]["blank"]) == filled, tab.key  # words for each, and only for them
        generated = suite_definition(tab.key)["expectations"]
        value_sets = {
            e["kwargs"]["column"]: tuple(e["kwargs"]["value_set"]) for e in generated if "value_set" in e["kwargs"]
        }
        assert value_sets == {c.name: c.choices for c in tab.columns if c.choices}, tab.key


def test_a_staff_email_is_valid_exactly_when_a_recipient_address_would_be():
    addresses = [
        ("ann@agency.org", True),
        ("ann.lee+x@mail.agency.org", True),
        ("ann at agency.org", False),
        ("=cmd@agency.org", False),
        ("ann@agency", False),
        ("Ann <ann@agency.org>", False),
        ("a" * 65 + "@agency.org", False),
    ]  # the plain pattern fits; the standard's limit does not
    # One workbook, one staff row per address (each checked on its own row; no two rows share a name).
    staff = [
        {"staff_id": f"S{10 + n}", "name": f"Sam Lee {n}", "email": address} for n, (address, _) in enumerate(addresses)
    ]
    checked = check(workbook({"Staff": staff}))
    for row, (address, valid) in enumerate(addresses, start=first_extra_row("Staff")):
        warned = bool(issues_at(checked, "Staff", row))
        assert warned is not valid, address
        try:
            check_recipients([address], [])
            accepted = True
        except RecipientError:
            accepted = False
        assert accepted is valid, address


def test_the_error_limit_is_measured_on_the_quarters_rows_so_a_long_history_cannot_dilute_it():
    history = [{"session_id": f"H{n}", "session_date": "4/2/2026"} for n in range(60)]
    bad = [{"session_id": f"X{n}", "coach_id": "S77"} for n in (10, 11)]
    checked = check(workbook({"Coaching Log": history + bad}))
    assert checked.blocking == ["Coaching Log: 2 of 4 rows for 2026-Q4 (50.0 %) have errors, above the 10 % limit"]


def test_errors_in_rows_of_another_quarter_do_not_block_this_quarters_report():
    old_bad = [{"session_id": f"H{n}", "session_date": "4/2/2026", "coach_id": "S77"} for n in range(5)]
    checked = check(workbook({"Coaching Log": old_bad}))
    assert checked.rows_quarantined["coaching_log"] == 5
    assert checked.blocking == []


def test_a_row_whose_date_cannot_be_read_counts_among_the_quarters_rows():
    unreadable = [{"session_id": "X10", "session_date": "TBD"}]
    checked = check(workbook({"Coaching Log": unreadable}))
    assert checked.blocking == ["Coaching Log: 1 of 3 rows for 2026-Q4 (33.3 %) have errors, above the 10 % limit"]


def test_improvement_actions_are_measured_on_the_previous_quarters_actions():
    bad = [{"action": "", "quarter": "2026-Q3"}, {"quarter": "2026-Q5"}]
    older = [{"quarter": "2026-Q1", "status": "maybe"}] * 3
    checked = check(workbook({"Improvement Actions": bad + older}))
    assert checked.blocking == [
        "Improvement Actions: 2 of 3 actions for 2026-Q3 (66.7 %) have errors, above the 10 % limit"
    ]


def test_a_quarter_whose_log_rows_are_all_errors_blocks_the_report_instead_of_reading_as_no_data():
    raw = workbook(leave_out=("Coaching Log",))
    bad = [sheet_row("Coaching Log", session_id=f"X{n}", coach_id="S77") for n in range(3)]
    raw.tabs["Coaching Log"] = RawTab("Coaching Log", [HEADERS["Coaching Log"], *bad])
    checked = check(raw)
    assert checked.valid["coaching_log"].empty
    assert checked.blocking[0] == (
        "Coaching Log: all 3 rows for 2026-Q4 have errors, so nothing is left to score; fix the rows listed and run again"
    )
    assert len([i for i in checked.issues if i.tab == "Coaching Log" and i.severity is Severity.ERROR]) == 3


def test_an_id_that_lost_its_leading_zeros_says_which_id_it_is_and_how_to_keep_the_zeros():
    raw = workbook(
        {"Staff": [{"staff_id": "00202", "name": "Dee Zero"}], "Coaching Log": [{"session_id": "X10", "staff_id": 202}]}
    )
    (issue,) = issues_at(check(raw), "Coaching Log", first_extra_row("Coaching Log"))
    assert issue.problem.startswith("Staff ID '202' is not on the Staff tab")
    assert "; did you mean '00202'? Format the column as Plain text" in issue.problem


def test_an_id_with_an_invisible_character_says_which_id_it_is_and_to_retype_it():
    raw = workbook({"Coaching Log": [{"session_id": "X10", "coach_id": "S1\u200b"}]})
    (issue,) = issues_at(check(raw), "Coaching Log", first_extra_row("Coaching Log"))
    assert issue.value == "S1\u200b"
    assert "; did you mean 'S1'? The cell holds invisible characters" in issue.problem


def test_an_id_with_an_ordinary_space_between_words_is_not_said_to_hold_invisible_characters():
    raw = workbook({"Staff": [{"staff_id": "Staff 12"}, {"staff_id": "Staff\u00a013"}]})
    warned = {i.value: i.problem for i in check(raw).issues if i.tab == "Staff" and i.column == "Staff ID"}
    assert "Staff 12" not in warned
    assert warned["Staff\u00a013"].startswith("Staff ID 'Staff\u00a013' holds an apostrophe or invisible characters")


def test_a_formula_error_in_a_staff_id_is_an_error_on_that_row_not_a_person_never_coached():
    raw = workbook({"Staff": [{"staff_id": "#REF!"}]})
    checked = check(raw)
    row = first_extra_row("Staff")
    (issue,) = [i for i in issues_at(checked, "Staff", row) if i.column == "Staff ID"]
    assert issue.severity is Severity.ERROR and issue.value == "#REF!"
    assert issue.problem == "'#REF!' is a formula error, not an ID: fix the formula, or type the ID itself"
    assert "#REF!" not in set(checked.valid["staff"]["staff_id"])


def test_a_formula_error_in_a_log_id_is_an_error_on_that_row_saying_it_is_a_formula_error():
    raw = workbook({"Coaching Log": [{"session_id": "#N/A"}, {"session_id": "X8", "staff_id": "#n/a"}]})
    checked = check(raw)
    row = first_extra_row("Coaching Log")
    for at, column, value in ((row, "Session ID", "#N/A"), (row + 1, "Staff ID", "#n/a")):
        (issue,) = [i for i in issues_at(checked, "Coaching Log", at) if i.column == column]
        assert issue.severity is Severity.ERROR and issue.value == value
        assert "is a formula error, not an ID" in issue.problem
    assert not {row, row + 1} & set(checked.valid["coaching_log"].index)


def test_a_merge_over_staff_rows_is_an_error_on_every_row_it_covers_and_leaves_them_out():
    raw = workbook({"Staff": [{"staff_id": "S8"}, {"staff_id": "S9", "program_id": None}]})
    row = first_extra_row("Staff")
    staff = raw.tabs["Staff"]
    column = HEADERS["Staff"].index("Program ID") + 1
    merged = RawTab("Staff", staff.rows, merges=(CellRange(row, row + 1, column, column),))
    checked = check(RawWorkbook({**raw.tabs, "Staff": merged}, raw.label))
    for at in (row, row + 1):
        (issue,) = [i for i in issues_at(checked, "Staff", at) if i.severity is Severity.ERROR]
        assert (
            issue.column == "Program ID"
            and issue.problem == f"cells D{row}:D{row + 1} are merged: unmerge them and fill each row"
        )
    assert not {"S8", "S9"} & set(checked.valid["staff"]["staff_id"])


def test_a_date_typed_in_the_quarter_field_is_an_error_saying_how_to_write_the_quarter():
    raw = workbook({"Improvement Actions": [{"quarter": dt.datetime(2026, 7, 1)}]})
    checked = check(raw)
    (issue,) = issues_at(checked, "Improvement Actions", first_extra_row("Improvement Actions"))
    assert issue.severity is Severity.ERROR and issue.column == "Quarter" and issue.value == "2026-07-01"
    assert "write it as YYYY-Qn, like 2026-Q3" in issue.problem


def test_a_non_breaking_space_in_a_header_still_finds_the_scoring_column():
    raw = workbook()
    header = [
        h.replace(" ", "\u00a0") + ("\u00a0" if h == "Direct Observation?" else "") for h in HEADERS["Coaching Log"]
    ]
    log = RawTab("Coaching Log", [header, *raw.tabs["Coaching Log"].rows[1:]])
    checked = check(RawWorkbook({**raw.tabs, "Coaching Log": log}, raw.label))
    assert not [i for i in checked.issues if i.tab == "Coaching Log"]
    assert checked.valid["coaching_log"]["direct_observation"].tolist() == [True, True]


def test_a_check_that_cannot_run_stops_the_run_naming_the_check_and_the_tab():
    parsed = parse_workbook(workbook(), {})
    log = parsed.tabs["coaching_log"]
    # A column a rule needs, gone from the frame (as a parser change could lose it): the rule fails in
    # GX's first pass, and is run again for its rows, which it cannot give.
    parsed.tabs["coaching_log"] = replace(log, frame=log.frame.drop(columns=["session_date"]))
    with pytest.raises(RuntimeError, match=r"The check expect_\w+ on tab 'Coaching Log' could not run"):
        validate_records(parsed, RUN_DATE)
