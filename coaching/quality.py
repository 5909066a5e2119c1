"""Data-quality lines that need the whole workbook: links to cells, and the export-volume check."""

from __future__ import annotations

from dataclasses import replace

from coaching.records import DataIssue, ParsedWorkbook


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
