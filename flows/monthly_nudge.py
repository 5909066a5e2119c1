"""The monthly coaching nudge: after each month, each program's coaching lead hears whom to coach.

    python -m flows.monthly_nudge [--month YYYY-MM] [--source PATH_OR_SHEET] [--output-dir DIR]
                                  [--no-send] [--force-resend]

The lead's address comes from the Staff tab, so it is used only within the allowed recipient
domains; a program whose lead cannot be reached is skipped, and the run says why.
"""

from __future__ import annotations

if __name__ == "__main__":  # the command line checks its arguments before the imports below (seconds)
    from flows.cli import monthly_nudge_command, run_as_main

    run_as_main(monthly_nudge_command)

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import pandas as pd
from prefect import flow, get_run_logger
from prefect.states import State
from pydantic import Field

from adapters.ledger import DeliveryLedger, DeliveryReport
from adapters.mailers import Mailer
from coaching.nudges import ProgramNudge, nudge_recipients, plan_nudges, require_sessions_in, resolve_month
from coaching.quarterly import select_programs
from coaching.quarters import Quarter
from coaching.report.messages import nudge_email
from coaching.report.summary import escape_markdown
from config.settings import Settings, load_settings
from config.wiring import RunAdapters, build_run_adapters
from flows.cli import (
    check_deployed_run_paths,
    collect_cycles_less_often,
    hide_tracebacks_of_pipeline_errors,
    monthly_nudge_command,
    run_name,
)
from tasks.artifacts import publish_markdown
from tasks.delivery import deliver_email, finish_run, name_failed_run, run_tags, warn_of_unresolved
from tasks.records import extract_records, validate_records
from tasks.report import write_preview

# In the parameter schema, so that the Run form in the UI refuses 2026-13 before a run starts.
MONTH_PATTERN = r"^\s*(\d{4}-(0?[1-9]|1[0-2]))?\s*$"  # blank: the last completed month
NOTHING_TO_REPORT = (
    "Nothing to report (everyone coached, nobody past the 45 days, every session from observation "
    "plus another source): no email."
)


@dataclass(frozen=True)
class NudgeOutcome:
    program_id: str
    program_name: str
    # "sent", "already_sent", "unknown", "failed" (the ledger's Outcome), "skipped", "nothing_to_report", "not_sent"
    status: str
    message: str
    delivery: DeliveryReport | None = None  # when a send was attempted

    @property
    def line(self) -> str:
        return f"{self.program_id} ({self.program_name}): {self.message}"


@dataclass(frozen=True)
class NudgeRunResult:
    month: str
    output_dir: Path
    outcomes: tuple[NudgeOutcome, ...]

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def summary(self) -> str:
        """ "2026-08: 2 nudges sent, 2 skipped."""
        labels = {
            "sent": "sent",
            "already_sent": "already sent before",
            "unknown": "of unknown outcome",
            "failed": "not delivered",
            "not_sent": "not sent (sending off)",
            "skipped": "skipped",
            "nothing_to_report": "with nothing to report",
        }
        parts = [f"{self.count(status)} {label}" for status, label in labels.items() if self.count(status)]
        return f"{self.month}: {len(self.outcomes)} program(s): " + ", ".join(parts) + "."


def _run_name() -> str:
    return run_name("nudge", "month", lambda asked: resolve_month(asked, load_settings().today()))


def _nudge(
    nudge: ProgramNudge,
    settings: Settings,
    mailer: Mailer | None,
    ledger: DeliveryLedger,
    force_resend: bool,
    folder: Path,
) -> NudgeOutcome:
    def outcome(status: str, message: str, delivery: DeliveryReport | None = None) -> NudgeOutcome:
        return NudgeOutcome(nudge.program_id, nudge.program_name, status, message, delivery)

    if not nudge.has_news:
        return outcome("nothing_to_report", NOTHING_TO_REPORT)
    recipients, reason = nudge_recipients(nudge, settings.allowed_recipient_domains)
    if not recipients:
        return outcome("skipped", f"Not sent: {reason}.")
    email = nudge_email(
        nudge, organisation=settings.organisation, sender=settings.email_from, recipients=recipients, tags=run_tags()
    )
    if mailer is None:  # nothing is sent or recorded: the email as it would go, as an .eml file
        path = write_preview(folder, email, nudge.program_id)
        return outcome(
            "not_sent",
            f"Not sent to {', '.join(recipients)}: sending was turned off for this run. The email that would go "
            f"is in {path}.",
        )
    report = deliver_email(mailer, ledger, email, force_resend)
    return outcome(report.outcome.value, report.sentence, report)


