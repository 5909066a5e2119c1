"""Scoring and recommending."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from coaching.quarters import Quarter
from coaching.quarterly import previous_scores, score_history
from coaching.recommendations import Improvement, Recommendation, declines, improvements, recommend
from coaching.scoring import QuarterScores, Targets


@task(name="score", cache_policy=NO_CACHE, persist_result=False)
def score_quarters(valid: dict[str, pd.DataFrame], quarter: Quarter, targets: Targets) -> list[QuarterScores]:
    return score_history(valid, quarter, targets)


@task(name="recommend", cache_policy=NO_CACHE, persist_result=False)
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
