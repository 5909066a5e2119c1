"""The data-quality notice: the data stewards hear what to fix in the records, before the quarter closes.

    python -m flows.data_quality [--source PATH_OR_SHEET] [--output-dir DIR] [--no-send] [--force-resend]

Writes data_quality.csv, and emails the open errors and warnings unless there are none or nothing
changed since the last notice to the same stewards.
"""

from __future__ import annotations

if __name__ == "__main__":  # the command line checks its arguments before the imports below (seconds)
    from flows.cli import data_quality_command, run_as_main

    run_as_main(data_quality_command)

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.states import State

from coaching.outputs import csv_bytes, data_quality_frame, redacted_data_quality_frame
from coaching.quarters import Quarter
from coaching.records import Severity
from coaching.report.summary import escape_markdown
from config.settings import Settings, load_settings
from config.wiring import RunAdapters, build_run_adapters
from flows.cli import (
    check_deployed_run_paths,
    collect_cycles_less_often,
    data_quality_command,
    hide_tracebacks_of_pipeline_errors,
)
from tasks.artifacts import publish_markdown, publish_table
from tasks.delivery import finish_run, name_failed_run, warn_of_unresolved
from tasks.notify import preview_data_quality_notice, send_data_quality_notice
from tasks.records import extract_records, validate_records
from tasks.report import write_files


@dataclass(frozen=True)
class DataQualityRunResult:
    run_date: str
    output_dir: Path
    errors: int
    warnings: int
    delivery: str  # what happened to the notice, in one sentence


def _run_name() -> str:
    return f"data-quality-{load_settings().today():%Y-%m-%d}"


# A run that outlasts this is stopped and marked TimedOut (failed), freeing its deployment's slot.
@flow(name="data_quality", flow_run_name=_run_name, log_prints=True, on_failure=[name_failed_run], timeout_seconds=1800)
def data_quality(
    source: str | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
) -> State:  # its result is a DataQualityRunResult
    """Check the records and email the data stewards what to fix.

    Args:
        source: An .xlsx export or a Google Sheets URL/key; default the configured source.
        send: Email the notice (False writes data_quality.csv and a preview .eml of the notice, and records nothing).
        force_resend: Send even if nothing changed since the last notice.
        output_dir: Where the files go; default a folder per run date in data-quality/ of reports_dir (COACHING_REPORTS_DIR, else reports/), e.g. reports/data-quality/2026-11-23/.
    """
    hide_tracebacks_of_pipeline_errors()  # a user error reads as its message in the UI too
    collect_cycles_less_often()  # a deployed run holds the whole workbook too
    settings = load_settings()
    check_deployed_run_paths(settings, source, output_dir)  # what the Run form may name
    today = settings.today()
    folder = settings.output_folder(output_dir, "data-quality", today.isoformat())

    with build_run_adapters(settings, source=source, outbox_dir=folder / "outbox", send=send) as adapters:
        warn_of_unresolved(adapters.ledger)  # repeated by every run until an admin resolves them
        return _check_and_notify(adapters, settings, today, folder, force_resend)


def _check_and_notify(
    adapters: RunAdapters, settings: Settings, today: dt.date, folder: Path, force_resend: bool
) -> State:
    logger = get_run_logger()
    raw = extract_records(adapters.source)
    # The volume check compares the last completed quarter with the one before: a quarter still
    # under way always has fewer rows.
    quarter = Quarter.last_completed(today, settings.fiscal_year_start_month)
    checked = validate_records(raw, settings, quarter, today)
    issues = data_quality_frame(checked.issues)
    write_files(folder, {"data_quality.csv": csv_bytes(issues)})
    errors = sum(issue.severity is Severity.ERROR for issue in checked.issues)

    report = None
    if adapters.mailer is None:
        delivery = "Data-quality notice not sent: sending was turned off for this run. " + preview_data_quality_notice(
            settings, checked, source_label=raw.label, run_date=today, folder=folder
        )
    else:
        delivery, report = send_data_quality_notice(
            settings,
            checked,
            source_label=raw.label,
            run_date=today,
            mailer=adapters.mailer,
            ledger=adapters.ledger,
            force_resend=force_resend,
        )
    logger.info(delivery)
    result = DataQualityRunResult(today.isoformat(), folder, errors, len(checked.issues) - errors, delivery)
    publish_markdown(
        "data-quality",
        f"# Data quality, {result.run_date}\n\n{result.errors} errors and {result.warnings} warnings in "
        f"{escape_markdown(raw.label)}.\n\n{escape_markdown(delivery)}\n",
        "Data-quality check and notice",
    )
    # Values (names, emails) stay in data_quality.csv and the stewards' notice: the UI follows the
    # leadership email's rule.
    publish_table(
        "data-quality-issues", redacted_data_quality_frame(checked.issues), "Data-quality errors and warnings"
    )
    logger.info("data_quality.csv written to %s", folder.resolve())
    return finish_run(result, report, "Data-quality notice", delivery)


def main(argv: list[str] | None = None) -> int:
    """The command line (flows/cli.py)."""
    return data_quality_command(argv)
