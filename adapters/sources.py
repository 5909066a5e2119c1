"""Where the records come from. Every source returns the raw cells of every tab it finds."""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from xml.etree import ElementTree

from coaching.records import CellRange, RawTab, RawWorkbook, UsageError, WorkbookError

# An encrypted (password-protected) .xlsx is not a zip but an OLE2 compound file holding the
# encrypted package: it starts with these eight bytes.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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
    """An `.xlsx` export of the workbook (the embedded default).

    The cells are read by calamine (Rust), which gives each formula's stored value; the formulas
    themselves, and the error values (`#REF!`) calamine leaves blank, are found by one pass over each
    sheet's XML looking only at the cells that hold a `<f>` or `t="e"`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> RawWorkbook:
        check_readable_workbook(self.path)
        # Imported here so that a Sheets-only deployment never loads the reader.
        from python_calamine import CalamineError, CalamineWorkbook

        damaged = (
            f"cannot read {self.path.name} as an .xlsx workbook, it is damaged ({{}}): "
            "open it in Excel or Google Sheets and export it again as .xlsx"
        )
        failures = (*_DAMAGED, CalamineError)
        try:
            book = CalamineWorkbook.from_path(str(self.path))
            sheet_parts = _sheet_parts(self.path)
        except failures as exc:
            raise WorkbookError(damaged.format(exc)) from None
        # The formulas and error values are looked for beside calamine, in a thread: most of that
        # is inflating the sheets' XML, which runs without the interpreter's lock.
        with book, ThreadPoolExecutor(max_workers=1) as scanner:
            if not book.sheet_names:
                raise WorkbookError(f"{self.path.name} has no sheets: export the whole workbook with its tabs")
            scans = {
                title: scanner.submit(_scan_cells, self.path, sheet_parts.get(title)) for title in book.sheet_names
            }
            tabs = {}
            for title in book.sheet_names:
                try:
                    sheet = book.get_sheet_by_name(title)
                    rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
                    _as_stored(rows)
                    merges = tuple(
                        CellRange(first[0] + 1, last[0] + 1, first[1] + 1, last[1] + 1)
                        for first, last in sheet.merged_cell_ranges or ()
                    )
                    formulas = _formulas_and_errors(scans[title].result(), rows)
                except failures as exc:
                    for scan in scans.values():
                        scan.cancel()
                    raise WorkbookError(damaged.format(f"tab '{title}': {exc}")) from None
                tabs[title] = RawTab(title=title, rows=rows, merges=merges, formulas=formulas)
        return RawWorkbook(tabs=tabs, label=self.path.name)


def _as_stored(rows: list[list[Any]]) -> None:
    """calamine gives every number as a float and a blank cell as "": a whole number becomes an int,
    as Excel shows it and as the Sheets API gives it (an ID typed 7 is "7", never "7.0"), and a blank
    cell None. Row by row, in place (one list per row alive at a time)."""
    for index, row in enumerate(rows):
        rows[index] = [
            (int(v) if v.is_integer() else v) if v.__class__ is float else (None if v == "" else v) for v in row
        ]


def _sheet_parts(path: Path) -> dict[str, str]:
    """Where each sheet's XML is inside the package: sheet title -> member name."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        book_path = _office_document(archive, names)
        rels_path = posixpath.join(posixpath.dirname(book_path), "_rels", posixpath.basename(book_path) + ".rels")
        targets = (
            {rel.get("Id"): rel.get("Target", "") for rel in ElementTree.fromstring(archive.read(rels_path))}
            if rels_path in names
            else {}
        )
        parts: dict[str, str] = {}
        for sheet in ElementTree.fromstring(archive.read(book_path)).iter():
            if not sheet.tag.endswith("}sheet"):
                continue
            target = targets.get(sheet.get(_RELATIONSHIP_NS), "")
            sheet_path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(posixpath.dirname(book_path), target))
            )
            if sheet_path in names:
                parts[sheet.get("name", "")] = sheet_path
    return parts


def _office_document(archive: zipfile.ZipFile, names: set[str]) -> str:
    """The path of workbook.xml inside the package (`xl/workbook.xml` unless the package says otherwise)."""
    if "_rels/.rels" in names:
        for rel in ElementTree.fromstring(archive.read("_rels/.rels")):
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
    return "xl/workbook.xml"


def _scan_cells(path: Path, part: str | None) -> _CellScan | None:
    """The cells of one sheet's XML that hold a formula or an error value (None: no such sheet part).

    The XML is streamed in chunks and searched in C for the few cells that matter, so a sheet of
    millions of plain cells costs one pass at memory speed and no Python per cell.
    """
    if part is None:
        return None
    scan: _CellScan | None = None
    carried = b""
    with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            data = carried + chunk
            scan = scan or _CellScan(data)
            cut = max(data.rfind(scan.cell_start), 0)  # the last cell may be cut: it waits for the next chunk
            scan.cells(data[:cut])
            carried = data[cut:]
    if scan is None or scan.worksheet_end not in carried:
        raise ValueError("the sheet's XML stops before its end")
    scan.cells(carried)
    return scan


