"""Property tests: no cell can crash a run, and a row is either valid (read exactly by the rules)
or listed with its sheet row (data-contract.md, "Reading rules").

Workbooks are generated with every contract tab and column; each cell is drawn from text, numbers,
booleans, dates, blanks, error values, formula text, huge and control-character strings, and text
dates (possible and impossible) mixed with serial numbers and date cells. The expected reading of a
cell is computed here, cell by cell in plain Python, from the contract's words.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.contract import TABS, Column, Kind, normalise
from coaching.quarterly import check_records, score_history
from coaching.quarters import Quarter
from coaching.records import RawTab, RawWorkbook, Severity, WorkbookError
from coaching.scoring import Targets

QUARTER = Quarter.parse("2026-Q3")
RUN_DATE = dt.date(2026, 11, 25)
EPOCH = dt.datetime(1899, 12, 30)
IDS = ["P1", "P2", "S1", "S2", "00123", "123"]
# No example database: nothing is written into the repository.
FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
WHOLE_RUN = settings(FAST, max_examples=12)
ONE_RULE = settings(FAST, max_examples=30)  # a property about one rule, beside the general one

FORMULA_ERRORS = {
    "#NULL!",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#ERROR!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
    "#GETTING_DATA",
}
TRUE_WORDS = {"true", "yes", "y", "1", "x"}
FALSE_WORDS = {"false", "no", "n", "0"}

# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------

error_values = st.sampled_from(["#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#ERROR!"])
formula_text = st.sampled_from(["=SUM(A1:A3)", '=HYPERLINK("http://x.invalid","x")', "+1", "-2", "@coach", "=1/0"])
control_text = st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=6)
huge_text = st.sampled_from(["x" * 32_767, " 7/14/2026 " + "\u200b" * 32_000, "TRUE" + " " * 32_763])
plain_text = st.text(max_size=12)
word_cells = st.sampled_from(
    [
        "TRUE",
        "false",
        "Yes",
        "n",
        "X",
        "maybe",
        "skill sets",
        "Feedback methods and timeframe",
        "In progress",
        "coach",
        "Practitioner",
        "2026-Q2",
        "2026 - q3",
        "2026-Q5",
        " 45 ",
        "45 min",
        "1e3",
        "inf",
        "NaN",
        "-0",
        "00123",
        " P1 ",
        "P1\u200b",
        "ann@agency.org",
        "ann at agency",
    ]
)
numbers = st.one_of(
    st.integers(min_value=-10, max_value=10),
    st.integers(min_value=40_000, max_value=50_000),  # serial dates of 2009-2036
    st.integers(),  # arbitrary size
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=46_000, max_value=46_400),  # date-times of 2025-2026
)
day_stamps = st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2400, 12, 31))
date_cells = st.one_of(day_stamps, st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2400, 12, 31)))


@st.composite
def text_dates(draw) -> str:
    """Text that looks like a date, possible or not: M/D/YYYY, D/M/YYYY, YYYY-MM-DD, two-digit years,
    and times such as 24:30, 23:99 or 13:00 PM."""
    year = draw(st.sampled_from([26, 1899, 1900, 2025, 2026, 2199, 2200]))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    shape = draw(st.sampled_from(["slash", "iso", "dots"]))
    text = {
        "slash": f"{month}/{day}/{year}",
        "iso": f"{year:04d}-{month:02d}-{day:02d}",
        "dots": f"{day}.{month}.{year}",
    }[shape]
    if draw(st.booleans()):
        hour, minute = draw(st.integers(0, 99)), draw(st.integers(0, 99))
        text += draw(st.sampled_from([" ", "T", "  "])) + f"{hour}:{minute:02d}"
        if draw(st.booleans()):
            text += f":{draw(st.integers(0, 61)):02d}"
        text += draw(st.sampled_from(["", " AM", "pm"]))
    return text


cells = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.just(float("nan")),
    plain_text,
    control_text,
    huge_text,
    word_cells,
    st.sampled_from(IDS),
    numbers,
    st.booleans(),
    date_cells,
    text_dates(),
    error_values,
    formula_text,
)


def fitting(column: Column) -> st.SearchStrategy:
    """A cell the column can read, as a cell or as text, so that some generated rows are valid."""
    in_quarter = st.dates(min_value=dt.date(2026, 4, 1), max_value=dt.date(2026, 9, 30))
    if column.kind in (Kind.DATE, Kind.DATETIME):
        return st.one_of(
            in_quarter,
            in_quarter.map(lambda d: f"{d.month}/{d.day}/{d.year}"),
            in_quarter.map(dt.date.isoformat),
            in_quarter.map(lambda d: (d - EPOCH.date()).days),
        )
    return {
        Kind.ID: st.sampled_from(IDS),
        Kind.TEXT: st.sampled_from(["Ann Lee", "ann@agency.org", "went well"]),
        Kind.EMAIL: st.sampled_from(["ann@agency.org", "bo.diaz@mail.agency.org"]),
        Kind.BOOL: st.sampled_from([True, False, "yes", "N", None]),
        Kind.ENUM: st.sampled_from([*column.choices, *column.aliases]),
        Kind.QUARTER: st.sampled_from(["2026-Q2", "2026-q3"]),
        Kind.NUMBER: st.integers(0, 40),
        Kind.INTEGER: st.integers(1, 5),
    }[column.kind]


FORMULAS = ["=TODAY()", "=A2", "=VLOOKUP(B2,Staff!A:B,2,FALSE)", "=1/0", '=CONCAT("a";"b")']


@st.composite
def workbooks(draw, mapped: bool = False, with_formulas: bool = False) -> RawWorkbook:
    """Every contract tab with its full header (the labels an office worker types) and up to six rows.

    `mapped`: some headers are question texts, given to the parser by `column_mapping(raw)`.
    `with_formulas`: some cells hold a formula, with the value the sheet stored for it or none.
    """
    tabs = {}
    for spec in TABS:
        header = [
            f"Question {position}: which {column.name.replace('_', ' ')}?"
            if mapped and draw(st.booleans())
            else column.label
            for position, column in enumerate(spec.columns)
        ]
        row = st.tuples(*(st.one_of(fitting(c), fitting(c), cells) for c in spec.columns)).map(list)
        rows = draw(st.lists(row, min_size=1 if spec.required else 0, max_size=6))
        formulas = {}
        if with_formulas and rows:
            at = st.tuples(st.integers(2, len(rows) + 1), st.integers(1, len(spec.columns)))
            formulas = draw(st.dictionaries(at, st.sampled_from(FORMULAS), max_size=4))
            for row_number, column_number in formulas:
                if draw(st.booleans()):  # saved by a program that does not calculate: no stored value
                    rows[row_number - 2][column_number - 1] = None
        tabs[spec.default_title] = RawTab(spec.default_title, [header, *rows], formulas=formulas)
    return RawWorkbook(tabs, "generated.xlsx")


def column_mapping(raw: RawWorkbook) -> dict[str, dict[str, str]]:
    """The settings' `columns` for the question-text headers of `raw`."""
    return {
        spec.key: {
            column.name: header
            for column, header in zip(spec.columns, raw.tabs[spec.default_title].rows[0])
            if header != column.label
        }
        for spec in TABS
    }


