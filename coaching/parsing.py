"""Raw cells → typed frames, by the contract's reading rules (data-contract.md, section 1).

Cells arrive typed (an `.xlsx` date cell, a Sheets checkbox, UNFORMATTED_VALUE serial dates) or as
text (FORMATTED_VALUE); both give the same typed value. Every conversion works on whole columns:
a column's cells are first grouped into distinct cells (hash-based, in C), each distinct cell is
read once (sorted by Python type, then pandas string and datetime operations), and the results are
spread back over the rows. A column of 800 000 coaching-log rows holds a few thousand distinct
staff IDs or dates, so the string work is done a few thousand times, not 800 000.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coaching.contract import FORMS_RESPONSES, SATISFACTION, TABS, Column, Kind, Tab, normalise
from coaching.records import (
    DataIssue,
    ParsedTab,
    ParsedWorkbook,
    RawTab,
    RawWorkbook,
    ReadingOptions,
    Severity,
    WorkbookError,
)

TRUE_WORDS = ("true", "yes", "y", "1", "x")
FALSE_WORDS = ("false", "no", "n", "0")
SHEETS_EPOCH = np.datetime64("1899-12-30T00:00:00", "s")
# Dates are read from 1900 to 2199: a year outside is a typo (and pandas' nanosecond timestamps,
# which the checks and scores use, end in 2262).
FIRST_DAY = np.datetime64("1900-01-01", "D")
LAST_DAY = np.datetime64("2199-12-31", "D")
_TIME = r"(?:[ T]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]+)?)?\s*(?P<ampm>[AaPp][Mm])?)?"
# YYYY-MM-DD or a slash date (a text is at most one of them), then the time.
_DATE_TEXT = re.compile(
    r"^(?:(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"|(?P<first>[0-9]{1,2})/(?P<second_part>[0-9]{1,2})/(?P<slash_year>[0-9]{4}))" + _TIME + r"$"
)
_SHORT_YEAR = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}(?:[ T].*)?$"
_HAS_TIME = r"[0-9]{1,2}:[0-9]{2}"
# The error values a formula shows in Excel and Google Sheets (#REF!, #N/A …): never an identifier.
FORMULA_ERROR = r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|ERROR!|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!|BUSY!|UNKNOWN!|GETTING_DATA)"
_NUMERIC_TYPES = (int, float, np.integer, np.floating)
_DATE_TYPES = (dt.datetime, dt.date, pd.Timestamp)
_TYPE_OF = np.frompyfunc(type, 1, 1)  # each cell's Python type, in a C loop


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _type_label(kind: type) -> str:
    if kind is type(None):
        return "blank"
    if issubclass(kind, str):
        return "str"
    if issubclass(kind, (bool, np.bool_)):
        return "bool"
    if issubclass(kind, _NUMERIC_TYPES):
        return "num"
    if issubclass(kind, _DATE_TYPES):
        return "date"
    return "other"


def _cell_types(cells: np.ndarray, kinds: np.ndarray, kind_codes: np.ndarray) -> np.ndarray:
    """A label per cell: 'blank', 'str', 'bool', 'num', 'date' or 'other'.

    Labelled by Python type (`kinds[kind_codes]`, a handful per column); then a NaN float or a
    string of spaces is blank.
    """
    labels: np.ndarray = np.array([_type_label(k) for k in kinds], dtype=object)[kind_codes]
    floats = np.flatnonzero(np.array([issubclass(k, float) for k in kinds], dtype=bool)[kind_codes])
    labels[floats[np.isnan(cells[floats].astype("float64"))]] = "blank"
    strings = np.flatnonzero(labels == "str")
    labels[strings[np.fromiter((not s.strip() for s in cells[strings]), dtype=bool, count=len(strings))]] = "blank"
    return labels


@dataclass(frozen=True)
class _SheetColumn:
    """A sheet column with each distinct cell once: the column is `cells.iloc[codes]`."""

    codes: np.ndarray  # per data row, the position of its cell in `cells`
    cells: pd.Series  # the distinct cells, as delivered
    types: np.ndarray  # their labels (see _cell_types)

    def blank(self) -> np.ndarray:
        return np.asarray((self.types == "blank")[self.codes])

    def spread(self, distinct: pd.Series, keep: np.ndarray, index: pd.Index) -> pd.Series:
        """Values computed for the distinct cells, back on the kept rows."""
        return distinct.take(self.codes[keep]).set_axis(index)


def _sheet_column(cells: np.ndarray) -> _SheetColumn:
    """Distinct cells: equal values of the same Python type (True == 1 in Python, but the cells
    TRUE and 1 read differently), numbered in order of first appearance."""
    codes, _ = pd.factorize(cells, use_na_sentinel=False)
    kind_codes, kinds = pd.factorize(_TYPE_OF(cells))
    if len(kinds) > 1:
        codes, _ = pd.factorize(codes * len(kinds) + kind_codes)
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0)
    distinct = cells[first]
    return _SheetColumn(codes, pd.Series(distinct, dtype=object), _cell_types(distinct, kinds, kind_codes[first]))


def _grid(rows: list[list[object]], width: int) -> np.ndarray:
    """The rows as one object array, padded with None; the rows of each length are copied together."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    grid = np.full((len(rows), width), None, dtype=object)
    for length in np.unique(lengths[lengths > 0]).tolist():
        at = np.flatnonzero(lengths == length)
        same = operator.itemgetter(*at.tolist())(rows) if len(at) > 1 else [rows[at[0]]]
        grid[at, :length] = np.array(same, dtype=object).reshape(len(at), length)
    return grid


