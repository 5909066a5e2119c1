"""Write the sample and the template coaching-records workbooks.

Run from the project root: `.venv/bin/python -m data.make_workbooks [--out DIR]`.

- `sample_workbook.xlsx`: a fictional agency's records for 2026-Q1 … 2026-Q3, designed so that
  the 2026-Q3 scorecard has something to say (data/README.md tells each program's story, lists
  the deliberate bad rows and the scores the sample is designed to get).
- `template_workbook.xlsx`: the same tabs with their header rows only, for a new agency.

Tab titles, columns and allowed values come from coaching/contract.py. The output is deterministic
(fixed random seed, fixed document dates, fixed zip timestamps): re-running gives the same files.
"""

from __future__ import annotations

import argparse
import calendar
import io
import math
import random
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from coaching.contract import (
    COACHING_LOG,
    COACHING_PLAN,
    COLUMN_LABELS,
    FIDELITY,
    IMPROVEMENT_ACTIONS,
    PROGRAMS,
    SATISFACTION,
    STAFF,
    TABS,
    Column,
    Kind,
    Tab,
    normalise,
)
from coaching.records import Severity

DATA_DIR = Path(__file__).resolve().parent
SAMPLE_NAME = "sample_workbook.xlsx"
TEMPLATE_NAME = "template_workbook.xlsx"
SEED = 20260930
# Written into the document properties and the zip entries, so that re-running changes nothing.
DOCUMENT_TIME = datetime(2026, 11, 20, 9, 0, 0)
YEAR = 2026
INSTRUCTIONS_TITLE = "Instructions"
# Rows the template's dropdowns cover (Google Sheets keeps them when the file is uploaded).
TEMPLATE_ROWS = 2000

# ---------------------------------------------------------------------------------------------
# Headers and help text for office staff. Every label normalises to its contract column name.
# ---------------------------------------------------------------------------------------------

LABELS: dict[str, str] = COLUMN_LABELS  # the headers live in the contract, once

WIDE_COLUMNS = {"notes": 48, "comments": 48, "action": 52, "document_url": 44, "name": 24}

TAB_HELP: dict[str, str] = {
    "programs": "One row per program. The Program ID is the short code every other tab uses.",
    "staff": (
        "One row per staff member: practitioners, coaches, supervisors and leaders. When someone "
        "leaves, fill in their End Date; do not delete the row (past quarters still need it)."
    ),
    "coaching_log": (
        "One row per staff member coached in a session. A group session has one row per "
        "participant, all with the same Session ID, date and coach."
    ),
    "coaching_plan": (
        "The program's written coaching service delivery plan: one row per program and plan "
        "component. A component that is not written down yet has Documented? = FALSE."
    ),
    "fidelity": "One row per fidelity assessment of a practitioner or of a coach.",
    "satisfaction": (
        "The response sheet of the coaching satisfaction survey (a Google Form): one row per "
        "response. The form asks for the Program ID and the Coach ID."
    ),
    "improvement_actions": (
        "One row per action leadership proposed or decided after reviewing a quarter's scorecard. "
        "Only planned, in-progress and done actions count as decisions; proposed ones do not."
    ),
}

COLUMN_HELP: dict[tuple[str, str], str] = {
    ("programs", "program_id"): "A short code for the program, different for each program.",
    ("programs", "program_name"): "The program's name as leadership knows it.",
    ("programs", "coaching_lead_id"): (
        "The Staff ID of the person accountable for coaching in this program. Leave blank only if nobody is named."
    ),
    ("staff", "staff_id"): "The person's ID, different for each person. Keep leading zeros.",
    ("staff", "name"): "First and last name.",
    ("staff", "email"): "Work email address (needed for the coaching lead).",
    ("staff", "program_id"): "The program the person works in (from the Programs tab).",
    ("staff", "role"): "Practitioner, coach, supervisor, leader …",
    ("staff", "requires_coaching"): (
        "TRUE for the staff who should be coached every month (usually practitioners); the "
        "monthly coaching coverage counts only them."
    ),
    ("staff", "start_date"): "First day in the job.",
    ("staff", "end_date"): "Last day in the job; blank while the person works here.",
    ("coaching_log", "session_id"): ("The session's number; every participant of a group session gets the same one."),
    ("coaching_log", "session_date"): "The day of the session (not in the future).",
    ("coaching_log", "program_id"): "The program that held the session.",
    ("coaching_log", "coach_id"): "The Staff ID of the coach.",
    ("coaching_log", "staff_id"): "The Staff ID of the person coached (one row per person).",
    ("coaching_log", "duration_minutes"): "How long the session lasted, 1 to 600 minutes.",
    ("coaching_log", "direct_observation"): "The coach observed the person at work.",
    ("coaching_log", "reflection"): "Group or individual reflection.",
    ("coaching_log", "document_review"): "The coach reviewed case notes, plans or other products.",
    ("coaching_log", "stakeholder_interview"): ("The coach talked with families, partners or other key stakeholders."),
    ("coaching_log", "notes"): "Anything worth remembering (optional).",
    ("coaching_plan", "program_id"): "The program the plan belongs to.",
    ("coaching_plan", "component"): (
        "The part of the plan: skill sets to be coached, frequency of coaching, coaching "
        "methods, feedback methods and timeframe, communication protocols for coach and "
        "supervisor."
    ),
    ("coaching_plan", "documented"): "TRUE when this part is written down.",
    ("coaching_plan", "document_url"): "A link to the written plan (optional).",
    ("coaching_plan", "last_reviewed"): "When the plan was last reviewed (optional).",
    ("fidelity", "assessment_date"): "The day of the assessment (not in the future).",
    ("fidelity", "program_id"): "The program of the person assessed.",
    ("fidelity", "subject_type"): "Who was assessed: a practitioner or a coach.",
    ("fidelity", "subject_id"): "The Staff ID of the person assessed.",
    ("fidelity", "score"): "The score obtained (0 or more, not above Max Score).",
    ("fidelity", "max_score"): "The highest score the tool allows (more than 0).",
    ("satisfaction", "timestamp"): "When the response came in (the form fills this in).",
    ("satisfaction", "program_id"): "The program of the person answering.",
    ("satisfaction", "coach_id"): "The Staff ID of the coach the answer is about (optional).",
    ("satisfaction", "satisfaction"): "1 (very unsatisfied) to 5 (very satisfied).",
    ("satisfaction", "comments"): "Free text from the respondent (optional).",
    ("improvement_actions", "quarter"): (
        "The quarter whose scorecard led to the action. Decided actions recorded for 2026-Q2 "
        "count in the 2026-Q3 score."
    ),
    ("improvement_actions", "program_id"): "The program the action is for.",
    ("improvement_actions", "best_practice"): "Which best practice (1 to 4) it improves.",
    ("improvement_actions", "action"): "What will be done, in one sentence.",
    ("improvement_actions", "owner"): "Who makes it happen (optional).",
    ("improvement_actions", "status"): "Where the action stands.",
    ("improvement_actions", "due_date"): "When it should be done (optional).",
}

