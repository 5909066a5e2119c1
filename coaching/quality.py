"""Data-quality lines that need the whole workbook: links to cells, what blocks a quarter's report,
and the check that a period has data at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import pandas as pd

from coaching.contract import QUARTER_PATTERN
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, DataIssue, ParsedWorkbook, WorkbookError

# The column that places a row in a quarter, for the tabs whose rows belong to one; the other tabs
# (Programs, Staff, Coaching Plan) are used whole by every quarter.
DATED_BY = {"coaching_log": "session_date", "fidelity": "assessment_date", "satisfaction": "timestamp"}


def cell_link(url: str, sheet_id: int, a1: str) -> str:
    """A link that opens the spreadsheet at one cell (Google Sheets' `#gid=…&range=…`)."""
    return f"{url}#gid={sheet_id}&range={a1}"


def with_cell_links(issues: list[DataIssue], parsed: ParsedWorkbook) -> list[DataIssue]:
    """Give every issue that names a cell a link to it, when the source can be linked to."""
    if not parsed.url:
        return issues
    sheet_ids = {tab.title: tab.sheet_id for tab in parsed.tabs.values() if tab.sheet_id is not None}
    return [
        replace(issue, link=cell_link(parsed.url, sheet_ids[issue.tab], issue.cell))
        if issue.cell and issue.tab in sheet_ids
        else issue
        for issue in issues
    ]


def require_sessions_between(
    session_dates: pd.Series,
    first: pd.Timestamp,
    last: pd.Timestamp,
    period: str,
    log_title: str,
    option: str,
    period_of: Callable[[pd.Timestamp], str],
) -> None:
    """A period without a single valid coaching-log row is a missing export, not a period nobody
    coached: stop, instead of reporting zeros, naming the option that chooses the period (`option`:
    "month", "quarter") and, by `period_of`, the period of the latest session as an example."""
    if session_dates.between(first, last).any():
        return
    latest = session_dates.max()
    hint = f" (the latest valid session is dated {latest:%Y-%m-%d})" if pd.notna(latest) else ""
    example = f", for example --{option} {period_of(latest)}" if pd.notna(latest) else ""
    raise WorkbookError(
        f"Tab '{log_title}' has no valid rows dated in {period}{hint}: no data to report on. "
        f"Choose another {option} with --{option} (in the Prefect UI: the run's parameter {option}){example}, "
        "or check that the sessions were entered and exported."
    )


def rows_the_quarter_uses(key: str, frame: pd.DataFrame, quarter: Quarter) -> pd.Series:
    """Which rows of a tab the quarter's report uses, as a mask (data-contract.md, "the 10 % limit"):
    a dated row when dated in the quarter, an improvement action when decided for the previous
    quarter; a row whose date or quarter cannot be read counts too (it might belong there)."""
    if key in DATED_BY:
        dates = frame[DATED_BY[key]]
        return quarter.contains(dates) | dates.isna()
    if key == "improvement_actions":
        labels = frame["quarter"]
        readable = labels.str.match(QUARTER_PATTERN).fillna(False).astype(bool)
        return labels.eq(quarter.previous.label).fillna(False).astype(bool) | ~readable
    return pd.Series(True, index=frame.index)


def _scope(key: str, quarter: Quarter) -> str:
    if key in DATED_BY:
        return f"rows for {quarter.label}"
    if key == "improvement_actions":
        return f"actions for {quarter.previous.label}"
    return "rows"


def blocking_reasons(
    parsed: ParsedWorkbook, checked: CheckedRecords, quarter: Quarter, max_error_share: float
) -> list[str]:
    """One sentence per tab whose rows for the quarter have more than `max_error_share` errors.

    Measured on the quarter's rows, not the tab's whole history: a share of everything ever entered
    would shrink as the workbook grows, until no quarter could be blocked. A quarter whose log rows
    are all errors is the worst case, said as such.
    """
    reasons = []
    limit = Fraction(str(max_error_share))
    for key, tab in parsed.tabs.items():
        used = rows_the_quarter_uses(key, tab.frame, quarter)
        rows = int(used.sum())
        errors = int((used & ~tab.frame.index.isin(checked.valid[key].index)).sum())
        if not rows or Fraction(errors, rows) <= limit:
            continue
        scope = _scope(key, quarter)
        if errors == rows and key == "coaching_log":
            reasons.append(
                f"{tab.title}: all {rows} {scope} have errors, so nothing is left to score; "
                "fix the rows listed and run again"
            )
            continue
        reasons.append(
            f"{tab.title}: {errors} of {rows} {scope} ({100 * errors / rows:.1f} %) have errors, "
            f"above the {100 * max_error_share:g} % limit"
        )
    return reasons