def _floats(cells: pd.Series) -> pd.Series:
    """Numeric cells as floats; an integer too large for a float becomes infinite (unreadable)."""
    try:
        return cells.astype("float64")
    except OverflowError:
        return cells.map(lambda n: float(n) if abs(n) < 2**1023 else math.copysign(math.inf, n)).astype("float64")


def _date_cells(cells: pd.Series) -> pd.Series:
    """Date and date-time cells as datetime64[us] (any year a cell can hold)."""
    return pd.Series(np.array(list(cells), dtype="datetime64[us]"), index=cells.index)


def _by_kind(
    types: np.ndarray, index: pd.Index, readers: Mapping[str, Callable[[np.ndarray], object]], empty: object, dtype: str
) -> pd.Series:
    """A value per cell: the cells of each kind (a label of _cell_types) read by `readers[kind]`,
    given where they are; `empty` for a kind without a reader.

    A column holds one or two kinds of cell, and a small tab few cells: a kind that is not there
    costs no pandas work (the fixed cost of each operation is most of a small workbook's parse).
    """
    values = np.full(len(types), empty)
    for kind, read in readers.items():
        at = types == kind
        if at.any():
            values[at] = read(at)
    return pd.Series(values, index=index, dtype=dtype)


def _number_text(numbers: pd.Series) -> np.ndarray:
    """Whole numbers without '.0'."""
    whole = (numbers.eq(numbers.round()) & numbers.abs().lt(1e15)).to_numpy()
    text = np.empty(len(numbers), dtype=object)
    text[whole] = numbers[whole].astype("int64").astype("string").to_numpy()
    text[~whole] = numbers[~whole].astype("string").to_numpy()
    return text


def _date_text(stamps: pd.Series) -> pd.Series:
    """YYYY-MM-DD, with the time when there is one."""
    text: pd.Series = stamps.dt.strftime("%Y-%m-%d")
    has_time = stamps.ne(stamps.dt.floor("D"))
    if has_time.any():  # date cells seldom hold a time
        text = text.where(~has_time, stamps.dt.strftime("%Y-%m-%d %H:%M:%S"))
    return text


def _as_text(cells: pd.Series, types: np.ndarray) -> pd.Series:
    """The text of each cell as the sheet shows it: trimmed; whole numbers without '.0'."""
    values = cells.to_numpy()
    readers: dict[str, Callable[[np.ndarray], object]] = {
        # Python's strip, as pandas' .str.strip does, without a Series built for it
        "str": lambda at: [text.strip() for text in values[at]],
        "num": lambda at: _number_text(_floats(cells[at])),
        "bool": lambda at: ["TRUE" if value else "FALSE" for value in values[at]],
        "date": lambda at: _date_text(_date_cells(cells[at])),
        "other": lambda at: cells[at].astype(str).astype("string").str.strip(),
    }
    return _by_kind(types, cells.index, readers, pd.NA, "string")


def _in_range(stamps: pd.Series) -> pd.Series:
    """The datetimes from 1900 to 2199 as datetime64[ns]; NaT elsewhere."""
    days = stamps.to_numpy().astype("datetime64[D]")
    inside = (days >= FIRST_DAY) & (days <= LAST_DAY) & ~np.isnat(days)
    return pd.Series(stamps.to_numpy().astype("datetime64[ns]"), index=stamps.index).where(inside)


