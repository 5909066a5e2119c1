"""The quarterly coaching-effectiveness report: extract → validate → score → recommend → render → deliver.

python -m flows.quarterly_report [--source PATH_OR_SHEET] [--quarter YYYY-Qn]
                                 [--output-dir DIR] [--no-send] [--force-resend]
"""

from __future__ import annotations

if __name__ == "__main__":  # the command line checks its arguments before the imports below (seconds)
    from flows.cli import quarterly_report_command, run_as_main

    run_as_main(quarterly_report_command)

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
from prefect import flow, get_run_logger
from prefect.states import State
from pydantic import Field

from adapters.ledger import DeliveryReport, Outcome
from coaching.email import OutgoingEmail
from coaching.history import History, history_frame
from coaching.outputs import csv_bytes, leadership_scorecard_frame, redacted_data_quality_frame
from coaching.quarterly import previous_scores, require_sessions_in, resolve_quarter, select_programs
from coaching.recipients import check_recipients
from coaching.recommendations import proposals
from coaching.records import CheckedRecords
from coaching.report.render import build_report_email
from coaching.report.summary import summary_markdown
from coaching.quarters import LABEL_PATTERN, Quarter
from coaching.scoring import Targets
from config.settings import Settings, load_settings
from config.wiring import REPORT_RECIPIENTS_VARIABLE, RunAdapters, build_run_adapters, report_recipients
from flows.cli import (
    check_deployed_run_paths,
    collect_cycles_less_often,
    hide_tracebacks_of_pipeline_errors,
    quarterly_report_command,
    run_name,
)
from tasks.artifacts import publish_markdown, publish_table, readable_title
from tasks.delivery import deliver_email, finish_run, name_failed_run, report_word, run_tags, warn_of_unresolved
from tasks.history import reconcile_history, record_delivery
from tasks.notify import preview_data_quality_notice, send_data_quality_notice
from tasks.proposals import write_back_proposals
from tasks.records import extract_records, validate_records
from tasks.report import QuarterlyReport, preview_sentence, render_quarterly_report, write_files
from tasks.scoring import recommend_actions, score_quarters

# In the parameter schema, so that the Run form in the UI refuses 2026-Q9 before a run starts.
QUARTER_PATTERN = rf"^\s*({LABEL_PATTERN})?\s*$"  # blank: the last completed quarter


@dataclass(frozen=True)
class QuarterlyRunResult:
    quarter: str
    output_dir: Path
    delivery: str  # what happened to the email, in one sentence
    blocked: bool
    outcome: str  # the same in one word, as the run's name ends: sent, already-sent, held-back, not-sent


@dataclass(frozen=True)
class ReportRequest:
    """What a person asks of one quarterly report (the flow's parameters other than the source)."""

    quarter: str | None = None
    programs: list[str] | None = None
    send: bool = True
    force_resend: bool = False
    output_dir: str | None = None
    recipients: list[str] | None = None


def _run_name() -> str:
    settings = load_settings()
    return run_name(
        "quarterly", "quarter", lambda asked: resolve_quarter(asked, settings.today(), settings.fiscal_year_start_month)
    )


def _report_email(
    settings: Settings, report: QuarterlyReport, quarter: str, recipients: list[str] | None
) -> OutgoingEmail:
    addresses = check_recipients(
        recipients or report_recipients(settings),
        settings.allowed_recipient_domains,
        "report_recipients (config/settings.yaml), COACHING_REPORT_RECIPIENTS or the Prefect Variable "
        f"'{REPORT_RECIPIENTS_VARIABLE}'",
    )
    return build_report_email(
        report.rendered,
        sender=settings.email_from,
        recipients=addresses,
        files=report.attachments,
        tags={"quarter": quarter, **run_tags()},
    )


def _preview(
    settings: Settings, report: QuarterlyReport, quarter: str, folder: Path, recipients: list[str] | None
) -> str:
    return preview_sentence(folder, lambda: _report_email(settings, report, quarter, recipients))


