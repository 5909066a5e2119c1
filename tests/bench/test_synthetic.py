"""The synthetic workbooks of the scale benchmark follow the data contract like the sample does:
same tabs and headers, cells typed like the Sheets API returns them, and deliberate bad rows that
the real parser and the GX suites quarantine, and nothing else."""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.sources import XlsxSource
from bench.synthetic import RUN_DATE, SyntheticWorkbook, synthetic_workbook
from coaching.contract import TABS, normalise
from coaching.parsing import parse_workbook
from coaching.records import CheckedRecords, Severity
from coaching.validation import validate_records
from data.make_workbooks import DATA_DIR, SAMPLE_NAME

CELLS = 60_000


@pytest.fixture(scope="module")
def generated() -> SyntheticWorkbook:
    return synthetic_workbook(CELLS, seed=7)


@pytest.fixture(scope="module")
def checked(generated: SyntheticWorkbook) -> CheckedRecords:
    return validate_records(parse_workbook(generated.raw, {}), RUN_DATE)


def cells_of(generated: SyntheticWorkbook) -> list[object]:
    return [cell for tab in generated.raw.tabs.values() for row in tab.rows[1:] for cell in row]


def test_tabs_and_headers_are_the_samples(generated):
    sample = XlsxSource(DATA_DIR / SAMPLE_NAME).read()
    assert list(generated.raw.tabs) == [tab.default_title for tab in TABS]
    for title, tab in generated.raw.tabs.items():
        assert tab.rows[0] == sample.tabs[title].rows[0], title
    for spec in TABS:
        headers = {normalise(h) for h in generated.raw.tabs[spec.default_title].rows[0]}
        assert set(spec.column_names) <= headers, spec.key


def test_the_cell_count_is_the_knob_and_stays_within_it():
    small, large = synthetic_workbook(20_000), synthetic_workbook(200_000)
    for asked, made in ((20_000, small), (200_000, large)):
        assert 0.99 * asked <= made.cells <= asked
        assert made.cells == sum(len(tab.rows) * len(tab.rows[0]) for tab in made.raw.tabs.values())
    assert len(large.raw.tabs["Staff"].rows) > 5 * len(small.raw.tabs["Staff"].rows)
    assert len(large.raw.tabs["Coaching Log"].rows) > 5 * len(small.raw.tabs["Coaching Log"].rows)


def test_cells_are_typed_like_the_sheets_api_returns_them(generated):
    types = Counter(type(cell) for cell in cells_of(generated))
    assert set(types) == {str, int, float, bool}  # JSON values: no None, no date objects
    log = generated.raw.tabs["Coaching Log"].rows
    width = len(log[0])
    assert [] in log[1:]  # a blank row in the middle
    assert any(0 < len(row) < width for row in log[1:])  # trailing blanks trimmed
    dates = [row[1] for row in log[1:] if row]
    assert Counter(map(type, dates)).most_common(1)[0][0] is int  # serial numbers, mostly
    assert any(isinstance(d, str) and "/" in d for d in dates) and any(isinstance(d, str) and "-" in d for d in dates)
    flags = [cell for row in log[1:] for cell in row[6:10]]
    assert {True, False} <= set(flags) and {"yes", "x"} & set(flags)
    staff_ids = [row[0] for row in generated.raw.tabs["Staff"].rows[1:] if row]
    assert all(isinstance(s, str) for s in staff_ids) and any(s.startswith("0") for s in staff_ids)


def test_the_planted_bad_rows_and_only_them_are_quarantined(generated, checked):
    planted_errors = {(p.tab, p.row) for p in generated.planted if p.severity is Severity.ERROR}
    found_errors = {(i.tab, i.row) for i in checked.issues if i.severity is Severity.ERROR}
    assert found_errors == planted_errors
    assert sum(checked.rows_quarantined.values()) == len(planted_errors)
    assert checked.blocking == []


def test_the_planted_doubtful_values_are_warnings_and_their_rows_are_kept(generated, checked):
    planted = {(p.tab, p.row, p.column) for p in generated.planted if p.severity is Severity.WARNING}
    warned = {(i.tab, i.row, i.column) for i in checked.issues if i.severity is Severity.WARNING and i.row}
    assert planted and warned == planted
    log_rows = {row for tab, row, _ in planted if tab == "Coaching Log"}
    assert log_rows <= set(checked.valid["coaching_log"].index)


def test_about_half_to_one_percent_of_the_coaching_log_is_bad(checked):
    share = checked.rows_quarantined["coaching_log"] / checked.rows_read["coaching_log"]
    assert 0.005 <= share <= 0.01


def test_the_same_seed_gives_the_same_workbook():
    first, again, other = (synthetic_workbook(20_000, seed=seed) for seed in (3, 3, 4))
    assert first.raw.tabs == again.raw.tabs and first.planted == again.planted
    assert first.raw.tabs["Coaching Log"].rows != other.raw.tabs["Coaching Log"].rows
