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

from prefect import flow, get_run_logger
from prefect.states import State
from pydantic import Field

from adapters.ledger import DeliveryReport, Outcome
from adapters.mailers import build_mime_message
from coaching.history import history_frame
from coaching.outputs import csv_bytes, data_quality_frame, scorecard_frame
from coaching.quarterly import previous_scores, require_sessions_in, resolve_quarter, select_programs
from coaching.email import OutgoingEmail
from coaching.recipients import RecipientError, check_recipients
from coaching.recommendations import proposals
from coaching.report.render import build_report_email
from coaching.report.summary import summary_markdown
from coaching.quarters import LABEL_PATTERN, Quarter
from coaching.scoring import Targets
from config.settings import Settings, load_settings
from config.wiring import REPORT_RECIPIENTS_VARIABLE, RunAdapters, build_run_adapters, report_recipients
from flows.cli import hide_tracebacks_of_pipeline_errors, quarterly_report_command, run_name
from tasks.artifacts import publish_markdown, publish_table, readable_title
from tasks.delivery import deliver_email, finish_run, run_tags
from tasks.history import reconcile_history, record_delivery
from tasks.notify import send_data_quality_notice
from tasks.proposals import write_back_proposals
from tasks.records import extract_records, validate_records
from tasks.report import QuarterlyReport, render_quarterly_report, write_files
from tasks.scoring import recommend_actions, score_quarters


# In the parameter schema, so that the Run form in the UI refuses 2026-Q9 before a run starts.
QUARTER_PATTERN = rf"^\s*({LABEL_PATTERN})?\s*$"  # blank: the last completed quarter


@dataclass(frozen=True)
class QuarterlyRunResult:
    quarter: str
    output_dir: Path
    delivery: str  # what happened to the email, in one sentence
    blocked: bool


def _run_name() -> str:
    settings = load_settings()
    return run_name(
        "quarterly", "quarter", lambda asked: resolve_quarter(asked, settings.today(), settings.fiscal_year_start_month)
    )


def _report_email(
    settings: Settings, report: QuarterlyReport, quarter: str, recipients: list[str] | None
) -> OutgoingEmail:
    addresses = check_recipients(
        recipients or report_recipients(settings), settings.allowed_recipient_domains,
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


def _preview(settings: Settings, report: QuarterlyReport, quarter: str, folder: Path, recipients: list[str] | None) -> str:
    try:
        email = _report_email(settings, report, quarter, recipients)
    except RecipientError as error:
        return f"No preview of the email: {error}"
    # Nothing is sent or recorded: the email as it would go, as an .eml file beside the report.
    (path,) = write_files(folder, {f"preview-{email.kind}-{email.period}.eml": bytes(build_mime_message(email))})
    return f"The email that would go is in {path}."


def _propose_in_sheet(adapters: RunAdapters, settings: Settings, rows: list[dict[str, object]]) -> None:
    logger = get_run_logger()
    writer = adapters.proposal_writer
    if writer is None:
        logger.warning("sheets_write_back is on, but proposals can only be written to a Google Sheets source.")
        return
    added = write_back_proposals(writer, settings.tabs.improvement_actions, rows)
    logger.info("%d new proposals added to the '%s' tab.", added, settings.tabs.improvement_actions)


# A run that outlasts this is stopped and marked TimedOut (failed), freeing its deployment's slot.
@flow(name="quarterly_report", flow_run_name=_run_name, log_prints=True, timeout_seconds=3600)
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
        output_dir: Where the files go; default a folder per quarter in reports/, e.g. reports/2026-Q3/.
        recipients: Who gets this report instead of the configured recipients (each address must be
            within the allowed domains); default the configured ones.
    """
    hide_tracebacks_of_pipeline_errors()  # a user error reads as its message in the UI too
    settings = load_settings()
    today = settings.today()
    target = resolve_quarter(quarter, today, settings.fiscal_year_start_month)
    folder = Path(output_dir or Path("reports") / target.label)
    with build_run_adapters(settings, source=source, outbox_dir=folder / "outbox", send=send) as adapters:
        return _report(adapters, settings, today, target, folder, programs, force_resend, recipients)


def _report(
    adapters: RunAdapters,
    settings: Settings,
    today: dt.date,
    target: Quarter,
    folder: Path,
    programs: list[str] | None,
    force_resend: bool,
    recipients: list[str] | None,
) -> State:
    logger = get_run_logger()
    targets = Targets(**settings.targets.model_dump())
    raw = extract_records(adapters.source)
    checked = validate_records(raw, settings, target, today)
    valid = select_programs(checked.valid, programs)
    if not checked.blocked:  # a quarter whose rows are all errors is blocked, never "no data"
        require_sessions_in(valid, target, settings.tabs.coaching_log)
    history = reconcile_history(adapters.report_history, valid, score_quarters(valid, target, targets), targets)
    recommendations, improved, worsened = recommend_actions(
        history.shown, targets, name_staff=settings.report_names_staff, quarter_over=today > target.end
    )
    report = render_quarterly_report(
        history, recommendations, improved, worsened, checked, settings, targets, raw.label, today
    )
    write_files(folder, report.files)
    if settings.sheets_write_back:
        _propose_in_sheet(adapters, settings, proposals(recommendations, target.label))

    sent: DeliveryReport | None = None
    if checked.blocked:
        delivery = "Not sent to leadership: " + "; ".join(checked.blocking) + "."
        if adapters.mailer is not None:  # the data stewards hear about it instead, with the reasons first
            notice, sent = send_data_quality_notice(
                settings, checked, source_label=raw.label, run_date=today, mailer=adapters.mailer,
                ledger=adapters.ledger, force_resend=force_resend, held_back=target.label,
            )
            delivery += " " + notice
    elif adapters.mailer is None:
        delivery = "Not sent: sending was turned off for this run. " + _preview(
            settings, report, target.label, folder, recipients
        )
    else:
        email = _report_email(settings, report, target.label, recipients)
        sent = deliver_email(adapters.mailer, adapters.ledger, email, force_resend)
        delivery = sent.sentence
        # Delivered to someone (or into the outbox): what it said is kept. Already sent with no record of
        # the quarter (sent before the record existed, or a run stopped in between): the same figures.
        if sent.of(Outcome.SENT) or (sent.outcome is Outcome.ALREADY_SENT and history.last_sent is None):
            history = record_delivery(adapters.report_history, valid, history, email.content_hash)
    write_files(folder, {"history.csv": csv_bytes(history_frame(history))})
    logger.info(delivery)

    current = history.current
    previous = previous_scores(history.shown)
    summary = summary_markdown(current, previous, recommendations, checked.blocking, delivery, str(folder.resolve()))
    key = f"quarterly-{target.label.lower()}"
    publish_markdown(f"{key}-summary", summary, "Headline and recommendations")
    publish_table(f"{key}-scorecard", scorecard_frame(current).rename(columns=readable_title), "Scorecard")
    publish_table(f"{key}-data-quality", data_quality_frame(checked.issues), "Data-quality errors and warnings")
    logger.info("Report for %s written to %s", target.label, folder.resolve())
    result = QuarterlyRunResult(target.label, folder, delivery, checked.blocked)
    # Held back, the report itself was not sent, whatever happened to the stewards' notice.
    return finish_run(
        result, sent, f"Quarterly report for {target.label}", delivery, "held-back" if checked.blocked else None
    )


def main(argv: list[str] | None = None) -> int:
    """The command line (flows/cli.py)."""
    return quarterly_report_command(argv)
