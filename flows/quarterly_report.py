"""The quarterly coaching-effectiveness report: extract → validate → score → recommend → render → deliver.

    python -m flows.quarterly_report [--source PATH_OR_SHEET] [--quarter YYYY-Qn]
                                     [--output-dir DIR] [--no-send] [--force-resend]
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import State
from pydantic import Field

from adapters.ledger import DeliveryReport
from coaching.outputs import data_quality_frame, scorecard_frame
from coaching.quarterly import previous_scores, require_sessions_in, resolve_quarter, select_programs
from coaching.recipients import check_recipients
from coaching.recommendations import proposals
from coaching.report.render import build_report_email
from coaching.report.summary import summary_markdown
from coaching.quarters import Quarter
from coaching.scoring import Targets
from config.settings import Settings, load_settings
from config.wiring import REPORT_RECIPIENTS_VARIABLE, RunAdapters, build_run_adapters, report_recipients
from flows.cli import hide_tracebacks_of_pipeline_errors, run_command, run_name
from tasks.artifacts import publish_markdown, publish_table, readable_title
from tasks.delivery import deliver_email, finish_run, run_tags
from tasks.notify import send_data_quality_notice
from tasks.proposals import write_back_proposals
from tasks.records import extract_records, validate_records
from tasks.report import QuarterlyReport, render_quarterly_report, write_files
from tasks.scoring import recommend_actions, score_quarters


# In the parameter schema, so that the Run form in the UI refuses 2026-Q9 before a run starts.
QUARTER_PATTERN = r"^\s*(\d{4}-[Qq][1-4])?\s*$"  # blank: the last completed quarter


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


def _deliver_report(
    adapters: RunAdapters,
    settings: Settings,
    report: QuarterlyReport,
    quarter: str,
    force_resend: bool,
    recipients: list[str] | None,
) -> DeliveryReport:
    addresses = check_recipients(
        recipients or report_recipients(settings), settings.allowed_recipient_domains,
        "report_recipients (config/settings.yaml), COACHING_REPORT_RECIPIENTS or the Prefect Variable "
        f"'{REPORT_RECIPIENTS_VARIABLE}'",
    )
    email = build_report_email(
        report.rendered,
        sender=settings.email_from,
        recipients=addresses,
        files=report.files,
        tags={"quarter": quarter, **run_tags()},
    )
    assert adapters.mailer is not None, "built with send=True"
    return deliver_email(adapters.mailer, adapters.ledger, email, force_resend)


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
        send: Email the report (False writes the files only).
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
    require_sessions_in(valid, target, settings.tabs.coaching_log)
    history = score_quarters(valid, target, targets)
    recommendations, improved = recommend_actions(history, targets)
    report = render_quarterly_report(history, recommendations, improved, checked, settings, targets, raw.label, today)
    write_files(folder, report.files)
    if settings.sheets_write_back:
        _propose_in_sheet(adapters, settings, proposals(recommendations, target.label))

    sent: DeliveryReport | None = None
    if checked.blocked:
        delivery = "Not sent to leadership: too many rows with errors (" + "; ".join(checked.blocking) + ")."
        if adapters.mailer is not None:  # the data stewards hear about it instead, with the reasons first
            notice, sent = send_data_quality_notice(
                settings, checked, source_label=raw.label, run_date=today, mailer=adapters.mailer,
                ledger=adapters.ledger, force_resend=force_resend, held_back=target.label,
            )
            delivery += " " + notice
    elif adapters.mailer is None:
        delivery = "Not sent: sending was turned off for this run."
    else:
        sent = _deliver_report(adapters, settings, report, target.label, force_resend, recipients)
        delivery = sent.sentence
    logger.info(delivery)

    current = history[-1]
    previous = previous_scores(history)
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
    parser = argparse.ArgumentParser(
        prog="python -m flows.quarterly_report", description="Build and send the quarterly coaching-effectiveness report."
    )
    parser.add_argument("--source", help="an .xlsx export, or a Google Sheets URL or key (default: COACHING_SOURCE or the sample workbook)")
    parser.add_argument("--quarter", help="YYYY-Qn (default: the last completed quarter)")
    parser.add_argument("--output-dir", help="where to write the files (default: reports/<quarter>/)")
    parser.add_argument("--no-send", action="store_true", help="write the files but send no email")
    parser.add_argument("--force-resend", action="store_true", help="send even if this report was already sent")
    args = parser.parse_args(argv)

    def run() -> None:
        settings = load_settings()
        resolve_quarter(args.quarter, settings.today(), settings.fiscal_year_start_month)  # fail fast
        result = quarterly_report(
            quarter=args.quarter,
            source=args.source,
            send=not args.no_send,
            force_resend=args.force_resend,
            output_dir=args.output_dir,
        )
        print(f"{result.quarter}: report written to {result.output_dir / 'report.html'}")
        print(result.delivery)

    return run_command(run)


if __name__ == "__main__":
    raise SystemExit(main())