def _propose_in_sheet(adapters: RunAdapters, settings: Settings, rows: list[dict[str, object]]) -> None:
    logger = get_run_logger()
    writer = adapters.proposal_writer
    if writer is None:
        logger.warning("sheets_write_back is on, but proposals can only be written to a Google Sheets source.")
        return
    added = write_back_proposals(writer, settings.tabs.improvement_actions, rows)
    logger.info("%d new proposals added to the '%s' tab.", added, settings.tabs.improvement_actions)


# A run that outlasts this is stopped and marked TimedOut (failed), freeing its deployment's slot.
@flow(
    name="quarterly_report",
    flow_run_name=_run_name,
    log_prints=True,
    on_failure=[name_failed_run],
    timeout_seconds=3600,
)
def quarterly_report(
    quarter: Annotated[str | None, Field(pattern=QUARTER_PATTERN)] = None,
    source: str | None = None,
    programs: list[str] | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
    recipients: list[str] | None = None,
) -> State:  # its result is a QuarterlyRunResult
    """Score every program for a quarter and email leadership the report.

    Args:
        quarter: The quarter to report on, as YYYY-Qn (e.g. 2026-Q3); default the last completed one.
        source: An .xlsx export or a Google Sheets URL/key; default the configured source.
        programs: Program IDs or names to include; default every program.
        send: Email the report (False writes the files and a preview .eml of the email, and records nothing).
        force_resend: Send even if this exact report was already sent.
        output_dir: Where the files go; default a folder per quarter in reports_dir (COACHING_REPORTS_DIR, else reports/), e.g. reports/2026-Q3/.
        recipients: Who gets this report instead of the configured recipients (each address must be
            within the allowed domains); default the configured ones.
    """
    hide_tracebacks_of_pipeline_errors()  # a user error reads as its message in the UI too
    collect_cycles_less_often()  # a deployed run holds the whole workbook too
    settings = load_settings()
    check_deployed_run_paths(settings, source, output_dir)  # what the Run form may name
    request = ReportRequest(quarter, programs, send, force_resend, output_dir, recipients)
    return report_quarter(settings, request, source=source)


def report_quarter(
    settings: Settings, request: ReportRequest, *, source: str | None = None, adapters: RunAdapters | None = None
) -> State:
    """One agency's quarterly report with `settings`, inside a flow run (the single agency's flow, or
    one agency of a network). Builds the run's adapters from the settings unless given `adapters`."""
    today = settings.today()
    target = resolve_quarter(request.quarter, today, settings.fiscal_year_start_month)
    folder = settings.output_folder(request.output_dir, target.label)
    if adapters is not None:
        return _report(adapters, settings, today, target, folder, request)
    with build_run_adapters(settings, source=source, outbox_dir=folder / "outbox", send=request.send) as built:
        return _report(built, settings, today, target, folder, request)


