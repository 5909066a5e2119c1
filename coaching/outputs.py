"""The files of a quarterly run (data-contract.md, section 3), as bytes.

Cells that start with =, +, - or @ are prefixed with an apostrophe so that a spreadsheet program
opening the CSV shows them as text instead of running them as formulas: text from the sheets is
never trusted as a formula.
"""

from __future__ import annotations

import pandas as pd

from coaching.records import DataIssue
from coaching.scoring import SCORECARD_COLUMNS, EVIDENCE_COLUMNS, QuarterScores

RATE_COLUMNS = ("monthly_coverage", "multi_source_rate")
DATA_QUALITY_COLUMNS = ["tab", "row", "column", "value", "problem", "severity", "cell", "link"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with formula-like text defused; numbers stay numbers."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_defuse)
    return safe.to_csv(index=False, lineterminator="\n").encode("utf-8")


def scorecard_frame(scores: QuarterScores) -> pd.DataFrame:
    """The rows of scorecard.csv: the contract's columns in order, then evidence. Rates are written
    with exactly 4 decimals (1.0000, 0.7500), blank when there is nothing to divide."""
    frame = scores.scorecard[SCORECARD_COLUMNS + EVIDENCE_COLUMNS].copy()
    for column in RATE_COLUMNS:
        frame[column] = frame[column].map(lambda rate: "" if pd.isna(rate) else f"{rate:.4f}")
    return frame


def data_quality_frame(issues: list[DataIssue]) -> pd.DataFrame:
    rows = [
        {
            "tab": issue.tab,
            "row": issue.row if issue.row is not None else "",
            "column": issue.column,
            "value": issue.value,
            "problem": issue.problem,
            "severity": issue.severity.value,
            "cell": issue.cell,
            "link": issue.link,
        }
        for issue in issues
    ]
    return pd.DataFrame(rows, columns=DATA_QUALITY_COLUMNS)
