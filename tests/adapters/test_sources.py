"""The .xlsx source: files that cannot be a workbook stop with one sentence; merged cells are reported."""

from __future__ import annotations

import datetime as dt
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
        (
            lambda d: (d / "records.csv").write_text("a,b\n1,2\n") and d / "records.csv",
            UsageError,
            "records.csv is not an .xlsx workbook",
        ),
        (
            lambda d: (
                (d / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)) and d / "locked.xlsx"
            ),
            WorkbookError,
            "remove the password",
        ),
        (
            lambda d: (d / "notes.xlsx").write_text("renamed text") and d / "notes.xlsx",
            WorkbookError,
            "it is not a zip file",
        ),
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
    broken = _rewritten(
        SAMPLE, tmp_path / "broken.xlsx", "xl/worksheets/sheet3.xml", lambda data: data[: len(data) // 2]
    )
    with pytest.raises(WorkbookError, match=r"broken.xlsx .*damaged \(tab 'Staff'.*export it again as .xlsx"):
        XlsxSource(broken).read()


def test_a_workbook_without_sheets_says_so(tmp_path):
    empty = _rewritten(
        SAMPLE,
        tmp_path / "empty.xlsx",
        "xl/workbook.xml",
        lambda data: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data),
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


def _with_cells(tmp_path: Path, member: str, cells: dict[str, str]) -> Path:
    """The sample with some cells of one sheet's XML replaced by raw XML, as Excel would write them."""

    def change(data: bytes) -> bytes:
        for ref, xml in cells.items():
            data, count = re.subn(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', xml.encode(), data, count=1)
            assert count == 1, ref
        return data

    return _rewritten(SAMPLE, tmp_path / "formulas.xlsx", member, change)


def test_formulas_are_reported_with_the_value_excel_last_computed_for_them(tmp_path):
    path = _with_cells(
        tmp_path,
        "xl/worksheets/sheet4.xml",
        {  # the Coaching Log
            "B2": '<c r="B2" s="6"><f>TODAY()</f><v>46275</v></c>',  # a date format
            "D2": '<c r="D2" t="str"><f>Staff!A2&amp;""</f><v>00101</v></c>',
            "D3": '<c r="D3" t="e"><f>#REF!</f><v>#REF!</v></c>',
            "G2": '<c r="G2" t="b"><f>1&lt;2</f><v>1</v></c>',
        },
    )
    tab = XlsxSource(path).read().tabs["Coaching Log"]

    assert tab.formulas == {(2, 2): "=TODAY()", (2, 4): '=Staff!A2&""', (3, 4): "=#REF!", (2, 7): "=1<2"}
    assert tab.rows[1][1] == dt.date(1899, 12, 30) + dt.timedelta(days=46275)  # the day it was saved
    assert (tab.rows[1][3], tab.rows[2][3], tab.rows[1][6]) == ("00101", "#REF!", True)


def test_a_formula_saved_without_a_computed_value_reads_as_none_with_its_formula(tmp_path):
    book = openpyxl.load_workbook(SAMPLE)
    staff = book["Staff"]
    staff["G2"] = "=TODAY()"  # openpyxl stores the formula and no value, as a script would
    staff["A200"] = "=A2"  # beyond the last row with a value
    book.save(tmp_path / "typed.xlsx")

    tab = XlsxSource(tmp_path / "typed.xlsx").read().tabs["Staff"]

    assert tab.formulas == {(2, 7): "=TODAY()", (200, 1): "=A2"}
    assert tab.rows[1][6] is None and tab.rows[199][0] is None
    assert all(cell is None for row in tab.rows[61:199] for cell in row)


def test_a_shared_formula_is_reported_in_every_cell_with_its_own_references(tmp_path):
    path = _with_cells(
        tmp_path,
        "xl/worksheets/sheet4.xml",
        {
            "E2": '<c r="E2" t="str"><f t="shared" ref="E2:E4" si="0">C2&amp;"x"</f><v>YMx</v></c>',
            "E3": '<c r="E3" t="str"><f t="shared" si="0"/><v>YMx</v></c>',
            "E4": '<c r="E4" t="str"><f t="shared" si="0"/><v>YMx</v></c>',
        },
    )
    tab = XlsxSource(path).read().tabs["Coaching Log"]

    assert tab.formulas == {(2, 5): '=C2&"x"', (3, 5): '=C3&"x"', (4, 5): '=C4&"x"'}
    assert [tab.rows[r][4] for r in (1, 2, 3)] == ["YMx"] * 3


def test_a_workbook_of_plain_values_has_no_formulas_and_reads_as_openpyxl_reads_it():
    raw = XlsxSource(SAMPLE).read()
    book = openpyxl.load_workbook(SAMPLE, read_only=True, data_only=True)
    for sheet in book.worksheets:
        expected = [list(row) for row in sheet.iter_rows(values_only=True)]
        got = raw.tabs[sheet.title].rows
        assert len(got) == len(expected), sheet.title
        for mine, theirs in zip(got, expected):
            # openpyxl gives a date-formatted cell as a date-time at midnight; the day is the same.
            theirs = [v.date() if isinstance(v, dt.datetime) and v.time() == dt.time() else v for v in theirs]
            assert [(v, type(v)) for v in mine] == [(v, type(v)) for v in theirs], sheet.title
        assert raw.tabs[sheet.title].formulas == {}
    book.close()


def test_a_sheet_whose_recorded_dimensions_are_wrong_is_read_whole(tmp_path):
    # Some exporters write <dimension ref="A1:B2"/> whatever the sheet holds.
    path = _rewritten(
        SAMPLE,
        tmp_path / "dimension.xlsx",
        "xl/worksheets/sheet4.xml",
        lambda data: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', data),
    )
    expected = XlsxSource(SAMPLE).read().tabs["Coaching Log"].rows
    assert XlsxSource(path).read().tabs["Coaching Log"].rows == expected
    assert len(expected) > 400


def test_a_session_date_typed_as_a_formula_in_an_export_is_listed_naming_it_and_its_row_is_left_out(tmp_path):
    book = openpyxl.load_workbook(SAMPLE)
    log = book["Coaching Log"]
    log["B2"] = "=TODAY()"  # as ops staff type it to mean "the session was today"
    book.save(tmp_path / "today.xlsx")

    parsed = parse_workbook(XlsxSource(tmp_path / "today.xlsx").read(), {})

    (issue,) = [i for i in parsed.issues if i.tab == "Coaching Log" and i.row == 2]
    assert (issue.column, issue.value, issue.cell, issue.severity) == ("Session Date", "=TODAY()", "B2", Severity.ERROR)
    assert "is a formula" in issue.problem and "type the value itself" in issue.problem