def _deliveries(outcomes: tuple[NudgeOutcome, ...]) -> DeliveryReport | None:
    """Every attempted send of the run as one report, each recipient's line saying which program it is
    for; None when nothing was attempted."""
    results = tuple(
        replace(result, message=f"{outcome.program_id} ({outcome.program_name}): {result.message}")
        for outcome in outcomes
        if outcome.delivery is not None
        for result in outcome.delivery.results
    )
    return DeliveryReport(results) if results else None


def _summary_markdown(result: NudgeRunResult) -> str:
    lines = [f"# Monthly coaching nudge, {result.month}", "", result.summary, ""]
    lines += [
        f"- **{escape_markdown(outcome.program_id)}** {escape_markdown(outcome.program_name)}: "
        f"{escape_markdown(outcome.message)}"
        for outcome in result.outcomes
    ]
    return "\n".join(lines) + "\n"


# A run that outlasts this is stopped and marked TimedOut (failed), freeing its deployment's slot.
@flow(
    name="monthly_nudge", flow_run_name=_run_name, log_prints=True, on_failure=[name_failed_run], timeout_seconds=1800
)
def monthly_nudge(
    month: Annotated[str | None, Field(pattern=MONTH_PATTERN)] = None,
    source: str | None = None,
    programs: list[str] | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
) -> State:  # its result is a NudgeRunResult
    """Email each program's coaching lead who was not coached in a month, and what to improve.

    Args:
        month: The month to look back on, as YYYY-MM (e.g. 2026-08); default the last completed one.
        source: An .xlsx export or a Google Sheets URL/key; default the configured source.
        programs: Program IDs or names to include; default every program.
        send: Email the nudges (False writes each nudge that would go as a preview .eml, and records nothing).
        force_resend: Send even if the same nudge was already sent.
        output_dir: Where the outbox goes; default a folder per month in nudges/ of reports_dir (COACHING_REPORTS_DIR, else reports/), e.g. reports/nudges/2026-08/.
    """
    hide_tracebacks_of_pipeline_errors()  # a user error reads as its message in the UI too
    collect_cycles_less_often()  # a deployed run holds the whole workbook too
    settings = load_settings()
    check_deployed_run_paths(settings, source, output_dir)  # what the Run form may name
    today = settings.today()
    target = resolve_month(month, today)
    folder = settings.output_folder(output_dir, "nudges", str(target))
    with build_run_adapters(settings, source=source, outbox_dir=folder / "outbox", send=send) as adapters:
        warn_of_unresolved(adapters.ledger)  # repeated by every run until an admin resolves them
        return _nudge_leads(adapters, settings, today, target, folder, programs, force_resend)


def _nudge_leads(
    adapters: RunAdapters,
    settings: Settings,
    today: dt.date,
    target: pd.Period,
    folder: Path,
    programs: list[str] | None,
    force_resend: bool,
) -> State:
    logger = get_run_logger()
    raw = extract_records(adapters.source)
    quarter = Quarter.containing(target.start_time.date(), settings.fiscal_year_start_month)
    checked = validate_records(raw, settings, quarter, today)
    valid = select_programs(checked.valid, programs)
    require_sessions_in(valid["coaching_log"], target, settings.tabs.coaching_log)
    nudges = plan_nudges(valid, target, today)

    # Each lead separately: a refused or lost send for one lead does not stop the others.
    outcomes = tuple(
        _nudge(nudge, settings, adapters.mailer, adapters.ledger, force_resend, folder) for nudge in nudges
    )
    result = NudgeRunResult(str(target), folder, outcomes)
    for outcome in outcomes:
        (logger.warning if outcome.status in ("skipped", "unknown", "failed") else logger.info)(outcome.line)
    logger.info(result.summary)
    publish_markdown(f"nudge-{target}", _summary_markdown(result), f"Monthly coaching nudge for {target}")
    return finish_run(result, _deliveries(outcomes), f"Monthly coaching nudge for {target}", result.summary)


def main(argv: list[str] | None = None) -> int:
    """The command line (flows/cli.py)."""
    return monthly_nudge_command(argv)
