"""The .xlsx source: files that cannot be a workbook stop with one sentence; merged cells are reported."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from adapters.sources import XlsxSource, check_readable_workbook
from coaching.parsing import parse_workbook
from coaching.records import CellRange, Severity, UsageError, WorkbookError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_workbook.xlsx"


def _rewritten(source: Path, target: Path, member: str, change) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for info in original.infolist():
            data = original.read(info.filename)
            out.writestr(info, change(data) if info.filename == member else data)
    return target


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda d: d / "missing.xlsx", WorkbookError, "workbook not found"),
        (lambda d: (d / "records.xlsx").mkdir() or d / "records.xlsx", UsageError, "is a folder"),
        (lambda d: (d / "records.csv").write_text("a,b\n1,2\n") and d / "records.csv", UsageError,
         "records.csv is not an .xlsx workbook"),
        (lambda d: (d / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)) and d / "locked.xlsx",
         WorkbookError, "remove the password"),
        (lambda d: (d / "notes.xlsx").write_text("renamed text") and d / "notes.xlsx", WorkbookError,
         "it is not a zip file"),
    ],
    ids=["missing", "folder", "csv", "encrypted", "not-a-zip"],
)
def test_a_file_that_cannot_be_a_workbook_is_refused_before_and_while_reading(tmp_path, make, error, words):
    path = make(tmp_path)
    with pytest.raises(error, match=re.escape(words)):
        check_readable_workbook(path)
    with pytest.raises(error, match=re.escape(words)):
        XlsxSource(path).read()


def test_a_workbook_whose_sheet_xml_is_cut_off_names_the_tab_and_says_to_export_again(tmp_path):
    broken = _rewritten(SAMPLE, tmp_path / "broken.xlsx", "xl/worksheets/sheet3.xml", lambda data: data[: len(data) // 2])
    with pytest.raises(WorkbookError, match=r"broken.xlsx .*damaged \(tab 'Staff'.*export it again as .xlsx"):
        XlsxSource(broken).read()


def test_a_workbook_without_sheets_says_so(tmp_path):
    empty = _rewritten(
        SAMPLE, tmp_path / "empty.xlsx", "xl/workbook.xml", lambda data: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
    )
    with pytest.raises(WorkbookError, match="has no sheets"):
        XlsxSource(empty).read()


def test_merged_cells_are_read_from_the_sheet_xml_in_sheet_coordinates(tmp_path):
    book = openpyxl.load_workbook(SAMPLE)
    book["Coaching Log"].merge_cells("G2:G6")
    book["Coaching Log"].merge_cells("A1:B1")
    book.save(tmp_path / "merged.xlsx")
    raw = XlsxSource(tmp_path / "merged.xlsx").read()
    assert set(raw.tabs["Coaching Log"].merges) == {CellRange(2, 6, 7, 7), CellRange(1, 1, 1, 2)}
    assert raw.tabs["Staff"].merges == ()


def test_a_formula_error_cell_in_the_staff_id_column_of_an_export_is_an_error_on_its_row(tmp_path):
    book = openpyxl.load_workbook(SAMPLE)
    staff = book["Staff"]
    staff["A2"] = "#REF!"  # what a formula that lost its source shows; openpyxl stores it as an error cell
    assert staff["A2"].data_type == "e"
    book.save(tmp_path / "broken.xlsx")
    parsed = parse_workbook(XlsxSource(tmp_path / "broken.xlsx").read(), {})
    (issue,) = [i for i in parsed.issues if i.tab == "Staff" and i.row == 2]
    assert (issue.column, issue.value, issue.cell, issue.severity) == ("Staff ID", "#REF!", "A2", Severity.ERROR)
    assert "is a formula error, not an ID" in issue.problem
