"""Data-quality lines that need the whole workbook: links to cells, and the export-volume check."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from coaching.records import DataIssue, ParsedWorkbook, WorkbookError


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
    session_dates: pd.Series, first: pd.Timestamp, last: pd.Timestamp, period: str, log_title: str
) -> None:
    """A period without a single valid coaching-log row is a missing export, not a period nobody
    coached: stop, instead of reporting zeros."""
    if session_dates.between(first, last).any():
        return
    latest = session_dates.max()
    hint = f" (the latest valid session is dated {latest:%Y-%m-%d})" if pd.notna(latest) else ""
    raise WorkbookError(
        f"Tab '{log_title}' has no valid rows dated in {period}{hint}: no data to report on. "
        "Choose another period, or check that the sessions were entered and exported."
    )
