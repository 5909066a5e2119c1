"""Scoring and recommending: plain functions of the flow, not tasks. They are pure and take a few
milliseconds; as task runs each cost more in Prefect's states and events (on the server too) than
their own work, which counts in a network of hundreds of agencies (docs/network.md)."""

from __future__ import annotations

import pandas as pd

from coaching.quarters import Quarter
from coaching.quarterly import previous_scores, score_history
from coaching.recommendations import Improvement, Recommendation, declines, improvements, recommend
from coaching.scoring import QuarterScores, Targets


def score_quarters(valid: dict[str, pd.DataFrame], quarter: Quarter, targets: Targets) -> list[QuarterScores]:
    return score_history(valid, quarter, targets)


def recommend_actions(
    history: list[QuarterScores], targets: Targets, *, name_staff: bool, quarter_over: bool
) -> tuple[list[Recommendation], list[Improvement], list[Improvement]]:
    """The recommendations, what improved and what got worse since the quarter before."""
    current = history[-1]
    previous = previous_scores(history)
    return (
        recommend(current, targets, name_staff=name_staff, quarter_over=quarter_over),
        improvements(current, previous),
        declines(current, previous),
    )
