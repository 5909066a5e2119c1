"""Figures the report shows besides the four scores."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from coaching.quarters import Quarter
from coaching.records import DataIssue, Severity


def satisfaction_by_coach(valid: Mapping[str, pd.DataFrame], quarter: Quarter, min_responses: int) -> pd.DataFrame:
    """coach_id, coach_name, responses, mean_satisfaction (NaN when suppressed), suppressed.

    A coach with fewer than `min_responses` responses gets no average, so that nobody can tell
    who gave which answer.
    """
    survey = valid["satisfaction"]
    answered = survey.loc[quarter.contains(survey["timestamp"]) & survey["coach_id"].notna()]
    per_coach = (
        answered.groupby("coach_id")["satisfaction"].agg(responses="size", mean_satisfaction="mean").reset_index()
    )
    names = valid["staff"].set_index("staff_id")["name"]
    per_coach.insert(1, "coach_name", per_coach["coach_id"].map(names).fillna(per_coach["coach_id"]))
    per_coach["suppressed"] = per_coach["responses"] < min_responses
    per_coach["mean_satisfaction"] = per_coach["mean_satisfaction"].mask(per_coach["suppressed"]).round(2)
    return per_coach.sort_values("coach_name").reset_index(drop=True)


def satisfaction_by_program(valid: Mapping[str, pd.DataFrame], quarter: Quarter, min_responses: int) -> pd.DataFrame:
    """program_id, program_name, coaches, responses, mean_satisfaction (NaN under `min_responses`):
    the survey without naming anyone, for a report that must not name staff."""
    survey = valid["satisfaction"]
    answered = survey.loc[quarter.contains(survey["timestamp"])]
    per_program = (
        answered.groupby("program_id")
        .agg(
            coaches=("coach_id", "nunique"),
            responses=("satisfaction", "size"),
            mean_satisfaction=("satisfaction", "mean"),
        )
        .reset_index()
    )
    names = valid["programs"].set_index("program_id")["program_name"]
    per_program.insert(1, "program_name", per_program["program_id"].map(names).fillna(per_program["program_id"]))
    per_program["mean_satisfaction"] = (
        per_program["mean_satisfaction"].mask(per_program["responses"] < min_responses).round(2)
    )
    return per_program.sort_values("program_name").reset_index(drop=True)


def log_volume_warning(log: pd.DataFrame, quarter: Quarter, min_ratio: float, tab_title: str) -> DataIssue | None:
    """A quarter with far fewer coaching-log rows than the one before is likely a missing export."""
    this = int(quarter.contains(log["session_date"]).sum())
    before = int(quarter.previous.contains(log["session_date"]).sum())
    if before == 0 or this >= min_ratio * before:
        return None
    return DataIssue(
        tab_title,
        None,
        "Session Date",
        f"{this} rows",
        f"only {this} coaching-log rows are dated in {quarter.label}, against {before} in "
        f"{quarter.previous.label} (below {min_ratio:.0%} of it): sessions may be missing from the "
        "export; check that every coach's sessions were entered",
        Severity.WARNING,
    )