def _dates_from_text(text: pd.Series, day_first: bool) -> pd.Series:
    """YYYY-MM-DD or the sheet's M/D/YYYY (or D/M/YYYY), with an optional time; else NaT.

    Every part is checked before a date is built: an impossible date (8/32/2026) or time (24:30,
    23:99, 13:00 PM) is unreadable, never rolled into the next day or month.
    """
    # One match per text, in Python (as pandas' .str.extract does, without its frames): a part is
    # ASCII digits, read exactly by float(), or NaN where it is missing or the text does not match.
    found = [_DATE_TEXT.search(one) for one in text.tolist()]
    number = {
        name: np.array([float(m[name]) if m and m[name] is not None else np.nan for m in found], dtype="float64")
        for name in _DATE_TEXT.groupindex
        if name != "ampm"
    }
    day_part, month_part = ("first", "second_part") if day_first else ("second_part", "first")
    slash = np.isnan(number["year"])  # and where neither form matched, every part is NaN
    for name, slash_name in (("year", "slash_year"), ("month", month_part), ("day", day_part)):
        number[name] = np.where(slash, number[slash_name], number[name])
    hour, minute, second = (np.nan_to_num(number[name]) for name in ("hour", "minute", "second"))
    ampm = np.array([m["ampm"].lower() if m and m["ampm"] is not None else None for m in found], dtype=object)
    is_pm, is_am = ampm == "pm", ampm == "am"
    twelve_hour = is_pm | is_am
    ok = (
        (number["year"] >= FIRST_DAY.astype(object).year)
        & (number["year"] <= LAST_DAY.astype(object).year)
        & (number["month"] >= 1)
        & (number["month"] <= 12)
        & (number["day"] >= 1)
        & np.where(twelve_hour, (hour >= 1) & (hour <= 12), hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )
    months = np.where(ok, (np.nan_to_num(number["year"]) - 1970) * 12 + np.nan_to_num(number["month"]) - 1, 0)
    first_of_month = months.astype("int64").astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = (months.astype("int64") + 1).astype("datetime64[M]").astype("datetime64[D]") - first_of_month
    day = np.nan_to_num(number["day"]).astype("int64")
    ok &= day <= days_in_month.astype("int64")
    hour = np.where(is_pm & (hour < 12), hour + 12, np.where(is_am & (hour == 12), 0, hour))
    seconds = (hour * 3600 + minute * 60 + second).astype("int64")
    stamps = (first_of_month + (day - 1).clip(0)).astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return pd.Series(stamps.astype("datetime64[ns]"), index=text.index).where(ok)


def _serial_dates(serial: pd.Series) -> np.ndarray:
    """Serial numbers (days since 1899-12-30, the time as a fraction) from 1900 to 2199; NaT elsewhere."""
    plausible = serial.between(
        float((FIRST_DAY - SHEETS_EPOCH.astype("datetime64[D]")).astype("int64")),
        float((LAST_DAY - SHEETS_EPOCH.astype("datetime64[D]")).astype("int64") + 1),
        inclusive="left",
    ).to_numpy()
    seconds = (serial[plausible] * 86400).round().astype("int64").to_numpy()
    stamps = np.full(len(serial), np.datetime64("NaT"), dtype="datetime64[ns]")
    stamps[plausible] = (SHEETS_EPOCH + seconds.astype("timedelta64[s]")).astype("datetime64[ns]")
    return stamps


def _to_datetimes(cells: pd.Series, types: np.ndarray, text: pd.Series, day_first: bool) -> pd.Series:
    readers: dict[str, Callable[[np.ndarray], object]] = {
        "date": lambda at: _in_range(_date_cells(cells[at])),
        "num": lambda at: _serial_dates(_floats(cells[at])),
        "str": lambda at: _dates_from_text(text[at], day_first),
    }
    return _by_kind(types, cells.index, readers, np.datetime64("NaT", "ns"), "datetime64[ns]")


def _to_numbers(cells: pd.Series, types: np.ndarray, text: pd.Series) -> pd.Series:
    """Numeric cells and numeric text as floats; NaN where blank or not a finite number."""
    readers: dict[str, Callable[[np.ndarray], object]] = {
        "num": lambda at: _floats(cells[at]),
        "str": lambda at: pd.to_numeric(text[at], errors="coerce").astype("float64"),
    }
    numbers = _by_kind(types, cells.index, readers, np.nan, "float64")
    return numbers.where(np.isfinite(numbers))


def _to_booleans(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(values, unreadable): blank is false; anything but the contract's words is unreadable."""
    lowered = text.str.lower()
    true = lowered.isin(TRUE_WORDS).fillna(False).astype(bool)
    false = (lowered.isin(FALSE_WORDS) | lowered.isna()).fillna(True).astype(bool)
    return true, ~(true | false)


def _no_problems(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def _shown(text: pd.Series) -> pd.Series:
    """Each cell's text in quotes, as a problem sentence names the cell."""
    return "'" + text.fillna("") + "'"


def _quoted(text: pd.Series, where: pd.Series, sentence: str) -> pd.Series:
    """The cell's text in quotes, then `sentence`, where `where` holds; NA elsewhere."""
    if not where.any():  # most columns read well: no string is built
        return _no_problems(text.index)
    return (_shown(text) + sentence).where(where)


def _date_problems(text: pd.Series, unreadable: pd.Series, types: np.ndarray, day_first: bool) -> pd.Series:
    """What is wrong with each unreadable date cell, and what to type instead."""
    if not unreadable.any():  # every problem below is of an unreadable cell
        return _no_problems(text.index)
    fmt, example = ("D/M/YYYY", "14/7/2026") if day_first else ("M/D/YYYY", "7/14/2026")
    write = f"write it as {fmt} (like {example}) or YYYY-MM-DD"
    problems = _no_problems(text.index)
    shown = _shown(text)
    problems[unreadable] = shown + f" is not a date: {write}"
    as_text = unreadable & (types == "str")
    short_year = as_text & text.str.fullmatch(_SHORT_YEAR).fillna(False).astype(bool)
    problems[short_year] = shown + f" has a two-digit year: write the year in full, like {example}"
    number_text = as_text & pd.to_numeric(text.where(as_text), errors="coerce").notna()
    problems[number_text] = shown + f" is a number written as text, not a date: {write}"
    with_time = as_text & ~short_year & ~number_text & text.str.contains(_HAS_TIME).fillna(False).astype(bool)
    problems[with_time] = shown + (
        " is not a date and time that exists (months 1-12, days of the month, hours 0:00-23:59): "
        f"{write}, with a time like 14:30 if needed"
    )
    out_of_range = unreadable & ((types == "num") | (types == "date"))
    problems[out_of_range] = shown + f" is not a date from 1900 to 2199: {write}"
    return problems


def _convert(
    column: Column, cells: pd.Series, types: np.ndarray, day_first: bool
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(typed values, text shown, problem sentence of each unreadable cell, NA elsewhere)."""
    text = _as_text(cells, types)
    blank = text.isna()
    readable = _no_problems(cells.index)
    if column.kind is Kind.ID:
        # An ID that is a formula's error value would join nothing, or stand for a person or program
        # that is not there (a Staff row '#REF!' would count as someone never coached).
        error = text.str.fullmatch(FORMULA_ERROR, case=False).fillna(False).astype(bool)
        problems = _quoted(text, error, " is a formula error, not an ID: fix the formula, or type the ID itself")
        return (text.mask(error) if error.any() else text), text, problems
    if column.kind in (Kind.TEXT, Kind.EMAIL):
        return text, text, readable
    if column.kind is Kind.ENUM:
        normalised = text.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")
        if column.aliases:
            normalised = normalised.replace(column.aliases)
        return normalised.astype("string"), text, readable
    if column.kind is Kind.QUARTER:
        quarter = text.str.upper().str.replace(r"\s+", "", regex=True)
        return quarter.astype("string"), text, readable
    if column.kind is Kind.BOOL:
        values, unreadable = _to_booleans(text)
        return (
            values,
            text,
            _quoted(text, unreadable, " is not a yes/no value: use TRUE or FALSE (yes/no, y/n, 1/0 and x also work)"),
        )
    if column.kind in (Kind.DATE, Kind.DATETIME):
        stamps = _to_datetimes(cells, types, text, day_first)
        if column.kind is Kind.DATE:
            stamps = stamps.dt.normalize()
        unreadable = stamps.isna() & ~blank
        # A serial number (the Sheets API's unformatted date) is shown as the date it stands for.
        serial = stamps.notna() & (types == "num")
        if serial.any():
            shown_format = "%Y-%m-%d" if column.kind is Kind.DATE else "%Y-%m-%d %H:%M:%S"
            text = text.mask(serial, stamps[serial].dt.strftime(shown_format))
        return stamps, text, _date_problems(text, unreadable, types, day_first)
    numbers = _to_numbers(cells, types, text)
    if column.kind is Kind.INTEGER:
        fraction = numbers.notna() & numbers.ne(numbers.round())
        numbers = numbers.mask(fraction)
        return (
            numbers,
            text,
            _quoted(text, numbers.isna() & ~blank, " is not a whole number: write it with digits only, like 4"),
        )
    return numbers, text, _quoted(text, numbers.isna() & ~blank, " is not a number: write digits only, like 45")


def _empty_value(column: Column) -> object:
    return {
        Kind.BOOL: False,
        Kind.DATE: pd.NaT,
        Kind.DATETIME: pd.NaT,
        Kind.NUMBER: np.nan,
        Kind.INTEGER: np.nan,
    }.get(column.kind, pd.NA)


def _typed_empty_column(column: Column, index: pd.Index) -> pd.Series:
    dtype = {
        Kind.BOOL: "bool",
        Kind.DATE: "datetime64[ns]",
        Kind.DATETIME: "datetime64[ns]",
        Kind.NUMBER: "float64",
        Kind.INTEGER: "float64",
    }.get(column.kind, "string")
    return pd.Series(_empty_value(column), index=index, dtype=dtype)


def _find_tab(raw: RawWorkbook, title: str) -> RawTab | None:
    if title in raw.tabs:
        return raw.tabs[title]
    wanted = title.strip().lower()
    return next((tab for name, tab in raw.tabs.items() if name.strip().lower() == wanted), None)


def _merged_header(raw_tab: RawTab, position: int) -> str:
    """Why a header cell is blank, when a merge in the header row hides it."""
    for merge in raw_tab.merges:
        if merge.first_row == 1 and merge.first_column <= position + 1 <= merge.last_column:
            cells = f"{column_letter(merge.first_column - 1)}1:{column_letter(merge.last_column - 1)}{merge.last_row}"
            return f" (header cells {cells} are merged: unmerge them)"
    return ""


def _wanted_headers(spec: Tab, mapping: Mapping[str, str]) -> dict[str, str]:
    """Normalised header -> contract column: a mapped column by its mapped header only, every other
    column by its own name."""
    return {normalise(mapping.get(column.name, column.name)): column.name for column in spec.columns}


def _header_map(raw_tab: RawTab, has_data: list[bool], wanted: Mapping[str, str]) -> dict[str, int]:
    """Contract column -> column position. A blank header over data, or a repeated header of a
    column that is read, stops the run; a repeated header of a column the contract does not read
    (Google Forms repeats question titles) changes nothing."""
    header = list(raw_tab.rows[0]) if raw_tab.rows else []
    positions: dict[str, int] = {}
    problems: list[str] = []
    for position in range(max(len(header), len(has_data))):
        label = header[position] if position < len(header) else None
        name = normalise(str(label)) if label is not None else ""
        letter = column_letter(position)
        if not name:
            if position < len(has_data) and has_data[position]:
                problems.append(f"column {letter} has data but no header in row 1" + _merged_header(raw_tab, position))
            continue
        if name not in wanted:
            continue
        column = wanted[name]
        if column in positions:
            first = column_letter(positions[column])
            problems.append(f"the header '{label}' in column {letter} repeats column {first}")
            continue
        positions[column] = position
    if problems:
        raise WorkbookError(f"Tab '{raw_tab.title}': " + "; ".join(problems) + ". Give every column one unique header.")
    return positions


TITLE_ROWS_LOOKED_AT = 5  # how far below row 1 the headers are looked for, when row 1 lacks them


def _headers_lower_down(spec: Tab, raw_tab: RawTab, wanted: Mapping[str, str]) -> None:
    """Stop, saying where the headers are, when row 1 lacks a required column but a row just below
    holds them all (a title row above the headers)."""
    needed = {normalise_name for normalise_name, column in wanted.items() if spec.column(column).in_header}

    def names(row: list[object]) -> set[str]:
        return {normalise(str(cell)) for cell in row if cell is not None}

    if not raw_tab.rows or needed <= names(raw_tab.rows[0]):
        return
    for number, row in enumerate(raw_tab.rows[1 : TITLE_ROWS_LOOKED_AT + 1], start=2):
        if needed <= names(row):
            raise WorkbookError(
                f"Tab '{raw_tab.title}': the headers seem to be in row {number}, not row 1. Delete the "
                f"row{'s' if number > 2 else ''} above them (a title can go in the tab's name), so that the "
                "headers are in row 1: every row is numbered and read from there."
            )


def _missing_columns_message(spec: Tab, raw_tab: RawTab, missing: list[Column], mapping: Mapping[str, str]) -> str:
    """The columns in the sheet's own words (a mapped column by its mapped header), with the headers
    found, and what to do."""
    found = ", ".join(repr(str(h).strip()) for h in raw_tab.rows[0] if h is not None and str(h).strip())
    names = ", ".join(
        repr(mapping[c.name]) + f" (columns.{spec.key}.{c.name} in the settings)"
        if c.name in mapping
        else repr(c.label)
        for c in missing
    )
    noun = "column" if len(missing) == 1 else "columns"
    return (
        f"Tab '{raw_tab.title}' has no {noun} {names} (headers found: {found or 'none'}). "
        f"Add the {noun} with {'that header' if len(missing) == 1 else 'those headers'} in row 1, or "
        "rename the column that holds it; every row is read by its header, and a missing column the "
        "scores depend on would count as blank."
    )


def _merge_issues(
    raw_tab: RawTab, positions: dict[str, int], headers: dict[str, str], text: pd.DataFrame
) -> list[DataIssue]:
    """An error on every data row a merge covers, when the merge hides values in a column that is read.

    Only the first cell of a merge holds the value; the others read as blank. Merges in the
    header row, or over columns the contract does not read, change nothing.
    """
    name_at = {positions[name] + 1: name for name in headers}  # the contract's columns only
    issues = []
    for merge in raw_tab.merges:
        first_row = max(merge.first_row, 2)
        read = [name_at[c] for c in range(merge.first_column, merge.last_column + 1) if c in name_at]
        hides_values = any(
            (row, column) != (merge.first_row, merge.first_column)
            for row in range(first_row, merge.last_row + 1)
            for column in range(merge.first_column, merge.last_column + 1)
            if column in name_at
        )
        if merge.last_row < 2 or not read or not hides_values:
            continue
        cells = (
            f"{column_letter(merge.first_column - 1)}{merge.first_row}:"
            f"{column_letter(merge.last_column - 1)}{merge.last_row}"
        )
        column = read[0]
        letter = column_letter(positions[column])
        for row in range(first_row, merge.last_row + 1):
            value = text.at[row, column] if row in text.index else ""
            issues.append(
                DataIssue(
                    raw_tab.title,
                    row,
                    headers[column],
                    str(value),
                    f"cells {cells} are merged: unmerge them and fill each row",
                    Severity.ERROR,
                    f"{letter}{row}",
                )
            )
    return issues


def _formula_problem(column: Column, formula: str, stored: object) -> tuple[str, Severity] | None:
    """What a formula in a cell of `column` means: a typed value must be typed, never calculated;
    free text reads the value the sheet stored, and a formula without one is said to be a formula
    (not a blank cell). None when the cell reads as its value."""
    severity = Severity.WARNING if column.unreadable_is_warning else Severity.ERROR
    if not column.free_text:
        now = f" (it shows '{stored}' now)" if stored else ""
        return (
            (
                f"'{formula}' is a formula{now}, and its result changes whenever the sheet recalculates: "
                "type the value itself in this cell"
            ),
            severity,
        )
    if stored:
        return None
    return (
        (
            f"'{formula}' is a formula with no value stored in the file (a program that does not calculate "
            "formulas saved it), so it reads as blank: open and save the file in Excel or Google Sheets, or "
            "type the value itself"
        ),
        Severity.ERROR if column.filled else Severity.WARNING,
    )


def parse_tab(
    spec: Tab, raw_tab: RawTab, day_first: bool = False, mapping: Mapping[str, str] | None = None
) -> tuple[ParsedTab, list[DataIssue]]:
    """One tab by the reading rules; stops (WorkbookError) on header problems or missing columns.

    `mapping` gives the sheet's header of contract columns named otherwise (column -> header).
    """
    mapping = mapping or {}
    wanted = _wanted_headers(spec, mapping)
    _headers_lower_down(spec, raw_tab, wanted)
    data_rows = raw_tab.rows[1:]
    width = max(map(len, raw_tab.rows), default=0)
    columns = [_sheet_column(cells) for cells in _grid(data_rows, width).T]
    blank = np.column_stack([c.blank() for c in columns]) if width else np.ones((len(data_rows), 0), dtype=bool)
    formulas: dict[int, dict[int, str]] = {}  # position -> {sheet row -> formula}
    for (sheet_row, column_number), formula in raw_tab.formulas.items():
        if 2 <= sheet_row <= len(data_rows) + 1 and 1 <= column_number <= width:
            formulas.setdefault(column_number - 1, {})[sheet_row] = formula
            blank[sheet_row - 2, column_number - 1] = False  # a formula is content, even with no value stored
    positions = _header_map(raw_tab, [not b.all() for b in blank.T], wanted)
    missing = [c for c in spec.columns if c.in_header and c.name not in positions]
    if missing:
        raise WorkbookError(_missing_columns_message(spec, raw_tab, missing, mapping))
    keep = np.asarray(~blank.all(axis=1)) if width else np.ones(len(data_rows), dtype=bool)
    index = pd.RangeIndex(2, len(data_rows) + 2, name="row")[keep]
    header = raw_tab.rows[0] if raw_tab.rows else []
    values: dict[str, pd.Series] = {}
    texts: dict[str, pd.Series | str] = {}
    issues: list[DataIssue] = []
    headers: dict[str, str] = {}
    letters: dict[str, str] = {}
    for column in spec.columns:
        if column.name not in positions:
            values[column.name] = _typed_empty_column(column, index)
            texts[column.name] = ""
            issues.append(
                DataIssue(
                    raw_tab.title,
                    None,
                    column.label,
                    "",
                    "this column is not in the tab, so every row counts it as blank",
                    Severity.WARNING,
                )
            )
            continue
        position = positions[column.name]
        sheet_column = columns[position]
        headers[column.name] = str(header[position]).strip()
        letters[column.name] = column_letter(position)
        typed, shown, problems = _convert(column, sheet_column.cells, sheet_column.types, day_first)
        value = sheet_column.spread(typed, keep, index)
        text = sheet_column.spread(shown.fillna(""), keep, index)
        problem = sheet_column.spread(problems, keep, index)
        severity: dict[int, Severity] = {}  # where a formula makes it other than the column's
        for sheet_row, formula in formulas.get(position, {}).items():
            said = _formula_problem(column, formula, text.at[sheet_row])
            if said is None:
                continue
            problem.at[sheet_row], severity[sheet_row] = said
            value.at[sheet_row] = _empty_value(column)  # type: ignore[assignment]  # the column's blank
            text.at[sheet_row] = formula
        values[column.name], texts[column.name] = value, text
        usual = Severity.WARNING if column.unreadable_is_warning else Severity.ERROR
        listed = problem.dropna()
        for row, sentence in zip(listed.index.astype(int).tolist(), listed.tolist()):
            issues.append(
                DataIssue(
                    raw_tab.title,
                    row,
                    headers[column.name],
                    str(text.at[row]),
                    str(sentence),
                    severity.get(row, usual),
                    f"{letters[column.name]}{row}",
                )
            )
    frame = pd.DataFrame(values, index=index)
    text_frame = pd.DataFrame(texts, index=index)
    frame["row"] = frame.index.astype("int64")
    issues += _merge_issues(raw_tab, positions, headers, text_frame)
    parsed = ParsedTab(spec, raw_tab.title, frame, text_frame, headers, letters, raw_tab.sheet_id)
    return parsed, issues


def empty_tab(spec: Tab, title: str) -> ParsedTab:
    index = pd.Index([], dtype="int64", name="row")
    frame = pd.DataFrame({c.name: _typed_empty_column(c, index) for c in spec.columns}, index=index)
    frame["row"] = frame.index.astype("int64")
    text = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in spec.columns}, index=index)
    return ParsedTab(spec, title, frame, text, {}, {})


def _is_empty(raw_tab: RawTab) -> bool:
    """Not even a header row: every cell blank."""
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for row in raw_tab.rows for cell in row)


def _look_alike(raw: RawWorkbook, spec: Tab, taken: set[str], mapping: Mapping[str, str]) -> str | None:
    """A tab of the workbook that is none of the contract's but looks like `spec`'s: Google Forms'
    responses tab for the survey, or a tab whose row 1 holds every column `spec` needs."""
    wanted = _wanted_headers(spec, mapping)
    needed = {name for name, column in wanted.items() if spec.column(column).in_header}
    for title, tab in raw.tabs.items():
        if title in taken:
            continue
        forms = spec is SATISFACTION and re.fullmatch(FORMS_RESPONSES, normalise(title)) is not None
        header = {normalise(str(cell)) for cell in (tab.rows[0] if tab.rows else []) if cell is not None}
        if forms or needed <= header:
            return title
    return None


def _absent_tab_note(raw: RawWorkbook, spec: Tab, title: str, taken: set[str], mapping: Mapping[str, str]) -> str:
    """What to do about a missing optional tab: use the tab that looks like it, when there is one."""
    alike = _look_alike(raw, spec, taken, mapping)
    if alike is None:
        return "add the tab, or check that its title is spelled as in the settings, if you keep these records"
    return (
        f"the tab '{alike}' looks like it: rename that tab '{title}', or set tabs.{spec.key} in the settings "
        f"(COACHING_TABS__{spec.key.upper()}) to '{alike}'"
    )


def parse_workbook(
    raw: RawWorkbook,
    titles: Mapping[str, str],
    date_format: str = "M/D/YYYY",
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> ParsedWorkbook:
    """Every contract tab, parsed; stops on what makes a report meaningless (a missing required tab
    or column, broken headers, a required tab without data), lists everything else as issues.

    `columns` maps, per tab key, contract columns to the headers the sheet gives them.
    """
    columns = columns or {}
    if raw.parsed is not None:
        options, done = raw.parsed
        if options != ReadingOptions(dict(titles), date_format, dict(columns)):  # its cells were left out
            raise ValueError(f"{raw.label} was parsed where it was read with other reading options: {options}")
        return done
    day_first = date_format.upper().startswith("D")
    tabs: dict[str, ParsedTab] = {}
    issues: list[DataIssue] = []
    absent: dict[str, str] = {}
    found = {spec.key: _find_tab(raw, titles.get(spec.key, spec.default_title)) for spec in TABS}
    taken = {tab.title for tab in found.values() if tab is not None}
    for spec in TABS:
        title = titles.get(spec.key, spec.default_title)
        raw_tab = found[spec.key]
        if raw_tab is None or (not spec.required and _is_empty(raw_tab)):
            if spec.required:
                listed = ", ".join(f"'{name}'" for name in raw.tabs) or "none"
                raise WorkbookError(f"The workbook {raw.label} has no tab '{title}' (tabs found: {listed}).")
            tabs[spec.key] = empty_tab(spec, title)
            where = "is not in the workbook" if raw_tab is None else "is empty (not even a header row)"
            todo = _absent_tab_note(raw, spec, title, taken, columns.get(spec.key, {}))
            issues.append(
                DataIssue(title, None, "", "", f"this tab {where}, so it counts as empty; {todo}", Severity.WARNING)
            )
            absent[spec.key] = f"The '{title}' tab {where}, so it counts as empty here; {todo}."
            continue
        if _is_empty(raw_tab):
            raise WorkbookError(
                f"Tab '{raw_tab.title}' is empty (not even a header row): no data to report on "
                "(is the export complete?)."
            )
        parsed, tab_issues = parse_tab(spec, raw_tab, day_first, columns.get(spec.key))
        if spec.required and parsed.frame.empty:
            raise WorkbookError(
                f"Tab '{raw_tab.title}' has no data rows: no data to report on (is the export complete?)."
            )
        tabs[spec.key] = parsed
        issues.extend(tab_issues)
    return ParsedWorkbook(tabs=tabs, issues=issues, label=raw.label, url=raw.url, absent=absent)


def parsed_where_read(raw: RawWorkbook, options: ReadingOptions) -> RawWorkbook:
    """`raw` with its parse instead of its cells (what a read ahead hands over: frames pickle ten
    times faster than rows of cells); parsing it with the same options gives that parse. A workbook
    that does not parse is returned as it is: the run's parse reports what stops it."""
    try:
        parsed = parse_workbook(raw, options.titles, options.date_format, options.columns)
    except WorkbookError:
        return raw
    return RawWorkbook(tabs={}, label=raw.label, url=raw.url, parsed=(options, parsed))
