"""Rendering the report and writing the run's files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.mailers import build_mime_message
from coaching.email import OutgoingEmail
from coaching.history import History
from coaching.recipients import RecipientError
from coaching.recommendations import Improvement, Recommendation
from coaching.records import CheckedRecords
from coaching.report.assemble import QuarterlyReport, build_quarterly_report
from coaching.scoring import Targets
from config.settings import Settings

__all__ = ["QuarterlyReport", "preview_sentence", "render_quarterly_report", "write_files", "write_preview"]


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
    """`sending`: this run emails the report (it opens with "Updated version" only when it goes again).
    A plain function, not a task, like scoring (tasks/scoring.py): pure work in the flow run itself."""
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


@task(name="write-files", cache_policy=NO_CACHE, persist_result=False)
def write_files(output_dir: Path, files: dict[str, bytes]) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = output_dir / name
        path.write_bytes(content)
        written.append(path)
    return written


def write_preview(folder: Path, email: OutgoingEmail, name: str = "") -> Path:
    """The email as it would go, as an .eml file in `folder` (`preview-<kind>-<period>[-name].eml`), for
    a run that sends nothing: nothing is sent, and nothing is recorded in the ledger."""
    suffix = f"-{name}" if name else ""
    (path,) = write_files(
        folder, {f"preview-{email.kind}-{email.period}{suffix}.eml": bytes(build_mime_message(email))}
    )
    return path


def preview_sentence(folder: Path, build: Callable[[], OutgoingEmail | None], nothing_to_send: str = "") -> str:
    """For a run that sends nothing, in one sentence: where the email `build` makes was written
    (write_preview), why there is none (its recipients refused), or `nothing_to_send`."""
    try:
        email = build()
    except RecipientError as error:
        return f"No preview of the email: {error}"
    if email is None:
        return nothing_to_send
    return f"The email that would go is in {write_preview(folder, email)}."