GENERAL_HELP: tuple[str, ...] = (
    "This workbook holds the coaching records the coaching-effectiveness report is made from. "
    "Every quarter the report scores each program on four coaching best practices and is emailed "
    "to leadership.",
    "Keep the tab names and the header row (row 1) as they are, with no title row above it. Columns "
    "may be in any order; extra columns are ignored. Blank rows are skipped. This Instructions tab is "
    "ignored.",
    "Type dates, IDs, yes/no values, scores and ratings as values, never as formulas (=TODAY(), =A2): "
    "a formula there puts the row aside, because its result changes whenever the sheet recalculates. "
    "Formulas in free-text columns (names, notes, comments) are fine.",
    "Dates: a date cell, or text written month/day/year (7/14/2026) or year-month-day "
    "(2026-07-14). A date that does not exist (8/32/2026) puts the row aside. (If your "
    "administrator set the day/month/year format, write 14/7/2026 instead.)",
    "Yes/no columns (ending in ?): TRUE or FALSE. yes/no, y/n, 1/0 and x also work; blank means "
    "FALSE. Anything else (maybe, ?) puts the row aside.",
    "IDs (Program ID, Staff ID, Coach ID …) are text: 00123 stays 00123. Use exactly the IDs of "
    "the Programs and Staff tabs, capitals included and without an apostrophe in front: fp or '00155 "
    "is not FP or 00155.",
    "Enter each person once on Staff: two rows with the same email, or the same name and start "
    "date, are flagged as one person entered twice (who would be counted twice).",
    'Satisfaction surveys from Google Forms: the form\'s responses tab ("Form Responses 1") can be '
    "used as it is. Your administrator sets its tab name and which question is which column in the "
    "settings; the program question may list the programs by their names, exactly as on the "
    "Programs tab.",
    'Lists (Component, Subject Type, Status) ignore capitals and spaces: "In progress" is '
    "in_progress. The dropdowns show the allowed values.",
    "A row with a mistake is left out of the scores and listed in the data-quality file, with its "
    "tab, row number and what to fix. A doubtful value the scores do not need (an email that does "
    "not look like one, a session longer than 600 minutes) is only a warning.",
    "Quarters are calendar quarters: 2026-Q3 is July to September 2026.",
)


def allowed_values(column: Column) -> str:
    """What may go in a column, in words (the Instructions tab's last column)."""
    if column.kind is Kind.ENUM:
        also = " (or the long labels under What to enter)" if column.aliases else ""
        return "One of: " + ", ".join(column.choices) + also
    return {
        Kind.ID: "Text; leading zeros are kept",
        Kind.TEXT: "Text",
        Kind.EMAIL: "An email address, like name@agency.org",
        Kind.QUARTER: "Year and quarter, like 2026-Q3",
        Kind.BOOL: "TRUE or FALSE",
        Kind.DATE: "Date: 7/14/2026 or 2026-07-14",
        Kind.DATETIME: "Date and time: 7/14/2026 9:32:10",
        Kind.NUMBER: "Number",
        Kind.INTEGER: "Whole number",
    }[column.kind]


# ---------------------------------------------------------------------------------------------
# Writing sheets
# ---------------------------------------------------------------------------------------------

Cell = object  # what goes into a cell: str, int, float, bool, date, datetime or None
Row = dict[str, Cell]  # column name (or extra header) -> cell value


@dataclass(frozen=True)
class BadRow:
    """A deliberate mistake of the sample, where it ended up in the sheet."""

    tab: str
    row: int
    column: str  # header as in the sheet
    value: str
    problem: str
    severity: Severity


@dataclass(frozen=True)
class Flaw:
    """A deliberate mistake carried by a row until the row gets its sheet row number."""

    column: str  # contract column name
    problem: str
    severity: Severity


@dataclass
class TabRows:
    """A tab's data rows in sheet order; `None` is a fully blank row."""

    tab: Tab
    rows: list[Row | None]
    flaws: dict[int, Flaw] = field(default_factory=dict)  # index in `rows` -> flaw
    headers: tuple[str, ...] = ()  # header order when not the contract's (extra columns allowed)

    def add(self, row: Row, flaw: Flaw | None = None) -> None:
        if flaw:
            self.flaws[len(self.rows)] = flaw
        self.rows.append(row)