def _report(
    adapters: RunAdapters, settings: Settings, today: dt.date, target: Quarter, folder: Path, request: ReportRequest
) -> State:
    logger = get_run_logger()
    warn_of_unresolved(adapters.ledger)  # repeated by every run until an admin resolves them
    targets = Targets(**settings.targets.model_dump())
    raw = extract_records(adapters.source)
    checked = validate_records(raw, settings, target, today)
    valid = select_programs(checked.valid, request.programs)
    if not checked.blocked:  # a quarter whose rows are all errors is blocked, never "no data"
        require_sessions_in(valid, target, settings.tabs.coaching_log)
    history = reconcile_history(adapters.report_history, valid, score_quarters(valid, target, targets), targets)
    recommendations, improved, worsened = recommend_actions(
        history.shown, targets, name_staff=settings.report_names_staff, quarter_over=today > target.end
    )
    report = render_quarterly_report(
        history,
        recommendations,
        improved,
        worsened,
        checked,
        settings,
        targets,
        raw.label,
        today,
        sending=adapters.mailer is not None and not checked.blocked,
        force_resend=request.force_resend,
    )
    write_files(folder, report.files)
    if settings.sheets_write_back:
        _propose_in_sheet(adapters, settings, proposals(recommendations, target.label))

    delivered = deliver_quarterly_report(
        adapters, settings, Delivery(report, checked, valid, history, target.label, raw.label, today, folder), request
    )
    history = delivered.history
    write_files(folder, {"history.csv": csv_bytes(history_frame(history))})
    logger.info(delivered.sentence)

    current = history.current
    previous = previous_scores(history.shown)
    summary = summary_markdown(
        current, previous, recommendations, checked.blocking, delivered.sentence, str(folder.resolve())
    )
    key = f"quarterly-{target.label.lower()}"
    publish_markdown(f"{key}-summary", summary, "Headline and recommendations")
    # The same rule as the leadership email: no cell's value, no staff name unless report_names_staff.
    scorecard = leadership_scorecard_frame(current, settings.report_names_staff)
    publish_table(f"{key}-scorecard", scorecard.rename(columns=readable_title), "Scorecard")
    publish_table(
        f"{key}-data-quality", redacted_data_quality_frame(checked.issues), "Data-quality errors and warnings"
    )
    logger.info("Report for %s written to %s", target.label, folder.resolve())
    # Held back, the report itself was not sent, whatever happened to the stewards' notice.
    word = "held-back" if checked.blocked else report_word(delivered.report)
    result = QuarterlyRunResult(target.label, folder, delivered.sentence, checked.blocked, word)
    return finish_run(result, delivered.report, f"Quarterly report for {target.label}", delivered.sentence, word)


@dataclass(frozen=True)
class Delivery:
    """A rendered quarterly report and what it was made from, ready to go."""

    report: QuarterlyReport
    checked: CheckedRecords
    valid: dict[str, pd.DataFrame]
    history: History
    quarter: str
    source_label: str
    today: dt.date
    folder: Path


@dataclass(frozen=True)
class Delivered:
    sentence: str  # what happened to the email, in one sentence
    report: DeliveryReport | None  # None when nothing was attempted
    history: History  # with the quarter as reported when it went out


def deliver_quarterly_report(
    adapters: RunAdapters, settings: Settings, delivery: Delivery, request: ReportRequest
) -> Delivered:
    """Send the report to leadership once (or, held back, the data stewards the reasons), keep what
    a delivered report said, or write a preview when sending is off."""
    checked, history, quarter = delivery.checked, delivery.history, delivery.quarter
    if checked.blocked:
        sentence = "Not sent to leadership: " + "; ".join(checked.blocking) + "."
        if adapters.mailer is None:
            preview = preview_data_quality_notice(
                settings,
                checked,
                source_label=delivery.source_label,
                run_date=delivery.today,
                folder=delivery.folder,
                held_back=quarter,
            )
            return Delivered(
                f"{sentence} The data stewards' notice was not sent either: sending was turned off for this run. {preview}",
                None,
                history,
            )
        # The data stewards hear about it instead, with the reasons first.
        notice, sent = send_data_quality_notice(
            settings,
            checked,
            source_label=delivery.source_label,
            run_date=delivery.today,
            mailer=adapters.mailer,
            ledger=adapters.ledger,
            force_resend=request.force_resend,
            held_back=quarter,
        )
        return Delivered(f"{sentence} {notice}", sent, history)
    if adapters.mailer is None:
        preview = _preview(settings, delivery.report, quarter, delivery.folder, request.recipients)
        return Delivered("Not sent: sending was turned off for this run. " + preview, None, history)
    email = _report_email(settings, delivery.report, quarter, request.recipients)
    sent = deliver_email(adapters.mailer, adapters.ledger, email, request.force_resend)
    # Delivered to someone (or into the outbox): what it said is kept. Already sent with no record of
    # the quarter (sent before the record existed, or a run stopped in between): the same figures.
    if sent.of(Outcome.SENT) or (sent.outcome is Outcome.ALREADY_SENT and history.last_sent is None):
        history = record_delivery(adapters.report_history, delivery.valid, history, email.content_hash)
    return Delivered(sent.sentence, sent, history)


def main(argv: list[str] | None = None) -> int:
    """The command line (flows/cli.py)."""
    return quarterly_report_command(argv)