# ---------------------------------------------------------------------------------------------
# The contract's reading of one cell, in plain Python
# ---------------------------------------------------------------------------------------------

UNREADABLE = object()


def as_float(cell) -> float:
    try:
        return float(cell)
    except OverflowError:
        return math.copysign(math.inf, cell)


def shown(cell) -> str | None:
    """The cell's text as the sheet shows it, trimmed; None when blank."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, (int, float)):
        number = as_float(cell)
        return (
            str(int(number))
            if math.isfinite(number) and number == round(number) and abs(number) < 1e15
            else repr(number)
        )
    if isinstance(cell, (dt.datetime, dt.date)):
        if isinstance(cell, dt.datetime) and cell.time() != dt.time(0):
            return cell.strftime("%Y-%m-%d %H:%M:%S")
        return cell.strftime("%Y-%m-%d")
    return cell.strip() or None


def in_range(stamp: dt.datetime) -> bool:
    return dt.date(1900, 1, 1) <= stamp.date() <= dt.date(2199, 12, 31)


DATE_TEXT = re.compile(
    r"(?:(?P<iso_y>[0-9]{4})-(?P<iso_m>[0-9]{1,2})-(?P<iso_d>[0-9]{1,2})"
    r"|(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})/(?P<y>[0-9]{4}))"
    r"(?:[ T]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]+)?)?\s*(?P<ampm>[AaPp][Mm])?)?"
)


def date_from_text(text: str) -> dt.datetime | object:
    match = DATE_TEXT.fullmatch(text)
    if not match:
        return UNREADABLE
    part = {k: int(v) if v and k != "ampm" else v for k, v in match.groupdict().items()}
    year, month, day = (
        (part["iso_y"], part["iso_m"], part["iso_d"]) if part["iso_y"] else (part["y"], part["m"], part["d"])
    )
    hour, minute, second = part["hour"] or 0, part["minute"] or 0, part["second"] or 0
    if part["ampm"]:
        if not 1 <= hour <= 12:
            return UNREADABLE
        hour = hour % 12 + (12 if part["ampm"].lower() == "pm" else 0)
    try:
        stamp = dt.datetime(year, month, day, hour, minute, second)  # refuses 24:30, 23:99, 2/30
    except ValueError:
        return UNREADABLE
    return stamp if in_range(stamp) else UNREADABLE


def expected(column: Column, cell, formula: str | None = None) -> object:
    """The typed value the contract gives the cell (None for blank), or UNREADABLE; a formula where a
    typed value belongs is unreadable, and so is one in free text without a stored value."""
    text = shown(cell)
    if formula is not None and (column.kind not in (Kind.TEXT, Kind.EMAIL) or text is None):
        return UNREADABLE
    kind = column.kind
    if kind is Kind.ID and text is not None and text.upper() in FORMULA_ERRORS:
        return UNREADABLE  # a formula's error value is never an identifier
    if kind in (Kind.ID, Kind.TEXT, Kind.EMAIL):
        return text
    if kind is Kind.BOOL:
        if text is None or text.lower() in FALSE_WORDS:
            return False
        return True if text.lower() in TRUE_WORDS else UNREADABLE
    if kind is Kind.ENUM:
        return None if text is None else column.aliases.get(normalise(text), normalise(text))
    if kind is Kind.QUARTER:
        return None if text is None else re.sub(r"\s+", "", text.upper())
    if kind in (Kind.DATE, Kind.DATETIME):
        if text is None:
            return None
        if isinstance(cell, bool):
            return UNREADABLE
        if isinstance(cell, dt.datetime):
            stamp = cell
        elif isinstance(cell, dt.date):
            stamp = dt.datetime(cell.year, cell.month, cell.day)
        elif isinstance(cell, (int, float)):
            serial = as_float(cell)
            if not 2 <= serial < (dt.datetime(2200, 1, 1) - EPOCH).days:
                return UNREADABLE
            stamp = EPOCH + dt.timedelta(seconds=round(serial * 86400))
        else:
            stamp = date_from_text(text)
            if stamp is UNREADABLE:
                return UNREADABLE
        if not in_range(stamp):
            return UNREADABLE
        return pd.Timestamp(stamp).normalize() if kind is Kind.DATE else pd.Timestamp(stamp)
    # NUMBER, INTEGER
    if text is None:
        return None
    if isinstance(cell, bool):
        return UNREADABLE
    if isinstance(cell, (int, float)):
        number = as_float(cell)
    elif re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", text):
        number = float(text)
    else:
        return UNREADABLE
    if not math.isfinite(number) or (kind is Kind.INTEGER and number != round(number)):
        return UNREADABLE
    return number


def same(value, wanted) -> bool:
    if wanted is None:
        return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
    if isinstance(wanted, float):
        return float(value) == wanted
    return value == wanted


def non_blank_rows(tab: RawTab) -> list[int]:
    """Rows with a value or a formula (a formula is content, even without a stored value)."""
    return [
        number
        for number, row in enumerate(tab.rows[1:], start=2)
        if any(shown(c) is not None for c in row) or any(r == number for r, _ in tab.formulas)
    ]


def without_data(raw: RawWorkbook) -> list[str]:
    """Required tabs with no row holding a value: the run must stop, naming them."""
    return [spec.default_title for spec in TABS if spec.required and not non_blank_rows(raw.tabs[spec.default_title])]


def run(raw: RawWorkbook):
    return check_records(
        raw,
        {},
        date_format="M/D/YYYY",
        run_date=RUN_DATE,
        quarter=QUARTER,
        max_error_share=0.10,
        min_log_volume_ratio=0.5,
    )


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


def assert_read_by_the_rules(raw: RawWorkbook, columns: dict[str, dict[str, str]] | None = None) -> None:
    from coaching.parsing import parse_workbook

    try:
        parsed = parse_workbook(raw, {}, columns=columns)
    except WorkbookError as stop:
        assert without_data(raw) and "has no data rows" in str(stop)
        return
    for spec in TABS:
        raw_tab = raw.tabs[spec.default_title]
        tab = parsed.tabs[spec.key]
        assert tab.frame.index.tolist() == non_blank_rows(raw_tab)
        listed = {(i.row, i.column): i for i in parsed.issues if i.tab == spec.default_title and i.row is not None}
        for row in tab.frame.index:
            cells_of_row = raw_tab.rows[row - 1]
            for position, column in enumerate(spec.columns):
                cell = cells_of_row[position] if position < len(cells_of_row) else None
                formula = raw_tab.formulas.get((row, position + 1))
                wanted = expected(column, cell, formula)
                # Messages name the column by the sheet's own header (a mapped question text included).
                issue = listed.get((row, raw_tab.rows[0][position]))
                if wanted is UNREADABLE:
                    assert issue is not None, (row, column.name, cell, formula)
                    if formula is not None:
                        assert issue.value == formula and f"'{formula}' is a formula" in issue.problem
                    elif column.unreadable_is_warning:
                        assert issue.severity is Severity.WARNING
                    else:
                        assert issue.severity is Severity.ERROR
                    assert issue.cell.endswith(str(row))
                else:
                    assert issue is None, issue
                    assert same(tab.frame.at[row, column.name], wanted), (row, column.name, cell)


@FAST
@given(workbooks())
def test_any_cell_is_read_by_the_rules_or_listed_as_a_problem_of_its_row(raw):
    assert_read_by_the_rules(raw)


@ONE_RULE
@given(workbooks(with_formulas=True))
def test_a_formula_reads_as_its_value_only_in_free_text_and_is_otherwise_listed_naming_it(raw):
    assert_read_by_the_rules(raw)


@ONE_RULE
@given(workbooks(mapped=True))
def test_mapped_headers_read_exactly_as_the_contracts_own_headers(raw):
    assert_read_by_the_rules(raw, column_mapping(raw))


@WHOLE_RUN
@given(workbooks(with_formulas=True))
def test_a_whole_check_and_scoring_never_raises_and_every_row_is_valid_or_listed(raw):
    try:
        checked = run(raw)
    except WorkbookError as stop:
        assert without_data(raw) and "has no data rows" in str(stop)
        return
    score_history(checked.valid, QUARTER, Targets())
    for spec in TABS:
        title = spec.default_title
        rows = non_blank_rows(raw.tabs[title])
        errors = {i.row for i in checked.issues if i.tab == title and i.severity is Severity.ERROR and i.row}
        valid = set(checked.valid[spec.key].index)
        assert valid | errors >= set(rows)
        assert not valid & errors
        # A warning that only points at a doubt (a person entered twice, a pasted ID) keeps the value.
        warned = {
            (i.row, i.column)
            for i in checked.issues
            if i.tab == title and i.severity is Severity.WARNING and not i.keeps_value
        }
        for row in valid:
            for position, column in enumerate(spec.columns):
                if (row, column.label) in warned:  # a warned-about value is treated as blank
                    assert same(checked.valid[spec.key].at[row, column.name], None)
                    continue
                wanted = expected(
                    column, raw.tabs[title].rows[row - 1][position], raw.tabs[title].formulas.get((row, position + 1))
                )
                assert wanted is not UNREADABLE
                assert same(checked.valid[spec.key].at[row, column.name], wanted), (title, row, column.name)


# A program's name stands for its ID in the survey (a Google Forms dropdown shows names).
PROGRAM_NAMES = ["Home Visiting", "Family Support", "Youth Mentoring"]


@st.composite
def surveys_by_name(draw) -> tuple[RawWorkbook, list[str]]:
    """Programs P1..Pn with names drawn from a short list (so some repeat), and survey answers naming
    a program by ID, by name (in any case, with spaces around) or by something else."""
    names = draw(st.lists(st.sampled_from(PROGRAM_NAMES), min_size=1, max_size=4))
    programs = [
        ["Program ID", "Program Name", "Coaching Lead ID"],
        *([f"P{n}", name, ""] for n, name in enumerate(names, 1)),
    ]
    answer = st.one_of(
        st.sampled_from([f"P{n}" for n in range(1, len(names) + 1)]),
        st.sampled_from(PROGRAM_NAMES).map(lambda name: f" {name.upper()} "),
        st.sampled_from(PROGRAM_NAMES),
        st.just("Parent Education"),
    )
    answers = draw(st.lists(answer, min_size=1, max_size=8))
    staff = [
        ["Staff ID", "Name", "Email", "Program ID", "Requires Coaching?", "Start Date", "End Date"],
        ["S1", "Ann", "ann@agency.org", "P1", "no", "1/1/2025", ""],
    ]
    log = [
        [column.label for column in TABS[2].columns],
        ["C1", "7/14/2026", "P1", "S1", "S1", 60, "yes", "yes", "", "", ""],
    ]
    survey = [["Timestamp", "Program ID", "Satisfaction"], *(["7/14/2026 9:31:05", a, 4] for a in answers)]
    tabs = {"Programs": programs, "Staff": staff, "Coaching Log": log, "Satisfaction Survey": survey}
    return RawWorkbook({t: RawTab(t, rows) for t, rows in tabs.items()}, "forms.xlsx"), names


@WHOLE_RUN
@given(surveys_by_name())
def test_a_program_named_in_the_survey_reads_as_its_id_and_a_shared_or_unknown_name_is_an_error(case):
    raw, names = case
    checked = run(raw)
    ids_by_name: dict[str, list[str]] = {}
    for n, name in enumerate(names, 1):
        ids_by_name.setdefault(name.casefold(), []).append(f"P{n}")
    errors = {i.row for i in checked.issues if i.tab == "Satisfaction Survey" and i.severity is Severity.ERROR}
    valid = checked.valid["satisfaction"]["program_id"]
    for row, (_, answer, _) in enumerate(raw.tabs["Satisfaction Survey"].rows[1:], start=2):
        ids = [answer] if re.fullmatch(r"P[0-9]+", answer) else ids_by_name.get(answer.strip().casefold(), [])
        if len(ids) == 1:
            assert row not in errors and valid[row] == ids[0], (row, answer)
        else:
            assert row in errors and row not in valid.index, (row, answer)