def _headers(tab: Tab, order: Sequence[str] = ()) -> list[str]:
    return [LABELS.get(name, name) for name in (order or tab.column_names)]


def _set_width(ws: Worksheet, headers: Sequence[str]) -> None:
    for index, header in enumerate(headers, start=1):
        width = WIDE_COLUMNS.get(normalise(header), max(12, len(header) + 4))
        ws.column_dimensions[get_column_letter(index)].width = width


def _header_sheet(book: Workbook, tab: Tab, order: Sequence[str] = ()) -> Worksheet:
    """A contract tab with its bold, frozen header row and sensible column widths."""
    ws = book.create_sheet(tab.default_title)
    headers = _headers(tab, order)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    _set_width(ws, headers)
    return ws


def _write_row(ws: Worksheet, row_number: int, values: Sequence[Cell]) -> None:
    for column, value in enumerate(values, start=1):
        if value is None or value == "":
            continue
        cell = ws.cell(row=row_number, column=column, value=value)
        if isinstance(value, str) and value.startswith("="):
            # A comment that starts with "=" is text someone typed, never a formula.
            cell.data_type = "s"
        elif isinstance(value, datetime):
            cell.number_format = "m/d/yyyy h:mm:ss"
        elif isinstance(value, date):
            cell.number_format = "m/d/yyyy"


def _write_tab(book: Workbook, data: TabRows) -> list[BadRow]:
    """Write the header and the rows; return where the deliberate mistakes landed."""
    ws = _header_sheet(book, data.tab, data.headers)
    names = list(data.headers or data.tab.column_names)
    for index, row in enumerate(data.rows):
        if row is not None:
            _write_row(ws, index + 2, [row.get(name) for name in names])
    bad = []
    for index, flaw in sorted(data.flaws.items()):
        value = data.rows[index][flaw.column]
        shown = value.isoformat()[:10] if isinstance(value, date) else str(value)
        bad.append(BadRow(data.tab.default_title, index + 2, LABELS[flaw.column], shown, flaw.problem, flaw.severity))
    return bad


def _instructions(book: Workbook, note: str) -> None:
    """The first tab: what each tab and column is, for the office staff who keep the records."""
    ws = book.create_sheet(INSTRUCTIONS_TITLE, 0)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    ws.append(["Coaching records workbook: instructions"])
    ws["A1"].font = Font(bold=True, size=14)
    if note:
        ws.append([note])
    for paragraph in GENERAL_HELP:
        ws.append([paragraph])
    for tab in TABS:
        ws.append([])
        ws.append([f'Tab "{tab.default_title}" ({"required" if tab.required else "optional"})'])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        ws.append([TAB_HELP[tab.key]])
        ws.append(["Column", "Must be filled in?", "What to enter", "Allowed values"])
        for cell in ws[ws.max_row]:
            cell.font = bold
        for column in tab.columns:
            ws.append(
                [
                    LABELS[column.name],
                    "Yes" if column.filled else "No",
                    COLUMN_HELP[(tab.key, column.name)],
                    allowed_values(column),
                ]
            )
    for letter, width in zip("ABCD", (30, 20, 70, 44)):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows():
        for cell in row:
            cell.alignment = wrap


def _new_book() -> Workbook:
    book = Workbook()
    book.remove(book.active)
    book.properties.creator = "data/make_workbooks.py"
    book.properties.created = DOCUMENT_TIME
    book.properties.modified = DOCUMENT_TIME
    return book


