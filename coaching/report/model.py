"""Everything the leadership report shows, gathered before rendering."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from coaching.history import Restatement
from coaching.recommendations import Improvement, Recommendation
from coaching.records import DataIssue
from coaching.scoring import QuarterScores, Targets


@dataclass
class ReportData:
    organisation: str  # the agency's name, from settings
    generated_on: dt.date
    source_label: str  # "sample_workbook.xlsx", "Google Sheet Coaching records"
    current: QuarterScores  # the quarter reported on
    previous: QuarterScores | None  # the quarter before, for trends: as reported when it was
    history: list[QuarterScores]  # up to four quarters, oldest first, ending with `current`; as reported where reported
    recommendations: list[Recommendation]
    improvements: list[Improvement]
    satisfaction: pd.DataFrame  # see coaching.metrics.satisfaction_by_coach (shown when staff may be named)
    issues: list[DataIssue]
    rows_read: dict[str, int]  # by tab title
    rows_quarantined: dict[str, int]  # by tab title
    targets: Targets
    min_responses_per_coach: int
    blocking: list[str] = field(default_factory=list)
    satisfaction_by_program: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # see assemble.satisfaction_groups (shown when staff are not named)
    declines: list[Improvement] = field(default_factory=list)  # what got worse since the previous quarter
    name_staff: bool = False  # the setting report_names_staff: counts per program unless it is on
    reported_on: dict[str, str] = field(default_factory=dict)  # quarter label -> YYYY-MM-DD of the version shown
    restatements: list[Restatement] = field(default_factory=list)  # earlier quarters recomputed differently
    # Set only on a version that is sent again (new figures, or forced): what changed since the last one sent.
    since_last_sent: list[Restatement] | None = None
    resent_on_request: bool = False  # that version goes again because an admin forced it
    # By best practice: a missing optional tab that lowers its score (CheckedRecords.score_notes)
    score_notes: dict[int, tuple[str, ...]] = field(default_factory=dict)
