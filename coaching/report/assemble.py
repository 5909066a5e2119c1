"""A quarter's scores, recommendations and checked records → the rendered report and the run's files.

One pure function, so that the flow's render task and the scale benchmark run the same code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from coaching.metrics import satisfaction_by_coach
from coaching.outputs import csv_bytes, data_quality_frame, scorecard_frame
from coaching.quarterly import previous_scores
from coaching.recommendations import Improvement, Recommendation, recommendations_frame
from coaching.records import CheckedRecords
from coaching.report.model import ReportData
from coaching.report.render import RenderedReport, render_report
from coaching.scoring import QuarterScores, Targets


@dataclass
class QuarterlyReport:
    rendered: RenderedReport
    files: dict[str, bytes]  # file name in the output folder -> content


def build_quarterly_report(
    history: list[QuarterScores],
    recommendations: list[Recommendation],
    improved: list[Improvement],
    checked: CheckedRecords,
    *,
    organisation: str,
    source_label: str,
    today: dt.date,
    targets: Targets,
    min_responses_per_coach: int,
) -> QuarterlyReport:
    """The report as emailed, and scorecard.csv, data_quality.csv, recommendations.csv, report.html."""
    current = history[-1]
    data = ReportData(
        organisation=organisation,
        generated_on=today,
        source_label=source_label,
        current=current,
        previous=previous_scores(history),
        history=history,
        recommendations=recommendations,
        improvements=improved,
        satisfaction=satisfaction_by_coach(checked.valid, current.quarter, min_responses_per_coach),
        issues=checked.issues,
        rows_read={checked.title(key): count for key, count in checked.rows_read.items()},
        rows_quarantined={checked.title(key): count for key, count in checked.rows_quarantined.items()},
        targets=targets,
        min_responses_per_coach=min_responses_per_coach,
        blocking=checked.blocking,
    )
    rendered = render_report(data)
    files = {
        "scorecard.csv": csv_bytes(scorecard_frame(current)),
        "data_quality.csv": csv_bytes(data_quality_frame(checked.issues)),
        "recommendations.csv": csv_bytes(recommendations_frame(recommendations)),
        "report.html": rendered.html_file.encode("utf-8"),
    }
    return QuarterlyReport(rendered, files)