def save(book: Workbook, path: Path) -> None:
    """Save with fixed zip timestamps (openpyxl's own save stamps the current time)."""
    buffer = io.BytesIO()
    # ExcelWriter, unlike openpyxl.save_workbook, keeps the document's `modified` property.
    ExcelWriter(book, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=DOCUMENT_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(entry, source.read(info.filename))


# ---------------------------------------------------------------------------------------------
# The template
# ---------------------------------------------------------------------------------------------


def _dropdown(column: Column) -> list[str]:
    if column.kind is Kind.BOOL:
        return ["TRUE", "FALSE"]
    return list(column.choices) if column.kind is Kind.ENUM else []


def _as_plain_text(ws: Worksheet, letter: str) -> None:
    """Format an ID column as text ('@', the column's style), so that 00123 typed into it keeps its
    zeros; the header row stays the only row with cells."""
    ws.column_dimensions[letter].number_format = "@"


def build_template() -> Workbook:
    """Instructions, then every contract tab: header row only, dropdowns for closed lists."""
    book = _new_book()
    _instructions(book, "")
    for tab in TABS:
        ws = _header_sheet(book, tab)
        for index, column in enumerate(tab.columns, start=1):
            if column.kind is Kind.ID:
                _as_plain_text(ws, get_column_letter(index))
            choices = _dropdown(column)
            if not choices:
                continue
            letter = get_column_letter(index)
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(choices) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=LABELS[column.name],
                error="Choose one of: " + ", ".join(choices),
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            ws.add_data_validation(validation)
    return book


# ---------------------------------------------------------------------------------------------
# The sample agency
# ---------------------------------------------------------------------------------------------

AGENCY_DOMAIN = "brightpath.example.org"
FIRST_NAMES = (
    "Aisha Ben Carmen Dmitri Elena Farah Gabriel Hana Isaac Jamal Keiko Liam Maya Nadia Omar "
    "Priya Quinn Rosa Samuel Tara Umar Valentina Wesley Ximena Yusuf Zoe Andre Bianca Colin Dana "
    "Emeka Fiona Grace Hector Ines Jonah Kira Lucas Marisol Noah Olivia Pablo Rachel Stefan "
    "Tamika Victor Willa Yara Adrian Beatriz Chloe Diego Esther Felix Gloria Hugo Imani Joel "
    "Leila Marcus Nora"
).split()
LAST_NAMES = (
    "Abbott Baptiste Chen Delgado Ellison Fofana Garcia Haddad Ivanova Jackson Kowalski Lindqvist "
    "Morales Nguyen Okafor Patel Quintero Rahman Santos Tanaka Usman Vargas Whitfield Xu Yilmaz "
    "Zimmerman Alvarez Brennan Castillo Dubois Eriksen Flores Greene Hoang Iqbal Jensen Kim Lopez "
    "Mbeki Novak O'Neil Petrov Ramirez Schmidt Torres Underwood Volkov Washington Young Zhang "
    "Bauer Cruz Diaz Evans Fischer Gomez Huang Ibrahim Jones Khan"
).split()


@dataclass(frozen=True)
class Hire:
    """A staff member of a program, as the scenario describes them."""

    key: str  # how the scenario refers to them: "lead", "backup", "p3" …
    role: str
    requires_coaching: bool = False
    start: date | None = None  # None: hired before 2026 (a date is drawn)
    end: date | None = None
    flaw: Flaw | None = None  # a deliberate mistake on their Staff row


@dataclass(frozen=True)
class Scenario:
    """One program of the sample agency and how its coaching went in 2026."""

    program_id: str
    name: str
    lead_named: bool
    staff: tuple[Hire, ...]
    coach_months: dict[str, range]  # coach key -> months in which they coach
    missed: dict[int, int]  # month -> eligible practitioners left uncoached that month
    multi_source: tuple[float, float, float]  # share of rows with observation + another, Q1..Q3
    observation_only: bool  # a row lacking a second source: observation only, else no observation
    practitioner_fidelity: dict[int, int] = field(default_factory=dict)  # quarter -> assessments
    coach_fidelity: dict[int, tuple[str, ...]] = field(default_factory=dict)  # quarter -> coaches
    # quarter -> (coach key, or "" for no coach named; number of responses)
    survey: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    plan: tuple[tuple[str, Cell], ...] = ()  # (component label, documented cell)
    # month -> (program whose group session they join, how many): uncoached practitioners who
    # join another program's group session that month.
    visits: dict[int, tuple[str, int]] = field(default_factory=dict)


def _practitioners(count: int, *extra: Hire) -> tuple[Hire, ...]:
    return tuple(Hire(f"p{i}", "Practitioner", True) for i in range(1, count + 1)) + extra


EMAIL_FLAW = Flaw("email", "the email does not look like an address (no @)", Severity.WARNING)
END_FLAW = Flaw("end_date", "End Date is before Start Date (day and month swapped?)", Severity.ERROR)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "FP",
        "Family Preservation",
        lead_named=True,
        staff=(
            Hire("lead", "Coach (lead)"),
            Hire("coach", "Coach"),
            Hire("sup", "Supervisor"),
            Hire("dir", "Executive Director"),
            *_practitioners(10, Hire("new", "Practitioner", True, start=date(YEAR, 8, 17))),
        ),
        coach_months={"lead": range(1, 10), "coach": range(1, 10)},
        missed={2: 1, 9: 1},
        multi_source=(0.88, 0.9, 0.9),
        observation_only=False,
        practitioner_fidelity={1: 4, 2: 4, 3: 4},
        coach_fidelity={1: ("coach",), 2: ("lead",), 3: ("lead", "coach")},
        survey={
            1: (("lead", 4), ("coach", 3)),
            2: (("lead", 4), ("coach", 3), ("", 1)),
            3: (("lead", 5), ("coach", 2), ("", 1)),
        },
        plan=(
            ("Skill sets to be coached", True),
            ("Frequency of coaching", True),
            ("Coaching methods", True),
            ("Feedback methods and timeframe", True),
            ("Communication protocols for coach and supervisor", True),
        ),
    ),
    Scenario(
        "CC",
        "Check & Connect",
        lead_named=True,
        staff=(
            Hire("lead", "Coach (lead)", end=date(YEAR, 9, 11)),
            Hire("backup", "Coach"),
            Hire("sup", "Supervisor"),
            Hire("dir", "Director of Programs"),
            *_practitioners(
                8,
                Hire("left", "Practitioner", True, end=date(YEAR, 5, 29)),
                Hire("feb", "Practitioner", True, start=date(YEAR, 2, 2)),
                Hire("part", "Practitioner (part-time)", False),
            ),
        ),
        coach_months={"lead": range(1, 8), "backup": range(8, 10)},
        missed={3: 1, 8: 8},
        multi_source=(0.85, 0.85, 0.85),
        observation_only=False,
        practitioner_fidelity={1: 3, 2: 3, 3: 3},
        survey={1: (("lead", 5),), 2: (("lead", 4), ("", 1)), 3: (("lead", 3), ("backup", 2))},
        plan=(
            ("Skill sets to be coached", True),
            ("frequency", "yes"),
            ("Feedback methods and timeframe", "x"),
            ("Communication protocols for coach and supervisor", False),
        ),
        visits={8: ("FP", 2)},
    ),
    Scenario(
        "YM",
        "Youth Mentoring",
        lead_named=True,
        staff=(
            Hire("lead", "Coach (lead)"),
            Hire("sup", "Supervisor"),
            Hire("dir", "Youth Services Manager"),
            *_practitioners(
                10,
                Hire("typo", "Practitioner", True, flaw=EMAIL_FLAW),
                Hire("left", "Practitioner", True, end=date(YEAR, 7, 22)),
            ),
        ),
        coach_months={"lead": range(1, 10)},
        missed={1: 1, 5: 2, 7: 1},
        multi_source=(0.4, 0.35, 0.3),
        observation_only=True,
        survey={1: (("lead", 5),), 2: (("lead", 6),), 3: (("lead", 6), ("", 1))},
    ),
    Scenario(
        "PE",
        "Parent Education",
        lead_named=False,
        staff=(
            Hire("coach", "Coach"),
            Hire("sup", "Supervisor"),
            Hire("dir", "Quality Improvement Manager"),
            *_practitioners(
                10,
                Hire("may", "Practitioner", True, start=date(YEAR, 5, 11)),
                Hire("swap", "Practitioner", True, start=date(YEAR, 8, 3), end=date(YEAR, 3, 8), flaw=END_FLAW),
            ),
        ),
        coach_months={"coach": range(1, 10)},
        missed={1: 3, 2: 3, 3: 4, 4: 3, 5: 4, 6: 2, 8: 1},
        multi_source=(0.5, 0.6, 0.92),
        observation_only=False,
        practitioner_fidelity={3: 4},
        survey={2: (("coach", 3),), 3: (("coach", 5),)},
        plan=(
            ("skill_sets", True),
            ("Frequency of coaching", "TRUE"),
            ("Coaching methods", None),
        ),
    ),
)

