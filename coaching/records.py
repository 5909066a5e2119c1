"""The values that travel between the steps of the pipeline, as plain dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import pandas as pd

from coaching.contract import TABS_BY_KEY, Tab


class CellRange(NamedTuple):
    """A block of cells in sheet coordinates, 1-based and inclusive: rows as numbered in the sheet
    (header = 1), columns counted from A = 1."""

    first_row: int
    last_row: int
    first_column: int
    last_column: int


@dataclass(frozen=True)
class RawTab:
    """One tab as a source delivers it: cells typed or as text, exactly as read.

    `rows[0]` is the header (sheet row 1); `rows[i]` is sheet row i + 1. A blank row in the middle
    may be `[]`; trailing blank cells may be missing.
    """

    title: str
    rows: list[list[object]]
    sheet_id: int | None = None  # Google Sheets' gid, for links to a cell
    merges: tuple[CellRange, ...] = ()  # merged cells: only the first cell of each holds a value
    # Cells that hold a formula: (sheet row, column number from A = 1) -> the formula's text as typed
    # ("=TODAY()"). `rows` keeps the value the sheet last computed for it (None when none is stored),
    # so the parser can refuse a formula where the contract wants a typed value.
    formulas: Mapping[tuple[int, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadingOptions:
    """How a workbook is parsed: each contract tab's title by key, the order of day and month in
    dates typed as text ("M/D/YYYY" or "D/M/YYYY"), and per tab key the sheet's own headers of
    contract columns named otherwise."""

    titles: Mapping[str, str]
    date_format: str = "M/D/YYYY"
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RawWorkbook:
    """Every tab a source found, by title; `url` is set when cells can be linked to."""

    tabs: dict[str, RawTab]
    label: str  # for people: "sample_workbook.xlsx", "Google Sheet 1AbC…"
    url: str | None = None
    # Already parsed where it was read, with these options (parsing.parsed_where_read): its tabs are
    # then left out, so that a read ahead hands over frames instead of millions of cells.
    parsed: tuple[ReadingOptions, ParsedWorkbook] | None = None


class Severity(str, Enum):
    ERROR = "error"  # the row is quarantined
    WARNING = "warning"  # the row is kept, the value treated as blank


@dataclass(frozen=True)
class DataIssue:
    """One line of `data_quality.csv`: which cell, what is wrong, in plain words."""

    tab: str  # the tab's title as in the workbook
    row: int | None  # sheet row number (header = 1); None for a tab-level note
    column: str  # the column's header as in the workbook
    value: str
    problem: str
    severity: Severity
    cell: str = ""  # A1 reference, e.g. "C14"
    link: str = ""  # opens the cell, when the source can link to it
    # A warning that only points at a doubt (a person who may be entered twice): the value is kept.
    keeps_value: bool = False
    # The row in error this issue follows from (tab title, sheet row): fixing that row fixes this one.
    cause: tuple[str, int] | None = None


class PipelineError(Exception):
    """A problem a person fixes (a bad parameter, a broken workbook, a refused key).

    Its message is the whole story, in one line: it is shown without a traceback.
    """


class WorkbookError(PipelineError):
    """The workbook cannot be read as the contract says; the message names tab and column."""


class UsageError(PipelineError):
    """A parameter of the run is wrong (a quarter like 2026-Q5, an unknown program)."""


@dataclass
class ParsedTab:
    """A tab read by the contract: typed values, and the text of each cell for messages.

    Both frames are indexed by sheet row number. Cells that failed to parse are missing (NA) in
    `frame`; the matching error is in the workbook's issue list.
    """

    spec: Tab
    title: str
    frame: pd.DataFrame
    text: pd.DataFrame
    headers: dict[str, str]  # column name -> header text as in the sheet
    letters: dict[str, str]  # column name -> column letter ("C")
    sheet_id: int | None = None


@dataclass
class ParsedWorkbook:
    tabs: dict[str, ParsedTab]  # by contract key, every tab; an optional tab not found is empty
    issues: list[DataIssue]
    label: str
    url: str | None = None
    # Optional tabs that are missing or empty, by contract key: one sentence for beside the score the
    # tab feeds, naming a look-alike tab and the setting to use when there is one.
    absent: dict[str, str] = field(default_factory=dict)


@dataclass
class CheckedRecords:
    """The outcome of validation: the rows every metric may use, and what was wrong."""

    valid: dict[str, pd.DataFrame]  # by contract key, every tab; same columns and index as parsed
    issues: list[DataIssue]
    rows_read: dict[str, int]  # by contract key
    rows_quarantined: dict[str, int]  # by contract key
    blocking: list[str] = field(default_factory=list)  # why the leadership report must not go
    titles: dict[str, str] = field(default_factory=dict)  # contract key -> the tab's title in the workbook
    absent: dict[str, str] = field(default_factory=dict)  # see ParsedWorkbook.absent

    def score_notes(self) -> dict[int, tuple[str, ...]]:
        """By best practice: why its score may be lower than the records warrant (a missing optional
        tab that feeds it), to be said where the score is shown."""
        notes: dict[int, tuple[str, ...]] = {}
        for key, note in self.absent.items():
            practice = TABS_BY_KEY[key].feeds
            if practice is not None:
                notes[practice] = (*notes.get(practice, ()), note)
        return notes

    def title(self, key: str) -> str:
        """The tab's title as ops staff see it ("Coaching Log"), never the internal key."""
        return self.titles.get(key) or TABS_BY_KEY[key].default_title

    @property
    def blocked(self) -> bool:
        return bool(self.blocking)
