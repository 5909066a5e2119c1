"""Rendering the report and writing the run's files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from coaching.history import History
from coaching.recommendations import Improvement, Recommendation
from coaching.records import CheckedRecords
from coaching.report.assemble import QuarterlyReport, build_quarterly_report
from coaching.scoring import Targets
from config.settings import Settings

__all__ = ["QuarterlyReport", "render_quarterly_report", "write_files"]


@task(name="render", cache_policy=NO_CACHE)
def render_quarterly_report(
    history: History,
    recommendations: list[Recommendation],
    improved: list[Improvement],
    worsened: list[Improvement],
    checked: CheckedRecords,
    settings: Settings,
    targets: Targets,
    source_label: str,
    today: dt.date,
    sending: bool = False,
    force_resend: bool = False,
) -> QuarterlyReport:
    """`sending`: this run emails the report (it opens with "Updated version" only when it goes again)."""
    return build_quarterly_report(
        history.shown,
        recommendations,
        improved,
        checked,
        organisation=settings.organisation,
        source_label=source_label,
        today=today,
        targets=targets,
        min_responses_per_coach=settings.quality.min_responses_per_coach,
        declines=worsened,
        name_staff=settings.report_names_staff,
        record=history,
        sending=sending,
        force_resend=force_resend,
    )


@task(name="write-files", cache_policy=NO_CACHE)
def write_files(output_dir: Path, files: dict[str, bytes]) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = output_dir / name
        path.write_bytes(content)
        written.append(path)
    return written