# (quarter, program, best practice, action, owner key, status as typed, due date)
IMPROVEMENT_PLAN: tuple[tuple[str, str, int | None, str, str, str, date | None], ...] = (
    (
        "2026-Q1",
        "FP",
        2,
        "Add a stakeholder interview to each practitioner's quarterly coaching",
        "lead",
        "Done",
        date(2026, 3, 27),
    ),
    ("2026-Q1", "CC", 3, "Write down the feedback timeline in the coaching plan", "lead", "done", date(2026, 4, 17)),
    ("2026-Q1", "YM", 4, "Start practitioner fidelity checks", "dir", "Dropped", None),
    ("2026-Q1", "PE", 1, "Name a coaching lead for Parent Education", "dir", "Proposed", None),
    (
        "2026-Q2",
        "FP",
        4,
        "Review coach fidelity results with supervisors each quarter",
        "sup",
        "Planned",
        date(2026, 7, 31),
    ),
    ("2026-Q2", "FP", None, "Share the coaching calendar with new hires", "coach", "Done", date(2026, 7, 10)),
    ("2026-Q2", "CC", 1, "Cross-train a backup coach", "dir", "In progress", date(2026, 9, 30)),
    ("2026-Q2", "YM", 2, "Add reflection or document review to observation sessions", "lead", "Proposed", None),
    ("2026-Q2", "PE", 2, "Schedule monthly coaching for every practitioner", "coach", "planned", date(2026, 7, 15)),
    ("2026-Q2", "PE", 4, "Add practitioner fidelity checks", "dir", "in_progress", date(2026, 9, 15)),
    ("2026-Q3", "CC", 1, "Name a new coaching lead", "dir", "Proposed", date(2026, 10, 30)),
    (
        "2026-Q3",
        "CC",
        2,
        "Book make-up sessions for the staff not coached in August",
        "backup",
        "Planned",
        date(2026, 10, 16),
    ),
    ("2026-Q3", "YM", 3, "Write a coaching service delivery plan", "dir", "Proposed", date(2026, 11, 13)),
    ("2026-Q3", "PE", 1, "Name a coaching lead for Parent Education", "dir", "Planned", date(2026, 10, 30)),
)

GROUP_NOTES = (
    "Group reflection on engagement strategies",
    "Role play: difficult conversations",
    "Team review of safety plans",
    "Group reflection: what worked this month",
    "",
)
INDIVIDUAL_NOTES = (
    "Observed home visit; follow-up on goal setting",
    "Reviewed case notes together",
    "Talked with the family about progress",
    "Practiced motivational interviewing",
    "Check-in after a hard week",
    "Observed session with a student; reviewed attendance data",
    "",
    "",
)
COMMENTS = (
    "Very helpful, I use the feedback every week.",
    "My coach listens and gives concrete tips.",
    "Sessions get cancelled too often.",
    "Would like more observation in the field.",
    "Great support during a hard month.",
    "OK but a bit rushed.",
    "Thank you!",
    "",
    "",
    "",
)
# The two comments the report must show as plain text.
HOSTILE_COMMENTS = {
    "FP": "Loved the role play <script>alert(1)</script>",
    "YM": '=HYPERLINK("http://example.com/survey","More feedback here")',
}


@dataclass(frozen=True)
class Person:
    staff_id: str
    name: str
    email: str
    program_id: str
    hire: Hire
    start: date

    @property
    def end(self) -> date | None:
        return self.hire.end

    def active_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or self.end >= day)

    def days_in(self, month: int) -> list[date]:
        """The weekdays of a month of 2026 on which the person works."""
        return [d for d in _weekdays(month) if self.active_on(d)]


@dataclass
class Session:
    program_id: str
    day: date
    coach: Person
    minutes: int | None
    group: bool
    note: str
    seq: int  # creation order, to keep sorting stable


@dataclass
class LogRow:
    session: Session
    staff_id: str
    flags: dict[str, bool] = field(default_factory=dict)
    cells: Row = field(default_factory=dict)  # cells typed differently from the usual
    flaw: Flaw | None = None
    entered: date | None = None  # when the row was typed in, if later than the session

    @property
    def sort_key(self) -> tuple[date, int]:
        return (self.entered or self.session.day, self.session.seq)


