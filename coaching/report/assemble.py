"""A quarter's scores, recommendations and checked records → the rendered report and the run's files.

One pure function, so that the flow's render task and the scale benchmark run the same code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from coaching.history import History
from coaching.metrics import satisfaction_by_coach, satisfaction_by_program
from coaching.outputs import csv_bytes, data_quality_frame, leadership_scorecard_frame, scorecard_frame
from coaching.quarterly import previous_scores
from coaching.quarters import Quarter
from coaching.recommendations import Improvement, Recommendation, recommendations_frame
from coaching.records import CheckedRecords
from coaching.report.model import ReportData
from coaching.report.render import MIN_COACHES, RenderedReport, render_report, report_content_hash, report_subject
from coaching.scoring import QuarterScores, Targets


# data_quality.csv holds the cells' values (names, notes): the data stewards get it, leadership does not.
NOT_FOR_LEADERSHIP = ("data_quality.csv",)


OTHER_PROGRAMS = "Other programs"


def satisfaction_groups(valid: Mapping[str, pd.DataFrame], quarter: Quarter, min_responses: int) -> pd.DataFrame:
    """Satisfaction per program (see coaching.metrics.satisfaction_by_program), with the programs too
    small to show on their own (fewer than MIN_COACHES coaches or `min_responses` responses) merged into
    one row "Other programs: A, B" when there are two or more of them; the report then shows or hides
    each row by the same two limits."""
    by_program = satisfaction_by_program(valid, quarter, min_responses)
    small = by_program["coaches"].lt(MIN_COACHES) | by_program["responses"].lt(min_responses)
    if small.sum() < 2:
        return by_program
    merged = f"{OTHER_PROGRAMS}: " + ", ".join(by_program.loc[small, "program_name"])
    survey = valid["satisfaction"]
    relabelled = survey.assign(
        program_id=survey["program_id"].mask(survey["program_id"].isin(by_program.loc[small, "program_id"]), merged)
    )
    programs = pd.concat([valid["programs"], pd.DataFrame({"program_id": [merged], "program_name": [merged]})])
    grouped = satisfaction_by_program(
        {**valid, "satisfaction": relabelled, "programs": programs}, quarter, min_responses
    )
    return grouped.assign(last=grouped["program_id"].eq(merged)).sort_values("last", kind="stable").drop(columns="last")


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
    sending: bool = False,
    force_resend: bool = False,
) -> QuarterlyReport:
    """The report as emailed, and scorecard.csv, data_quality.csv, recommendations.csv, report.html.

    With `record`, `history` is its `shown` list: earlier quarters as reported and restatements.
    A quarter delivered before opens with "Updated version" and what changed only when this version
    is `sending` and will go again: its figures differ from the version sent, or `force_resend`.
    A re-run of the same figures, or one that does not send, reads as the report itself.
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
        satisfaction_by_program=satisfaction_groups(checked.valid, current.quarter, min_responses_per_coach),
        declines=list(declines or []),
        name_staff=name_staff,
        reported_on={} if record is None else {q: v.delivered_on for q, v in record.as_reported.items()},
        restatements=[] if record is None else record.restatements,
        score_notes=checked.score_notes(),
    )
    files = {
        "scorecard.csv": csv_bytes(scorecard_frame(current)),
        "data_quality.csv": csv_bytes(data_quality_frame(checked.issues)),
        "recommendations.csv": csv_bytes(recommendations_frame(recommendations)),
    }
    attachments = {name: content for name, content in files.items() if name not in NOT_FOR_LEADERSHIP}
    # scorecard.csv's evidence says who each program's coaching lead is: kept whole in the output folder.
    attachments["scorecard.csv"] = csv_bytes(leadership_scorecard_frame(current, name_staff))
    last = None if record is None else record.last_sent
    if (
        record is not None
        and last is not None
        and sending
        and (force_resend or report_content_hash(report_subject(data), attachments) != last.content_hash)
    ):
        data.since_last_sent = record.since_last_sent or []
        data.resent_on_request = force_resend
    rendered = render_report(data)
    files["report.html"] = attachments["report.html"] = rendered.html_file.encode("utf-8")
    return QuarterlyReport(rendered, files, attachments)
