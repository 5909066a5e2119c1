"""Quarters labelled `YYYY-Qn`: calendar quarters, or fiscal ones from a configurable start month.

A fiscal year is named by the calendar year in which it ends (with a July start, 2027-Q1 is
July–September 2026), the usual convention of US agencies; with a January start it is the calendar
year.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

# How a quarter is written: YYYY-Qn, n from 1 to 4 (a lower-case q reads as Q). The contract's check of
# a quarter cell and the flow's parameter check are built from this one pattern.
LABEL_PATTERN = r"[0-9]{4}-[Qq][1-4]"
_LABEL = re.compile(rf"^\s*({LABEL_PATTERN})\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int
    start_month: int = 1  # first month of the fiscal year

    @classmethod
    def parse(cls, label: str, start_month: int = 1) -> Quarter:
        match = _LABEL.match(str(label))
        if not match:
            raise ValueError(f"'{label}' is not a quarter: write it as YYYY-Qn with n from 1 to 4, like 2026-Q3")
        year, number = match.group(1).upper().split("-Q")
        return cls(int(year), int(number), start_month)

    @classmethod
    def containing(cls, day: dt.date, start_month: int = 1) -> Quarter:
        months_into_year = (day.month - start_month) % 12
        first_month_year = day.year if day.month >= start_month else day.year - 1
        fiscal_year = first_month_year + (1 if start_month > 1 else 0)
        return cls(fiscal_year, months_into_year // 3 + 1, start_month)

    @classmethod
    def last_completed(cls, today: dt.date, start_month: int = 1) -> Quarter:
        return cls.containing(today, start_month).previous

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.number}"

    def __str__(self) -> str:
        return self.label

    @property
    def start(self) -> dt.date:
        first_year = self.year - (1 if self.start_month > 1 else 0)
        months = (self.start_month - 1) + 3 * (self.number - 1)
        return dt.date(first_year + months // 12, months % 12 + 1, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the quarter."""
        return (pd.Timestamp(self.start) + pd.offsets.MonthEnd(3)).date()

    @property
    def months(self) -> list[pd.Period]:
        return list(pd.period_range(self.start, periods=3, freq="M"))

    @property
    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4, self.start_month)
        return Quarter(self.year, self.number - 1, self.start_month)

    @property
    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1, self.start_month)
        return Quarter(self.year, self.number + 1, self.start_month)

    def contains(self, stamps: pd.Series) -> pd.Series:
        """Which timestamps fall on a day of this quarter (vectorised)."""
        days = stamps.dt.normalize()
        inside: pd.Series = days.ge(pd.Timestamp(self.start)) & days.le(pd.Timestamp(self.end))
        return inside