def _weekdays(month: int) -> list[date]:
    days = calendar.monthrange(YEAR, month)[1]
    return [date(YEAR, month, d) for d in range(1, days + 1) if date(YEAR, month, d).weekday() < 5]


def _quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _months(quarter: int) -> range:
    return range(3 * quarter - 2, 3 * quarter + 1)


class Agency:
    """The sample agency: draws its people and records from one seeded random generator."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.people: dict[tuple[str, str], Person] = {}
        last_names = self.rng.sample(LAST_NAMES, len(LAST_NAMES))
        names = [f"{first} {last}" for first, last in zip(FIRST_NAMES, last_names)]
        self.rng.shuffle(names)
        number = 101
        for scenario in SCENARIOS:
            for hire in scenario.staff:
                name = names.pop()
                email = f"{name.lower().replace(' ', '.').replace(chr(39), '')}@{AGENCY_DOMAIN}"
                if hire.flaw is EMAIL_FLAW:
                    email = email.replace("@", " ")
                start = hire.start or date(
                    self.rng.randint(2016, 2025), self.rng.randint(1, 12), self.rng.randint(1, 28)
                )
                self.people[(scenario.program_id, hire.key)] = Person(
                    f"{number:05d}", name, email, scenario.program_id, hire, start
                )
                number += 1
        self.sessions: list[Session] = []

    # -- cell habits of real exports --------------------------------------------------------

    def date_cell(self, day: date) -> Cell:
        """Mostly a date cell; sometimes typed as text, US style or ISO."""
        draw = self.rng.random()
        if draw < 0.08:
            return f"{day.month}/{day.day}/{day.year}"
        if draw < 0.12:
            return day.isoformat()
        return day

    def bool_cell(self, value: bool) -> Cell:
        """Mostly a TRUE/FALSE cell (a Sheets checkbox); sometimes typed as a word."""
        if self.rng.random() < 0.88:
            return value
        return self.rng.choice(("yes", "x", "Yes", "y") if value else ("N", "no", "", "FALSE"))

    # -- people ------------------------------------------------------------------------------

    def person(self, program_id: str, key: str) -> Person:
        return self.people[(program_id, key)]

    def staff_of(self, program_id: str) -> list[Person]:
        return [p for (prog, _), p in self.people.items() if prog == program_id]

    def practitioners(self, program_id: str) -> list[Person]:
        return [p for p in self.staff_of(program_id) if p.hire.role.startswith("Practitioner")]

    # -- the coaching log --------------------------------------------------------------------

    def _session(self, program_id: str, day: date, coach: Person, group: bool) -> Session:
        minutes = self.rng.choice((90, 120) if group else (30, 45, 60, 60, 90))
        notes = GROUP_NOTES if group else INDIVIDUAL_NOTES
        session = Session(program_id, day, coach, minutes, group, self.rng.choice(notes), len(self.sessions))
        self.sessions.append(session)
        return session

    def _month_of_coaching(self, scenario: Scenario, month: int, rows: list[LogRow]) -> list[Person]:
        """One program's sessions in one month; returns the eligible staff left uncoached."""
        coaches = [
            self.person(scenario.program_id, key) for key, months in scenario.coach_months.items() if month in months
        ]
        staff = [p for p in self.practitioners(scenario.program_id) if p.days_in(month)]
        eligible = [p for p in staff if p.hire.requires_coaching]
        missed = self.rng.sample(eligible, scenario.missed.get(month, 0))
        coached = [p for p in eligible if p not in missed]
        coached += [p for p in staff if not p.hire.requires_coaching and self.rng.random() < 0.5]
        group_day = self.rng.choice(_weekdays(month))
        present = [p for p in coached if p.active_on(group_day)]
        group = self.rng.sample(present, min(len(present), self.rng.randint(3, 5)))
        if len(group) >= 3:
            session = self._session(scenario.program_id, group_day, self.rng.choice(coaches), True)
            rows += [LogRow(session, p.staff_id) for p in group]
        else:
            group = []
        for p in coached:
            sessions = 1 if p not in group else int(self.rng.random() < 0.3)
            if p not in group and self.rng.random() < 0.3:
                sessions += 1
            for _ in range(sessions):
                session = self._session(
                    scenario.program_id, self.rng.choice(p.days_in(month)), self.rng.choice(coaches), False
                )
                rows.append(LogRow(session, p.staff_id))
        return missed

    def _assign_sources(self, scenario: Scenario, rows: list[LogRow]) -> None:
        """Exactly the scenario's share of each quarter's rows: observation plus another source."""
        for quarter, share in enumerate(scenario.multi_source, start=1):
            in_quarter = [
                r for r in rows if r.session.program_id == scenario.program_id and _quarter_of(r.session.day) == quarter
            ]
            count = math.ceil(share * len(in_quarter))
            multi = set(self.rng.sample(range(len(in_quarter)), count))
            for index, row in enumerate(in_quarter):
                others = ("reflection", "document_review", "stakeholder_interview")
                if index in multi:
                    extra = self.rng.sample(others, self.rng.choice((1, 1, 2)))
                    row.flags = {"direct_observation": True, **{o: o in extra for o in others}}
                elif scenario.observation_only:
                    row.flags = {"direct_observation": True, **{o: False for o in others}}
                else:
                    row.flags = {
                        "direct_observation": False,
                        "reflection": True,
                        "document_review": self.rng.random() < 0.3,
                        "stakeholder_interview": False,
                    }

    def _flawed_log_rows(self, rows: list[LogRow]) -> None:
        """The deliberate mistakes of the Coaching Log (data/README.md lists them)."""
        fp, ym, pe = (self.person(p, "lead" if p != "PE" else "coach") for p in ("FP", "YM", "PE"))
        typo = LogRow(
            self._session("FP", date(YEAR, 7, 9), fp, False),
            "00199",
            flaw=Flaw("staff_id", "Staff ID 00199 is not on the Staff tab", Severity.ERROR),
        )
        bad_day = LogRow(
            self._session("YM", date(YEAR, 8, 31), ym, False),
            self.person("YM", "p2").staff_id,
            cells={"session_date": "8/32/2026"},
            flaw=Flaw("session_date", "8/32/2026 is not a date", Severity.ERROR),
        )
        maybe = LogRow(
            self._session("PE", date(YEAR, 9, 17), pe, False),
            self.person("PE", "p4").staff_id,
            cells={"stakeholder_interview": "maybe"},
            flaw=Flaw("stakeholder_interview", "'maybe' is not TRUE or FALSE", Severity.ERROR),
        )
        for row in (typo, bad_day, maybe):
            row.flags = {"direct_observation": True, "reflection": True}
        original = next(
            r for r in rows if r.session.program_id == "YM" and r.session.day.month == 9 and not r.session.group
        )
        again = LogRow(
            original.session,
            original.staff_id,
            dict(original.flags),
            flaw=Flaw(
                "staff_id",
                "this session and staff member are already on an earlier row (entered twice)",
                Severity.ERROR,
            ),
            entered=original.session.day + timedelta(days=6),
        )
        long = next(
            r for r in rows if r.session.program_id == "FP" and r.session.day.month == 8 and not r.session.group
        )
        long.cells = {"duration_minutes": 900}
        long.flaw = Flaw("duration_minutes", "900 minutes is more than 600 (90 meant?)", Severity.WARNING)
        rows += [typo, bad_day, maybe, again]

    def coaching_log(self) -> TabRows:
        rows: list[LogRow] = []
        for scenario in SCENARIOS:
            for month in range(1, 10):
                missed = self._month_of_coaching(scenario, month, rows)
                if month in scenario.visits:
                    host, count = scenario.visits[month]
                    group = next(
                        r.session
                        for r in rows
                        if r.session.program_id == host and r.session.group and r.session.day.month == month
                    )
                    visitors = [p for p in missed if p.active_on(group.day)][:count]
                    rows += [LogRow(group, p.staff_id) for p in visitors]
        for scenario in SCENARIOS:
            self._assign_sources(scenario, [r for r in rows if r.session.program_id == scenario.program_id])
        self._flawed_log_rows(rows)
        rows.sort(key=lambda r: r.sort_key)
        session_ids: dict[int, int] = {}
        data = TabRows(COACHING_LOG, [], headers=(*COACHING_LOG.column_names, "Entered By"))
        for row in rows:
            number = session_ids.setdefault(row.session.seq, 1001 + len(session_ids))
            s = row.session
            minutes: Cell = s.minutes if self.rng.random() > 0.05 else None
            if minutes is not None and self.rng.random() < 0.04:
                minutes = str(minutes)
            cells: Row = {
                "session_id": number,
                "session_date": self.date_cell(s.day),
                "program_id": s.program_id,
                "coach_id": s.coach.staff_id,
                "staff_id": row.staff_id,
                "duration_minutes": minutes,
                **{
                    flag: self.bool_cell(row.flags.get(flag, False))
                    for flag in ("direct_observation", "reflection", "document_review", "stakeholder_interview")
                },
                "notes": s.note,
                "Entered By": "".join(part[0] for part in s.coach.name.split()),
                **row.cells,
            }
            data.add(cells, row.flaw)
        # Two fully blank rows in the middle, as left behind by deleting rows' contents.
        for position in (150, 320):
            data.rows.insert(position, None)
            data.flaws = {(i + 1 if i >= position else i): f for i, f in data.flaws.items()}
        return data

    # -- the other tabs ----------------------------------------------------------------------

    def programs(self) -> TabRows:
        data = TabRows(PROGRAMS, [])
        for s in SCENARIOS:
            lead = self.person(s.program_id, "lead").staff_id if s.lead_named else None
            data.add({"program_id": s.program_id, "program_name": s.name, "coaching_lead_id": lead})
        return data

    def staff(self) -> TabRows:
        # The HR export lists the columns in its own order (the contract does not mind).
        order = ("staff_id", "name", "role", "program_id", "email", "requires_coaching", "start_date", "end_date")
        data = TabRows(STAFF, [], headers=order)
        for p in self.people.values():
            data.add(
                {
                    "staff_id": p.staff_id,
                    "name": p.name,
                    "role": p.hire.role,
                    "program_id": p.program_id,
                    "email": p.email,
                    "requires_coaching": self.bool_cell(p.hire.requires_coaching),
                    "start_date": self.date_cell(p.start),
                    "end_date": p.end,
                },
                p.hire.flaw,
            )
        return data

    def coaching_plan(self) -> TabRows:
        data = TabRows(COACHING_PLAN, [])
        for s in SCENARIOS:
            for component, documented in s.plan:
                written = documented not in (False, None)
                data.add(
                    {
                        "program_id": s.program_id,
                        "component": component,
                        "documented": documented,
                        "document_url": (
                            f"https://docs.{AGENCY_DOMAIN}/coaching/{s.program_id.lower()}-plan#{normalise(component)}"
                            if written
                            else None
                        ),
                        "last_reviewed": self.date_cell(date(YEAR, self.rng.randint(1, 9), 15)) if written else None,
                    }
                )
        return data

    def fidelity(self) -> TabRows:
        entries: list[tuple[date, Row]] = []
        for s in SCENARIOS:
            for quarter in range(1, 4):
                days = [d for m in _months(quarter)[1:] for d in _weekdays(m)]
                subjects = [
                    ("practitioner", p, 30)
                    for p in self.rng.sample(
                        [p for p in self.practitioners(s.program_id) if p.active_on(days[0])],
                        s.practitioner_fidelity.get(quarter, 0),
                    )
                ]
                subjects += [("coach", self.person(s.program_id, key), 20) for key in s.coach_fidelity.get(quarter, ())]
                for subject_type, person, max_score in subjects:
                    day = self.rng.choice([d for d in days if person.active_on(d)])
                    score = round(max_score * self.rng.uniform(0.65, 0.97))
                    entries.append((day, self._fidelity_row(s.program_id, day, subject_type, person, score, max_score)))
        entries.sort(key=lambda e: e[0])
        data = TabRows(FIDELITY, [])
        for _, row in entries:
            data.add(row)
        # Someone typed a score above the tool's maximum.
        over = self._fidelity_row("FP", date(YEAR, 9, 24), "practitioner", self.person("FP", "p5"), 34, 30)
        data.add(over, Flaw("score", "Score 34 is above Max Score 30", Severity.ERROR))
        return data

    def _fidelity_row(
        self, program_id: str, day: date, subject_type: str, person: Person, score: int, max_score: int
    ) -> Row:
        return {
            "assessment_date": self.date_cell(day),
            "program_id": program_id,
            "subject_type": subject_type.capitalize(),
            "subject_id": person.staff_id,
            "score": score,
            "max_score": max_score,
        }

    def satisfaction(self) -> TabRows:
        responses: list[tuple[datetime, Row]] = []
        for s in SCENARIOS:
            for quarter, counts in s.survey.items():
                for coach_key, count in counts:
                    coach = self.person(s.program_id, coach_key) if coach_key else None
                    months = [m for m in _months(quarter) if coach is None or m in s.coach_months[coach_key]]
                    for _ in range(count):
                        day = self.rng.choice([d for m in months for d in _weekdays(m)])
                        stamp = datetime.combine(
                            day, time(self.rng.randint(7, 21), self.rng.randint(0, 59), self.rng.randint(0, 59))
                        )
                        responses.append(
                            (
                                stamp,
                                {
                                    "timestamp": stamp,
                                    "program_id": s.program_id,
                                    "coach_id": coach.staff_id if coach else None,
                                    "satisfaction": self.rng.choice((2, 3, 4, 4, 5, 5, 5)),
                                    "comments": self.rng.choice(COMMENTS),
                                },
                            )
                        )
        responses.sort(key=lambda r: r[0])
        for program_id, comment in HOSTILE_COMMENTS.items():
            last = [row for stamp, row in responses if row["program_id"] == program_id and stamp.month >= 7][-1]
            last["comments"] = comment
        data = TabRows(SATISFACTION, [])
        for stamp, row in responses:
            # Google Forms writes "7/14/2026 9:32:10"; a few rows were pasted as date-time cells.
            if self.rng.random() < 0.85:
                day = f"{stamp.month}/{stamp.day}/{stamp.year}"
                row["timestamp"] = f"{day} {stamp.hour}:{stamp:%M:%S}"
            data.add(row)
        return data

    def improvement_actions(self) -> TabRows:
        data = TabRows(IMPROVEMENT_ACTIONS, [])
        for quarter, program_id, practice, action, owner, status, due in IMPROVEMENT_PLAN:
            data.add(
                {
                    "quarter": quarter,
                    "program_id": program_id,
                    "best_practice": practice,
                    "action": action,
                    "owner": self.person(program_id, owner).name,
                    "status": status,
                    "due_date": self.date_cell(due) if due else None,
                }
            )
        return data


