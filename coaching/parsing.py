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
import operator
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coaching.contract import TABS, Column, Kind, Tab, normalise
from coaching.records import (
    DataIssue,
    ParsedTab,
    ParsedWorkbook,
    RawTab,
    RawWorkbook,
    Severity,
    WorkbookError,
)

TRUE_WORDS = ("true", "yes", "y", "1", "x")
FALSE_WORDS = ("false", "no", "n", "0")
SHEETS_EPOCH = pd.Timestamp("1899-12-30")
_TIME = r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp][Mm])?)?"
_ISO_DATE = r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})" + _TIME + r"$"
_SLASH_DATE = r"^(?P<first>\d{1,2})/(?P<second_part>\d{1,2})/(?P<year>\d{4})" + _TIME + r"$"
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


def _cell_types(cells: pd.Series) -> pd.Series:
    """A label per cell: 'blank', 'str', 'bool', 'num', 'date' or 'other'.

    Labelled by Python type (a handful per column); then a NaN float or a string of spaces is blank.
    """
    codes, kinds = pd.factorize(_TYPE_OF(cells.to_numpy(dtype=object)))
    labels = pd.Series(np.array([_type_label(k) for k in kinds], dtype=object)[codes], index=cells.index)
    floats = cells[np.array([issubclass(k, float) for k in kinds], dtype=bool)[codes]].astype("float64")
    labels[floats.index[floats.isna()]] = "blank"
    strings = cells[labels.eq("str")].str.strip()
    labels[strings.index[strings.eq("")]] = "blank"
    return labels


@dataclass(frozen=True)
class _SheetColumn:
    """A sheet column with each distinct cell once: the column is `cells.iloc[codes]`."""

    codes: np.ndarray  # per data row, the position of its cell in `cells`
    cells: pd.Series  # the distinct cells, as delivered
    types: pd.Series  # their labels (see _cell_types)

    def blank(self) -> np.ndarray:
        return self.types.eq("blank").to_numpy()[self.codes]

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
    distinct = pd.Series(cells[first], dtype=object)
    return _SheetColumn(codes, distinct, _cell_types(distinct))


def _grid(rows: list[list[object]], width: int) -> np.ndarray:
    """The rows as one object array, padded with None; the rows of each length are copied together."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    grid = np.full((len(rows), width), None, dtype=object)
    for length in np.unique(lengths[lengths > 0]).tolist():
        at = np.flatnonzero(lengths == length)
        same = operator.itemgetter(*at.tolist())(rows) if len(at) > 1 else [rows[at[0]]]
        grid[at, :length] = np.array(same, dtype=object).reshape(len(at), length)
    return grid


def _as_text(cells: pd.Series, types: pd.Series) -> pd.Series:
    """The text of each cell as the sheet shows it: trimmed; whole numbers without '.0'."""
    text = pd.Series(pd.NA, index=cells.index, dtype="string")
    is_str = types.eq("str")
    text[is_str] = cells[is_str].astype("string").str.strip()
    is_num = types.eq("num")
    if is_num.any():
        numbers = cells[is_num].astype("float64")
        whole = numbers.eq(numbers.round()) & numbers.abs().lt(1e15)
        text[is_num & whole.reindex(cells.index, fill_value=False)] = (
            numbers[whole].astype("int64").astype("string")
        )
        text[is_num & ~whole.reindex(cells.index, fill_value=True)] = numbers[~whole].astype("string")
    is_bool = types.eq("bool")
    text[is_bool] = cells[is_bool].map({True: "TRUE", False: "FALSE"}).astype("string")
    is_date = types.eq("date")
    if is_date.any():
        stamps = pd.to_datetime(cells[is_date].map(pd.Timestamp))
        has_time = stamps.ne(stamps.dt.normalize())
        text[is_date] = stamps.dt.strftime("%Y-%m-%d").where(
            ~has_time, stamps.dt.strftime("%Y-%m-%d %H:%M:%S")
        )
    is_other = types.eq("other")
    text[is_other] = cells[is_other].astype(str).astype("string").str.strip()
    return text


def _dates_from_text(text: pd.Series, day_first: bool) -> pd.Series:
    """YYYY-MM-DD or the sheet's M/D/YYYY (or D/M/YYYY), with an optional time; else NaT."""
    iso = text.str.extract(_ISO_DATE)
    slash = text.str.extract(_SLASH_DATE)
    day_col, month_col = ("first", "second_part") if day_first else ("second_part", "first")
    slash = slash.rename(columns={day_col: "day", month_col: "month"})
    parts = iso.combine_first(slash[["year", "month", "day", "hour", "minute", "second", "ampm"]])
    numbers = parts[["year", "month", "day", "hour", "minute", "second"]].apply(
        pd.to_numeric, errors="coerce"
    )
    numbers[["hour", "minute", "second"]] = numbers[["hour", "minute", "second"]].fillna(0)
    ampm = parts["ampm"].str.lower()
    bad_hour = ampm.notna() & ~numbers["hour"].between(1, 12)
    numbers.loc[ampm.eq("pm") & numbers["hour"].lt(12), "hour"] += 12
    numbers.loc[ampm.eq("am") & numbers["hour"].eq(12), "hour"] = 0
    stamps = pd.to_datetime(numbers, errors="coerce")
    return stamps.mask(bad_hour)


