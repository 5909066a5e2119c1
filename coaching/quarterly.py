"""The steps of a quarterly run as plain functions, for the flow's thin tasks to call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd

from coaching.metrics import log_volume_warning
from coaching.parsing import parse_workbook
from coaching.quality import blocking_reasons, require_sessions_between, with_cell_links
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, ParsedWorkbook, RawWorkbook, UsageError
from coaching.scoring import QuarterScores, Targets, score_quarter
from coaching.validation import in_sheet_order, validate_records

HISTORY_QUARTERS = 4


def resolve_quarter(label: str | None, today: dt.date, fiscal_start_month: int = 1) -> Quarter:
    """The quarter asked for, or the last completed one."""
    if label is None or not str(label).strip():
        return Quarter.last_completed(today, fiscal_start_month)
    try:
        return Quarter.parse(label, fiscal_start_month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_records(
    raw: RawWorkbook,
    titles: Mapping[str, str],
    *,
    date_format: str,
    run_date: dt.date,
    quarter: Quarter,
    max_error_share: float,
    min_log_volume_ratio: float,
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> CheckedRecords:
    """Parse by the contract (`columns`: the sheet's headers of contract columns, per tab key),
    validate with the suites, add the volume check and cell links."""
    return check_parsed(
        parse_workbook(raw, titles, date_format, columns),
        run_date=run_date,
        quarter=quarter,
        max_error_share=max_error_share,
        min_log_volume_ratio=min_log_volume_ratio,
    )


def check_parsed(
    parsed: ParsedWorkbook,
    *,
    run_date: dt.date,
    quarter: Quarter,
    max_error_share: float,
    min_log_volume_ratio: float,
) -> CheckedRecords:
    """The checks of `check_records` after parsing (the benchmark times the two apart).

    What blocks the leadership report (too many errors among the quarter's rows, a likely missing
    export) goes into `blocking`, reasons first; the volume alert also opens the Coaching Log's
    lines of data_quality.csv.
    """
    checked = validate_records(parsed, run_date)
    checked.blocking = blocking_reasons(parsed, checked, quarter, max_error_share)
    log_title = parsed.tabs["coaching_log"].title
    volume = log_volume_warning(checked.valid["coaching_log"], quarter, min_log_volume_ratio, log_title)
    if volume:
        checked.blocking.append(f"{log_title}: {volume.problem}")
        checked.issues = in_sheet_order(parsed, [volume, *checked.issues])
    checked.issues = with_cell_links(checked.issues, parsed)
    return checked


def select_programs(valid: Mapping[str, pd.DataFrame], programs: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    """Only the programs asked for (by id or name); an unknown one stops the run naming it."""
    if not programs:
        return dict(valid)
    table = valid["programs"]
    wanted = {str(p).strip() for p in programs}
    chosen = table["program_id"].isin(wanted) | table["program_name"].isin(wanted)
    known = set(table["program_id"]) | set(table["program_name"])
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(
            f"Unknown program {', '.join(repr(u) for u in unknown)}: the Programs tab has "
            + ", ".join(f"{i} ({n})" for i, n in zip(table["program_id"], table["program_name"]))
        )
    return {**valid, "programs": table.loc[chosen]}


def score_history(valid: Mapping[str, pd.DataFrame], quarter: Quarter, targets: Targets) -> list[QuarterScores]:
    """The quarter and up to three before it that have coaching-log rows, oldest first."""
    log_dates = valid["coaching_log"]["session_date"]
    history = [score_quarter(valid, quarter, targets)]
    earlier = quarter.previous
    for _ in range(HISTORY_QUARTERS - 1):
        if not earlier.contains(log_dates).any():
            break
        history.insert(0, score_quarter(valid, earlier, targets))
        earlier = earlier.previous
    return history


def previous_scores(history: Sequence[QuarterScores]) -> QuarterScores | None:
    """The scores of the quarter just before the last one of `history`, when it was scored."""
    if len(history) > 1 and history[-2].quarter == history[-1].quarter.previous:
        return history[-2]
    return None


def require_sessions_in(valid: Mapping[str, pd.DataFrame], quarter: Quarter, log_title: str) -> None:
    """A quarter without a single valid coaching-log row has no data: never report it as zeros."""
    require_sessions_between(
        valid["coaching_log"]["session_date"],
        pd.Timestamp(quarter.start),
        pd.Timestamp(quarter.end),
        quarter.label,
        log_title,
        "quarter",
        lambda day: Quarter.containing(day.date(), quarter.start_month).label,
    )
