"""Rendering the report and writing the run's files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from coaching.metrics import satisfaction_by_coach
from coaching.outputs import csv_bytes, data_quality_frame, scorecard_frame
from coaching.recommendations import Improvement, Recommendation, recommendations_frame
from coaching.records import CheckedRecords
from coaching.report.model import ReportData
from coaching.report.render import RenderedReport, render_report
from coaching.scoring import QuarterScores, Targets
from config.settings import Settings


@dataclass
class QuarterlyReport:
    rendered: RenderedReport
    files: dict[str, bytes]  # file name in the output folder -> content


@task(name="render", cache_policy=NO_CACHE)
def render_quarterly_report(
    history: list[QuarterScores],
    recommendations: list[Recommendation],
    improved: list[Improvement],
    checked: CheckedRecords,
    settings: Settings,
    source_label: str,
    today: dt.date,
) -> QuarterlyReport:
    current = history[-1]
    previous = history[-2] if len(history) > 1 and history[-2].quarter == current.quarter.previous else None
    targets = Targets(**settings.targets.model_dump())
    data = ReportData(
        organisation=settings.organisation,
        generated_on=today,
        source_label=source_label,
        current=current,
        previous=previous,
        history=history,
        recommendations=recommendations,
        improvements=improved,
        satisfaction=satisfaction_by_coach(
            checked.valid, current.quarter, settings.quality.min_responses_per_coach
        ),
        issues=checked.issues,
        rows_read=checked.rows_read,
        rows_quarantined=checked.rows_quarantined,
        targets=targets,
        min_responses_per_coach=settings.quality.min_responses_per_coach,
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


@task(name="write-files", cache_policy=NO_CACHE)
def write_files(output_dir: Path, files: dict[str, bytes]) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = output_dir / name
        path.write_bytes(content)
        written.append(path)
    return written
