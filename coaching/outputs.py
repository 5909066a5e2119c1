"""The files of a quarterly run (data-contract.md, section 3), as bytes.

Cells that start with =, +, - or @ are prefixed with an apostrophe so that a spreadsheet program
opening the CSV shows them as text instead of running them as formulas: text from the sheets is
never trusted as a formula.
"""

from __future__ import annotations

import re
from functools import lru_cache
from string import Formatter

import pandas as pd

from coaching.contract import TABS
from coaching.records import DataIssue
from coaching.scoring import SCORECARD_COLUMNS, EVIDENCE_COLUMNS, QuarterScores

RATE_COLUMNS = ("monthly_coverage", "multi_source_rate")
DATA_QUALITY_COLUMNS = ["tab", "row", "column", "value", "problem", "severity", "cell", "link"]
# What leadership and the Prefect UI get of data_quality.csv: every line, without the cells' values.
REDACTED_COLUMNS = [column for column in DATA_QUALITY_COLUMNS if column != "value"]
# Columns of scorecard.csv that say who a program's coaching lead is: only where staff may be named.
STAFF_COLUMNS = ["coaching_lead_id", "coaching_lead_name"]
HIDDEN = "…"  # stands for a cell's value in a problem
_QUOTED = re.compile(r"'[^'\n]*'")
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


def leadership_scorecard_frame(scores: QuarterScores, name_staff: bool) -> pd.DataFrame:
    """scorecard.csv as leadership and the Prefect UI get it: who the coaching lead is only when
    staff may be named (the setting report_names_staff)."""
    frame = scorecard_frame(scores)
    return frame if name_staff else frame.drop(columns=STAFF_COLUMNS)


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


def redacted_data_quality_frame(issues: list[DataIssue]) -> pd.DataFrame:
    """data_quality.csv without any cell's value: for everything leadership receives and for the
    Prefect UI. The data stewards' notice and data_quality.csv keep the values."""
    frame = data_quality_frame(issues)
    frame["problem"] = [problem_without_values(issue) for issue in issues]
    return frame[REDACTED_COLUMNS]


@lru_cache(maxsize=1)
def _templates() -> tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...]:
    """Each check's problem template that names a cell (its own or another of the row), as a
    pattern that recognises the sentences made from it."""
    from coaching.validation import suite_definition  # Great Expectations loads slowly: only when needed

    problems = {
        rule["meta"]["problem"]
        for spec in TABS
        for rule in suite_definition(spec.key)["expectations"]
        if "problem" in rule.get("meta", {})
    }
    found = []
    for problem in sorted(problems):
        fields = list(Formatter().parse(problem))
        names = tuple(name for _, name, _, _ in fields if name)
        if names:
            pattern = "".join(re.escape(literal) + ("(.*?)" if name else "") for literal, name, _, _ in fields)
            found.append((re.compile(pattern, re.DOTALL), problem, names))
    return tuple(found)


def problem_without_values(issue: DataIssue) -> str:
    """The problem in words, every cell's value in it replaced by "…": the cell's own and any other
    of its row the check quotes ("before the start date …", "for session “…”"). The row a repeat
    was first seen on stays: it is a place, not a value."""
    problem = issue.problem
    for pattern, template, names in _templates():
        matched = pattern.fullmatch(problem)
        if matched:
            kept = {name: value for name, value in zip(names, matched.groups()) if name == "found" and value.isdigit()}
            return _QUOTED.sub("“…”", template.format_map({name: kept.get(name, HIDDEN) for name in names}))
    value = str(issue.value).strip()
    if value and f"'{issue.value}'" not in problem:
        # A value the problem does not quote, standing alone: never inside a word or another value,
        # so that a cell holding "a" leaves "is not a date" whole.
        problem = re.sub(rf"(?<![\w']){re.escape(value)}(?![\w'])", HIDDEN, problem)
    # What is in quotes is a value: the cell's own, or one suggested from another row.
    return _QUOTED.sub("“…”", problem)
