"""A quarter's scores, recommendations and checked records → the rendered report and the run's files.

One pure function, so that the flow's render task and the scale benchmark run the same code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from coaching.history import History
from coaching.metrics import satisfaction_by_coach, satisfaction_by_program
from coaching.outputs import csv_bytes, data_quality_frame, scorecard_frame
from coaching.quarterly import previous_scores
from coaching.recommendations import Improvement, Recommendation, recommendations_frame
from coaching.records import CheckedRecords
from coaching.report.model import ReportData
from coaching.report.render import RenderedReport, render_report
from coaching.scoring import QuarterScores, Targets


# data_quality.csv holds the cells' values (names, notes): the data stewards get it, leadership does not.
NOT_FOR_LEADERSHIP = ("data_quality.csv",)
# scorecard.csv's evidence names each program's coaching lead: kept in the output folder, left out of the
# leadership email unless the setting report_names_staff is on.
STAFF_NAME_COLUMNS = ("coaching_lead_name",)


@dataclass
class QuarterlyReport:
    rendered: RenderedReport
    files: dict[str, bytes]  # file name in the output folder -> content
    attachments: dict[str, bytes]  # the files the leadership email carries


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
    declines: list[Improvement] | None = None,
    name_staff: bool = False,
    record: History | None = None,
) -> QuarterlyReport:
    """The report as emailed, and scorecard.csv, data_quality.csv, recommendations.csv, report.html.

    With `record`, `history` is its `shown` list: earlier quarters as reported, restatements and,
    for a quarter delivered before, what changed since.
    """
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
        satisfaction_by_program=satisfaction_by_program(checked.valid, current.quarter, min_responses_per_coach),
        declines=list(declines or []),
        name_staff=name_staff,
        reported_on={} if record is None else {q: v.delivered_on for q, v in record.as_reported.items()},
        restatements=[] if record is None else record.restatements,
        since_last_sent=None if record is None else record.since_last_sent,
        score_notes=checked.score_notes(),
    )
    rendered = render_report(data)
    scorecard = scorecard_frame(current)
    files = {
        "scorecard.csv": csv_bytes(scorecard),
        "data_quality.csv": csv_bytes(data_quality_frame(checked.issues)),
        "recommendations.csv": csv_bytes(recommendations_frame(recommendations)),
        "report.html": rendered.html_file.encode("utf-8"),
    }
    attachments = {name: content for name, content in files.items() if name not in NOT_FOR_LEADERSHIP}
    if not name_staff:
        attachments["scorecard.csv"] = csv_bytes(scorecard.drop(columns=list(STAFF_NAME_COLUMNS)))
    return QuarterlyReport(rendered, files, attachments)
