"""Where the records come from. Every source returns the raw cells of every tab it finds."""

from __future__ import annotations

import zipfile
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from coaching.records import RawTab, RawWorkbook, WorkbookError


class RecordSource(Protocol):
    """A workbook of coaching records: the `.xlsx` export or the live Google spreadsheet."""

    def read(self) -> RawWorkbook:
        """All tabs with their cells, typed where the source knows the type, else as text."""
        ...


@runtime_checkable
class ProposalWriter(Protocol):
    """A source that can take the pipeline's proposals back (the live spreadsheet, not an export)."""

    def append_proposals(self, tab_title: str, proposals: Sequence[Mapping[str, object]]) -> int:
        """Append the proposals not already in the tab; return how many were added."""
        ...


def check_readable_workbook(path: Path) -> None:
    """Refuse at once what cannot be an `.xlsx` workbook, before a run starts (no openpyxl needed)."""
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"workbook not found: {path}")
    if path.is_dir():
        raise WorkbookError(f"{path} is a folder: give the path of the .xlsx workbook in it")
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path.name} is not an .xlsx workbook: export the records as .xlsx")
    if not zipfile.is_zipfile(path):
        raise WorkbookError(f"cannot read {path.name} as an .xlsx workbook: it is not a zip archive")


class XlsxSource:
    """An `.xlsx` export of the workbook (the embedded default)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> RawWorkbook:
        # Imported here so that a Sheets-only deployment never needs to load openpyxl.
        import openpyxl

        check_readable_workbook(self.path)
        try:
            # data_only: a formula cell gives its last computed value, never the formula text.
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            raise WorkbookError(f"cannot read {self.path.name} as an .xlsx workbook: {exc}") from exc
        try:
            tabs = {}
            for sheet in book.worksheets:
                # Exporters sometimes record wrong dimensions; read every row from row 1.
                sheet.reset_dimensions()
                rows = [list(values) for values in sheet.iter_rows(min_row=1, values_only=True)]
                tabs[sheet.title] = RawTab(title=sheet.title, rows=rows)
        finally:
            book.close()
        return RawWorkbook(tabs=tabs, label=self.path.name)
