"""Where the records come from. Every source returns the raw cells of every tab it finds."""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable
from xml.etree import ElementTree

from coaching.records import CellRange, RawTab, RawWorkbook, UsageError, WorkbookError

# An encrypted (password-protected) .xlsx is not a zip but an OLE2 compound file holding the
# encrypted package: it starts with these eight bytes.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?\"")
# What reading a damaged package raises (ElementTree's ParseError is a SyntaxError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, TypeError, SyntaxError)
_RELATIONSHIP_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


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
    """Stop with one sentence when `path` cannot be an `.xlsx` workbook at all.

    Cheap (a look at the path and the first bytes, no openpyxl), so a command can call it before
    anything slow starts: a missing file, a folder, another kind of file (`.csv`, `.xls`), an
    encrypted workbook, a file that is not a zip.
    """
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"workbook not found: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder: give the path of the .xlsx workbook itself (or a Google Sheets URL)")
    if path.suffix.lower() != ".xlsx":
        raise UsageError(
            f"{path.name} is not an .xlsx workbook: export the records from Excel or Google Sheets as "
            ".xlsx (File → Download → Microsoft Excel) or give a Google Sheets URL"
        )
    try:
        with path.open("rb") as f:
            start = f.read(len(_OLE2_MAGIC))
    except OSError as exc:
        raise WorkbookError(f"cannot open {path.name}: {exc.strerror or exc}") from None
    if start == _OLE2_MAGIC:
        raise WorkbookError(
            f"{path.name} is password-protected (encrypted): open it in Excel, remove the password "
            "(File → Info → Protect Workbook → Encrypt with Password, clear it), save it and run again"
        )
    if not zipfile.is_zipfile(path):
        raise WorkbookError(
            f"cannot read {path.name} as an .xlsx workbook: it is not a zip file (it may be damaged, or "
            "another kind of file renamed to .xlsx); export the workbook again as .xlsx"
        )


class XlsxSource:
    """An `.xlsx` export of the workbook (the embedded default)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> RawWorkbook:
        check_readable_workbook(self.path)
        # Imported here so that a Sheets-only deployment never needs to load openpyxl.
        import openpyxl

        damaged = (f"cannot read {self.path.name} as an .xlsx workbook, it is damaged ({{}}): "
                   "open it in Excel or Google Sheets and export it again as .xlsx")
        try:
            # data_only: a formula cell gives its last computed value, never the formula text.
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except _DAMAGED as exc:
            raise WorkbookError(damaged.format(exc)) from None
        try:
            if not book.worksheets:
                raise WorkbookError(f"{self.path.name} has no sheets: export the whole workbook with its tabs")
            try:
                merges = _merged_ranges(self.path)
            except _DAMAGED as exc:
                raise WorkbookError(damaged.format(exc)) from None
            tabs = {}
            for sheet in book.worksheets:
                try:
                    # Exporters sometimes record wrong dimensions; read every row from row 1.
                    sheet.reset_dimensions()
                    rows = [list(values) for values in sheet.iter_rows(min_row=1, values_only=True)]
                except _DAMAGED as exc:
                    raise WorkbookError(damaged.format(f"tab '{sheet.title}': {exc}")) from None
                tabs[sheet.title] = RawTab(title=sheet.title, rows=rows, merges=merges.get(sheet.title, ()))
        finally:
            book.close()
        return RawWorkbook(tabs=tabs, label=self.path.name)


def _merged_ranges(path: Path) -> dict[str, tuple[CellRange, ...]]:
    """Each sheet's merged ranges, from the `<mergeCells>` of its XML (openpyxl's read-only mode
    does not expose them): sheet title -> ranges."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        book_path = _office_document(archive, names)
        rels_path = posixpath.join(posixpath.dirname(book_path), "_rels", posixpath.basename(book_path) + ".rels")
        targets = {
            rel.get("Id"): rel.get("Target", "")
            for rel in ElementTree.fromstring(archive.read(rels_path))
        } if rels_path in names else {}
        merges: dict[str, tuple[CellRange, ...]] = {}
        for sheet in ElementTree.fromstring(archive.read(book_path)).iter():
            if not sheet.tag.endswith("}sheet"):
                continue
            target = targets.get(sheet.get(_RELATIONSHIP_NS), "")
            sheet_path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(posixpath.dirname(book_path), target)
            )
            if sheet_path in names:
                merges[sheet.get("name", "")] = _ranges_in(archive.read(sheet_path))
    return merges


def _office_document(archive: zipfile.ZipFile, names: set[str]) -> str:
    """The path of workbook.xml inside the package (`xl/workbook.xml` unless the package says otherwise)."""
    if "_rels/.rels" in names:
        for rel in ElementTree.fromstring(archive.read("_rels/.rels")):
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
    return "xl/workbook.xml"


def _ranges_in(sheet_xml: bytes) -> tuple[CellRange, ...]:
    # <mergeCells> follows <sheetData>: search after its end only, not through every cell.
    start = max(sheet_xml.rfind(b"sheetData>"), 0)
    ranges = []
    for first_letters, first_row, last_letters, last_row in _MERGE_REF.findall(sheet_xml, start):
        ranges.append(
            CellRange(
                int(first_row), int(last_row or first_row),
                _column_number(first_letters), _column_number(last_letters or first_letters),
            )
        )
    return tuple(ranges)


def _column_number(letters: bytes) -> int:
    """b"A" → 1, b"AA" → 27."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number