def _to_datetimes(
    cells: pd.Series, types: pd.Series, text: pd.Series, day_first: bool
) -> pd.Series:
    stamps = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    is_date = types.eq("date")
    if is_date.any():
        stamps[is_date] = pd.to_datetime(cells[is_date].map(pd.Timestamp))
    is_num = types.eq("num")
    if is_num.any():
        serial = cells[is_num].astype("float64")
        plausible = serial.between(1, 2958465)  # 1899-12-31 … 9999-12-31
        stamps[is_num & plausible.reindex(cells.index, fill_value=False)] = (
            SHEETS_EPOCH + pd.to_timedelta(serial[plausible], unit="D")
        ).dt.round("s")
    is_str = types.eq("str")
    if is_str.any():
        stamps[is_str] = _dates_from_text(text[is_str], day_first)
    return stamps


def _to_numbers(cells: pd.Series, types: pd.Series, text: pd.Series) -> pd.Series:
    numbers = pd.Series(np.nan, index=cells.index, dtype="float64")
    is_num = types.eq("num")
    numbers[is_num] = cells[is_num].astype("float64")
    is_str = types.eq("str")
    numbers[is_str] = pd.to_numeric(text[is_str], errors="coerce").astype("float64")
    return numbers


def _to_booleans(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(values, unreadable): blank is false; anything but the contract's words is unreadable."""
    lowered = text.str.lower()
    true = lowered.isin(TRUE_WORDS).fillna(False).astype(bool)
    false = (lowered.isin(FALSE_WORDS) | lowered.isna()).fillna(True).astype(bool)
    return true, ~(true | false)


def _convert(
    column: Column, cells: pd.Series, types: pd.Series, day_first: bool
) -> tuple[pd.Series, pd.Series, pd.Series, str]:
    """(typed values, text shown, unreadable mask, problem sentence for an unreadable cell)."""
    text = _as_text(cells, types)
    blank = text.isna()
    if column.kind in (Kind.ID, Kind.TEXT):
        return text, text, pd.Series(False, index=cells.index), ""
    if column.kind is Kind.ENUM:
        normalised = (
            text.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")
        )
        if column.aliases:
            normalised = normalised.replace(column.aliases)
        return normalised.astype("string"), text, pd.Series(False, index=cells.index), ""
    if column.kind is Kind.QUARTER:
        quarter = text.str.upper().str.replace(r"\s+", "", regex=True)
        return quarter.astype("string"), text, pd.Series(False, index=cells.index), ""
    if column.kind is Kind.BOOL:
        values, unreadable = _to_booleans(text)
        return values, text, unreadable, "is not a yes/no value: use TRUE or FALSE (yes/no, y/n, 1/0 and x also work)"
    if column.kind in (Kind.DATE, Kind.DATETIME):
        stamps = _to_datetimes(cells, types, text, day_first)
        if column.kind is Kind.DATE:
            stamps = stamps.dt.normalize()
        unreadable = stamps.isna() & ~blank
        # A serial number (the Sheets API's unformatted date) is shown as the date it stands for.
        serial = types.eq("num") & stamps.notna()
        if serial.any():
            shown_format = "%Y-%m-%d" if column.kind is Kind.DATE else "%Y-%m-%d %H:%M:%S"
            text = text.mask(serial, stamps[serial].dt.strftime(shown_format))
        example = "14/7/2026" if day_first else "7/14/2026"
        fmt = "D/M/YYYY" if day_first else "M/D/YYYY"
        return stamps, text, unreadable, f"is not a date: write it as {fmt} (like {example}) or YYYY-MM-DD"
    numbers = _to_numbers(cells, types, text)
    if column.kind is Kind.INTEGER:
        fraction = numbers.notna() & numbers.ne(numbers.round())
        numbers = numbers.mask(fraction)
        return numbers, text, numbers.isna() & ~blank, "is not a whole number"
    return numbers, text, numbers.isna() & ~blank, "is not a number"


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


def _header_map(raw_tab: RawTab, has_data: list[bool]) -> dict[str, int]:
    """Normalised header → column position; blank or repeated header cells stop the run."""
    header = list(raw_tab.rows[0]) if raw_tab.rows else []
    positions: dict[str, int] = {}
    problems: list[str] = []
    for position in range(max(len(header), len(has_data))):
        label = header[position] if position < len(header) else None
        name = normalise(label) if label is not None else ""
        letter = column_letter(position)
        if not name:
            if position < len(has_data) and has_data[position]:
                problems.append(f"column {letter} has data but no header in row 1")
            continue
        if name in positions:
            first = column_letter(positions[name])
            problems.append(f"the header '{label}' in column {letter} repeats column {first}")
            continue
        positions[name] = position
    if problems:
        raise WorkbookError(
            f"Tab '{raw_tab.title}': " + "; ".join(problems) + ". Give every column one unique header."
        )
    return positions


def parse_tab(spec: Tab, raw_tab: RawTab, day_first: bool = False) -> tuple[ParsedTab, list[DataIssue]]:
    """One tab by the reading rules; stops (WorkbookError) on header problems or missing columns."""
    data_rows = raw_tab.rows[1:]
    width = max(map(len, raw_tab.rows), default=0)
    columns = [_sheet_column(cells) for cells in _grid(data_rows, width).T]
    blank = np.column_stack([c.blank() for c in columns]) if width else np.ones((len(data_rows), 0), dtype=bool)
    positions = _header_map(raw_tab, [not b.all() for b in blank.T])
    missing = [c.name for c in spec.columns if c.in_header and c.name not in positions]
    if missing:
        found = ", ".join(repr(str(h)) for h in raw_tab.rows[0] if h is not None) if raw_tab.rows else ""
        raise WorkbookError(
            f"Tab '{raw_tab.title}' has no column {', '.join(repr(m) for m in missing)} "
            f"(headers found: {found or 'none'})."
        )
    keep = ~blank.all(axis=1) if width else np.ones(len(data_rows), dtype=bool)
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
                DataIssue(raw_tab.title, None, column.name, "", "this column is not in the tab, so "
                          "every row counts it as blank", Severity.WARNING)
            )
            continue
        position = positions[column.name]
        sheet_column = columns[position]
        headers[column.name] = str(header[position]).strip()
        letters[column.name] = column_letter(position)
        typed, shown, unreadable, problem = _convert(column, sheet_column.cells, sheet_column.types, day_first)
        values[column.name] = sheet_column.spread(typed, keep, index)
        texts[column.name] = sheet_column.spread(shown.fillna(""), keep, index)
        unreadable_rows = sheet_column.spread(unreadable, keep, index)
        for row, cell in texts[column.name][unreadable_rows].items():
            issues.append(
                DataIssue(
                    raw_tab.title, int(row), headers[column.name], str(cell),
                    f"'{cell}' {problem}", Severity.ERROR, f"{letters[column.name]}{row}",
                )
            )
    frame = pd.DataFrame(values, index=index)
    text = pd.DataFrame(texts, index=index)
    frame["row"] = frame.index.astype("int64")
    parsed = ParsedTab(spec, raw_tab.title, frame, text, headers, letters, raw_tab.sheet_id)
    return parsed, issues


