"""What the data stewards are told: the open errors and warnings, grouped by tab, each with its fix;
rows in error that other rows wait on come first, once, with the rows that wait on them.

The notice holds nothing that changes from one day to the next by itself (no run date), so an
unchanged workbook gives an identical notice, and the delivery ledger can tell that nothing changed
since the last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from coaching.contract import TABS
from coaching.records import CheckedRecords, DataIssue, Severity


@dataclass(frozen=True)
class NoticeLine:
    row: int | None  # sheet row; None for a note about the whole tab
    cell: str  # "E45", or "" for a tab-level note
    column: str
    value: str
    problem: str
    fix: str
    severity: Severity
    link: str  # opens the cell (Google Sheets), or ""


@dataclass(frozen=True)
class TabSummary:
    title: str
    rows_read: int
    rows_quarantined: int
    errors: int
    warnings: int
    lines: tuple[NoticeLine, ...]


@dataclass(frozen=True)
class Cause:
    """A row in error that rows on other tabs refer to (a coach whose Staff row has an error): fixing
    it fixes them, so it is said once, first, instead of once per waiting row."""

    title: str  # the tab of the row
    row: int
    lines: tuple[NoticeLine, ...]  # what is wrong with the row itself
    waiting: tuple[tuple[str, tuple[int, ...]], ...]  # (tab title, sheet rows) that wait on it

    @property
    def waiting_rows(self) -> int:
        return sum(len(rows) for _, rows in self.waiting)


@dataclass(frozen=True)
class DataQualityNotice:
    organisation: str
    source_label: str
    tabs: tuple[TabSummary, ...]  # every tab of the contract, in contract order, then any other
    blocking: tuple[str, ...]  # why the leadership report is (or would be) held back
    held_back: str | None  # the quarter whose report this notice replaces, if any
    causes: tuple[Cause, ...] = ()  # rows to fix first; their lines and the waiting rows' are not in `tabs`

    @property
    def errors(self) -> int:
        return sum(tab.errors for tab in self.tabs)

    @property
    def warnings(self) -> int:
        return sum(tab.warnings for tab in self.tabs)

    @property
    def has_issues(self) -> bool:
        return bool(self.errors or self.warnings)


def build_notice(
    checked: CheckedRecords,
    titles: Mapping[str, str],
    *,
    organisation: str,
    source_label: str,
    held_back: str | None = None,
) -> DataQualityNotice:
    """The notice for these checked records; `titles` are the configured tab titles by contract key."""
    causes = _causes(checked.issues)
    said_once = {id(line) for cause in causes.values() for line in cause[0]} | {
        id(issue) for issue in checked.issues if issue.cause in causes
    }
    by_title: dict[str, list[DataIssue]] = {}
    for issue in checked.issues:
        by_title.setdefault(_same_title(issue.tab, titles.values()), []).append(issue)
    tabs = []
    for spec in TABS:
        title = titles.get(spec.key, spec.default_title)
        tabs.append(
            _summary(
                title,
                by_title.pop(title, []),
                checked.rows_read.get(spec.key, 0),
                checked.rows_quarantined.get(spec.key, 0),
                said_once,
            )
        )
    tabs += [_summary(title, issues, 0, 0, said_once) for title, issues in by_title.items()]
    return DataQualityNotice(
        organisation,
        source_label,
        tuple(tabs),
        tuple(checked.blocking),
        held_back,
        tuple(
            Cause(
                title,
                row,
                tuple(_line(issue) for issue in own),
                tuple((tab, tuple(rows)) for tab, rows in waiting.items()),
            )
            for (title, row), (own, waiting) in causes.items()
        ),
    )


def _causes(issues: list[DataIssue]) -> dict[tuple[str, int], tuple[list[DataIssue], dict[str, list[int]]]]:
    """Each row in error that other rows point at (in sheet order): its own issues, and the rows
    waiting on it by tab."""
    waiting: dict[tuple[str, int], dict[str, list[int]]] = {}
    for issue in issues:
        if issue.cause is not None and issue.row is not None:
            rows = waiting.setdefault(issue.cause, {}).setdefault(issue.tab, [])
            if issue.row not in rows:
                rows.append(issue.row)
    own: dict[tuple[str, int], list[DataIssue]] = {}
    for issue in issues:  # in sheet order: the causes come out in the order of their tabs and rows
        if issue.row is not None and (issue.tab, issue.row) in waiting:
            own.setdefault((issue.tab, issue.row), []).append(issue)
    return {cause: (lines, waiting[cause]) for cause, lines in own.items()}


def problem_and_fix(issue: DataIssue) -> tuple[str, str]:
    """The issue's sentence as (what is wrong, what to do), both starting with a capital.

    The checks word each problem as "what is wrong; what to do" (the parser: "… is not a date:
    write it as …"); the split is looked for after the cell's value, which may itself hold a ";".
    Sentences without a fix of their own get one by what they are about.
    """
    sentence = issue.problem
    start = sentence.find(issue.value) + len(issue.value) if issue.value and issue.value in sentence else 0
    for separator in ("; ", ": "):
        at = sentence.find(separator, start)
        if at >= 0:
            fix = sentence[at + len(separator) :]
            if fix.startswith("it "):  # "…; it is ignored until it is corrected": a consequence
                break
            return _capital(sentence[:at]), _capital(fix)
    return _capital(sentence), _default_fix(issue)


def _default_fix(issue: DataIssue) -> str:
    if issue.row is None and issue.column:
        return f"Add a column headed '{issue.column}' in row 1 if you keep this information"
    if issue.row is None:
        return "Add the tab, or check that its title is spelled as in the settings, if you keep these records"
    if issue.severity is Severity.ERROR:
        return "Correct the cell; until then the whole row is left out of the figures"
    return "Correct the cell"


def _capital(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def _same_title(title: str, configured: Iterable[str]) -> str:
    """The configured title for a tab the workbook spells in another case or spacing."""
    wanted = title.strip().lower()
    return next((t for t in configured if t.strip().lower() == wanted), title)


def _line(issue: DataIssue) -> NoticeLine:
    problem, fix = problem_and_fix(issue)
    return NoticeLine(issue.row, issue.cell, issue.column, str(issue.value), problem, fix, issue.severity, issue.link)


def _summary(
    title: str, issues: list[DataIssue], rows_read: int, rows_quarantined: int, said_elsewhere: set[int]
) -> TabSummary:
    """The tab's counts (every issue) and its lines (those not said under a cause)."""
    lines = tuple(_line(issue) for issue in issues if id(issue) not in said_elsewhere)
    errors = sum(issue.severity is Severity.ERROR for issue in issues)
    return TabSummary(title, rows_read, rows_quarantined, errors, len(issues) - errors, lines)