SAMPLE_NOTE = (
    "SAMPLE DATA: the records of a fictional agency (Brightpath Family Services), 2026-Q1 to "
    "2026-Q3, with a few deliberate mistakes. See data/README.md."
)


def build_sample() -> tuple[Workbook, list[BadRow]]:
    """The sample agency's workbook, and where its deliberate mistakes are."""
    agency = Agency()
    tabs = {
        "programs": agency.programs(),
        "staff": agency.staff(),
        "coaching_log": agency.coaching_log(),
        "coaching_plan": agency.coaching_plan(),
        "fidelity": agency.fidelity(),
        "satisfaction": agency.satisfaction(),
        "improvement_actions": agency.improvement_actions(),
    }
    book = _new_book()
    _instructions(book, SAMPLE_NOTE)
    bad: list[BadRow] = []
    for tab in TABS:
        bad += _write_tab(book, tabs[tab.key])
    return book, bad


def write_workbooks(out_dir: Path = DATA_DIR) -> tuple[Path, Path, list[BadRow]]:
    """Write both workbooks into `out_dir`; return their paths and the sample's bad rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sample, bad = build_sample()
    sample_path, template_path = out_dir / SAMPLE_NAME, out_dir / TEMPLATE_NAME
    save(sample, sample_path)
    save(build_template(), template_path)
    return sample_path, template_path, bad


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder to write into")
    args = parser.parse_args(argv)
    sample_path, template_path, bad = write_workbooks(args.out)
    print(f"wrote {sample_path}\nwrote {template_path}\n\nDeliberate bad rows of the sample:")
    print("| tab | row | column | value | problem | severity |\n|---|---|---|---|---|---|")
    for b in bad:
        print(f"| {b.tab} | {b.row} | {b.column} | {b.value} | {b.problem} | {b.severity.value} |")


if __name__ == "__main__":
    main()