def empty_tab(spec: Tab, title: str) -> ParsedTab:
    index = pd.Index([], dtype="int64", name="row")
    frame = pd.DataFrame({c.name: _typed_empty_column(c, index) for c in spec.columns}, index=index)
    frame["row"] = frame.index.astype("int64")
    text = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in spec.columns}, index=index)
    return ParsedTab(spec, title, frame, text, {}, {})


def parse_workbook(
    raw: RawWorkbook, titles: Mapping[str, str], date_format: str = "M/D/YYYY"
) -> ParsedWorkbook:
    """Every contract tab, parsed; stops on what makes a report meaningless (a missing required tab
    or column, broken headers, a required tab without data), lists everything else as issues."""
    day_first = date_format.upper().startswith("D")
    tabs: dict[str, ParsedTab] = {}
    issues: list[DataIssue] = []
    for spec in TABS:
        title = titles.get(spec.key, spec.default_title)
        raw_tab = _find_tab(raw, title)
        if raw_tab is None:
            if spec.required:
                found = ", ".join(f"'{name}'" for name in raw.tabs) or "none"
                raise WorkbookError(
                    f"The workbook {raw.label} has no tab '{title}' (tabs found: {found})."
                )
            tabs[spec.key] = empty_tab(spec, title)
            issues.append(
                DataIssue(title, None, "", "", "this tab is not in the workbook, so it counts as empty",
                          Severity.WARNING)
            )
            continue
        parsed, tab_issues = parse_tab(spec, raw_tab, day_first)
        if spec.required and parsed.frame.empty:
            raise WorkbookError(
                f"Tab '{raw_tab.title}' has no data rows: no data to report on "
                "(is the export complete?)."
            )
        tabs[spec.key] = parsed
        issues.extend(tab_issues)
    return ParsedWorkbook(tabs=tabs, issues=issues, label=raw.label, url=raw.url)