def _formulas_and_errors(scan: _CellScan | None, rows: list[list[Any]]) -> dict[tuple[int, int], str]:
    """The sheet's formulas, (sheet row, column from A = 1) -> "=TEXT"; `rows` is corrected in
    place where calamine's values differ from what the cell stores: an error value (`#REF!`) is
    put back, and a formula with no stored value is None."""
    if scan is None:
        return {}
    for (row, column), value in scan.values.items():
        rows.extend([] for _ in range(row - len(rows)))
        cells = rows[row - 1]
        cells.extend(None for _ in range(column - len(cells)))
        cells[column - 1] = value
    return scan.formulas


_CHUNK = 1 << 24
_CELL_REF = re.compile(rb"\br=[\"']([A-Za-z]+)([0-9]+)[\"']")
_CELL_TYPE = re.compile(rb"\bt=[\"']([a-zA-Z]+)[\"']")
_ATTRIBUTE = re.compile(rb"\b(t|si|ref)=[\"']([^\"']*)[\"']")


class _CellScan:
    """What the cells of one sheet's XML hold beyond calamine's values (see _formulas_and_errors)."""

    def __init__(self, first_chunk: bytes) -> None:
        found = re.search(rb"<(\w+:)?worksheet\b", first_chunk)
        prefix = (found.group(1) or b"") if found else b""  # a namespace prefix, as in <x:c>, or none
        tag = re.escape(prefix)
        self.cell_start = b"<" + prefix + b"c "
        self.cell_end = b"</" + prefix + b"c>"
        self.worksheet_end = b"</" + prefix + b"worksheet>"
        # A formula, or an error value: two searches for a literal start each, which run at memory speed.
        self._hits = (re.compile(rb"<" + tag + rb"f[ />]"), re.compile(rb"t=[\"']e[\"']"))
        self._formula = re.compile(rb"<" + tag + rb"f\b([^>]*?)(?:/>|>(.*?)</" + tag + rb"f>)", re.DOTALL)
        self._value = re.compile(rb"<" + tag + rb"v>(.*?)</" + tag + rb"v>", re.DOTALL)
        self.formulas: dict[tuple[int, int], str] = {}
        self.values: dict[tuple[int, int], object] = {}
        self._shared: dict[str, tuple[str, str]] = {}  # si -> (the master's cell, its formula)

    def cells(self, data: bytes) -> None:
        seen = -1
        for hit in sorted(found.start() for pattern in self._hits for found in pattern.finditer(data)):
            start = data.rfind(self.cell_start, 0, hit + 1)
            if start <= seen:
                continue  # the same cell again (an error value computed by a formula)
            seen = start
            open_end = data.find(b">", start)
            if data[open_end - 1 : open_end] != b"/":  # not an empty cell
                self._cell(data[start : open_end + 1], data[open_end + 1 : data.find(self.cell_end, open_end)])

    def _cell(self, opening: bytes, body: bytes) -> None:
        ref = _CELL_REF.search(opening)
        if ref is None:
            return
        letters, row = ref.group(1).decode().upper(), int(ref.group(2))
        place = (row, _column_number(letters))
        kind = _CELL_TYPE.search(opening)
        value = self._value.search(body)
        stored = html.unescape(value.group(1).decode("utf-8")) if value else ""
        if kind is not None and kind.group(1) == b"e" and stored:
            self.values[place] = stored
        formula = self._formula.search(body)
        if formula is None:
            return
        attributes = {name.decode(): text.decode() for name, text in _ATTRIBUTE.findall(formula.group(1))}
        text = html.unescape((formula.group(2) or b"").decode("utf-8"))
        cell = f"{letters}{row}"
        if attributes.get("t") == "shared" and "si" in attributes:
            if text:
                self._shared[attributes["si"]] = (cell, text)
            else:
                text = self._follower(attributes["si"], cell)
        self.formulas[place] = "=" + text if text else "=(a formula)"
        if not stored:
            self.values[place] = None

    def _follower(self, si: str, cell: str) -> str:
        """A shared formula's text in a later cell: the master's, moved as Excel moves it."""
        master = self._shared.get(si)
        if master is None:
            return ""
        from openpyxl.formula.translate import Translator, TranslatorError

        origin, text = master
        try:
            return str(Translator("=" + text, origin=origin).translate_formula(cell)).removeprefix("=")
        except TranslatorError:
            return text


def _column_number(letters: str) -> int:
    """A → 1, AA → 27."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number
