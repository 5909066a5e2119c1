"""Quarter labels, bounds and the default quarter."""

import datetime as dt

import pytest

from coaching.quarterly import resolve_quarter
from coaching.quarters import Quarter
from coaching.records import UsageError


def test_a_calendar_quarter_has_its_three_months_and_last_day():
    q = Quarter.parse("2026-Q3")
    assert (q.start, q.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert [str(m) for m in q.months] == ["2026-07", "2026-08", "2026-09"]
    assert q.previous.label == "2026-Q2" and Quarter.parse("2026-Q1").previous.label == "2025-Q4"


def test_the_default_is_the_last_completed_quarter():
    assert resolve_quarter(None, dt.date(2026, 11, 25)).label == "2026-Q3"
    assert resolve_quarter(None, dt.date(2026, 1, 1)).label == "2025-Q4"


@pytest.mark.parametrize("label", ["2026-Q5", "2026-Q0", "26-Q1", "2026Q3", "Q3 2026"])
def test_a_bad_quarter_is_refused_with_the_expected_format(label):
    with pytest.raises(UsageError, match=r"is not a quarter: write it as YYYY-Qn"):
        resolve_quarter(label, dt.date(2026, 11, 25))


def test_fiscal_quarters_are_named_by_the_year_in_which_the_fiscal_year_ends():
    q = Quarter.containing(dt.date(2026, 8, 15), start_month=7)
    assert q.label == "2027-Q1"
    assert (q.start, q.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert Quarter.parse("2027-Q3", start_month=7).start == dt.date(2027, 1, 1)
    assert Quarter.parse("2027-Q1", start_month=7).previous.label == "2026-Q4"
