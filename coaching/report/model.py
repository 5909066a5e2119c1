"""Everything the leadership report shows, gathered before rendering."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from coaching.recommendations import Improvement, Recommendation
from coaching.records import DataIssue
from coaching.scoring import QuarterScores, Targets


@dataclass
class ReportData:
    organisation: str  # the agency's name, from settings
    generated_on: dt.date
    source_label: str  # "sample_workbook.xlsx", "Google Sheet Coaching records"
    current: QuarterScores  # the quarter reported on
    previous: QuarterScores | None  # the quarter before, for trends
    history: list[QuarterScores]  # up to four quarters, oldest first, ending with `current`
    recommendations: list[Recommendation]
    improvements: list[Improvement]
    satisfaction: pd.DataFrame  # see coaching.metrics.satisfaction_by_coach
    issues: list[DataIssue]
    rows_read: dict[str, int]  # by tab title
    rows_quarantined: dict[str, int]  # by tab title
    targets: Targets
    min_responses_per_coach: int
    blocking: list[str] = field(default_factory=list)
