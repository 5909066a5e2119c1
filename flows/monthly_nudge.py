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

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger

from adapters.ledger import DeliveryLedger
from adapters.mailers import Mailer
from coaching.nudges import ProgramNudge, nudge_recipients, plan_nudges, require_sessions_in, resolve_month
from coaching.quarterly import select_programs
from coaching.quarters import Quarter
from coaching.report.messages import nudge_email
from coaching.report.summary import escape_markdown
from config.settings import Settings, load_settings
from config.wiring import build_ledger, build_mailer, build_source
from flows.cli import hide_tracebacks_of_pipeline_errors, monthly_nudge_command, run_name
from tasks.delivery import deliver_email, run_tags
from tasks.artifacts import publish_markdown
from tasks.records import extract_records, validate_records

NOTHING_TO_REPORT = (
    "Nothing to report (everyone coached, nobody past the 45 days, every session from observation "
    "plus another source): no email."
)


@dataclass(frozen=True)
class NudgeOutcome:
    program_id: str
    program_name: str
    status: str  # "sent", "already_sent", "unknown" (the ledger's), "skipped", "nothing_to_report", "not_sent"
    message: str

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
        """"2026-08: 2 nudges sent, 2 skipped."""
        labels = {
            "sent": "sent", "already_sent": "already sent before", "unknown": "of unknown outcome",
            "not_sent": "not sent (sending off)", "skipped": "skipped", "nothing_to_report": "with nothing to report",
        }
        parts = [f"{self.count(status)} {label}" for status, label in labels.items() if self.count(status)]
        return f"{self.month}: {len(self.outcomes)} program(s): " + ", ".join(parts) + "."


def _run_name() -> str:
    return run_name("nudge", "month", lambda asked: resolve_month(asked, load_settings().today()))


def _nudge(
    nudge: ProgramNudge, settings: Settings, mailer: Mailer | None, ledger: DeliveryLedger, force_resend: bool
) -> NudgeOutcome:
    def outcome(status: str, message: str) -> NudgeOutcome:
        return NudgeOutcome(nudge.program_id, nudge.program_name, status, message)

    if not nudge.has_news:
        return outcome("nothing_to_report", NOTHING_TO_REPORT)
    recipients, reason = nudge_recipients(nudge, settings.allowed_recipient_domains)
    if not recipients:
        return outcome("skipped", f"Not sent: {reason}.")
    if mailer is None:
        return outcome("not_sent", f"Not sent to {', '.join(recipients)}: sending was turned off for this run.")
    email = nudge_email(
        nudge, organisation=settings.organisation, sender=settings.email_from, recipients=recipients, tags=run_tags()
    )
    result = deliver_email(mailer, ledger, email, force_resend)
    return outcome(result.outcome.value, result.sentence)


def _summary_markdown(result: NudgeRunResult) -> str:
    lines = [f"# Monthly coaching nudge, {result.month}", "", result.summary, ""]
    lines += [
        f"- **{escape_markdown(outcome.program_id)}** {escape_markdown(outcome.program_name)}: "
        f"{escape_markdown(outcome.message)}"
        for outcome in result.outcomes
    ]
    return "\n".join(lines) + "\n"


@flow(name="monthly_nudge", flow_run_name=_run_name, log_prints=True)
def monthly_nudge(
    month: str | None = None,
    source: str | None = None,
    programs: list[str] | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
) -> NudgeRunResult:
    """Email each program's coaching lead who was not coached in a month, and what to improve.

    Args:
        month: The month to look back on, as YYYY-MM (e.g. 2026-08); default the last completed one.
        source: An .xlsx export or a Google Sheets URL/key; default the configured source.
        programs: Program IDs or names to include; default every program.
        send: Email the nudges (False only says what would be sent).
        force_resend: Send even if the same nudge was already sent.
        output_dir: Where the outbox goes; default a folder per month in reports/nudges/, e.g. reports/nudges/2026-08/.
    """
    hide_tracebacks_of_pipeline_errors()  # a user error reads as its message in the UI too
    logger = get_run_logger()
    settings = load_settings()
    today = settings.today()
    target = resolve_month(month, today)
    folder = Path(output_dir or Path("reports") / "nudges" / str(target))

    raw = extract_records(build_source(settings, source))
    quarter = Quarter.containing(target.start_time.date(), settings.fiscal_year_start_month)
    checked = validate_records(raw, settings, quarter, today)
    valid = select_programs(checked.valid, programs)
    require_sessions_in(valid["coaching_log"], target, settings.tabs.coaching_log)
    nudges = plan_nudges(valid, target, today)

    mailer = build_mailer(settings, folder / "outbox") if send else None
    ledger = build_ledger(settings)
    outcomes = tuple(_nudge(nudge, settings, mailer, ledger, force_resend) for nudge in nudges)
    result = NudgeRunResult(str(target), folder, outcomes)
    for outcome in outcomes:
        (logger.warning if outcome.status in ("skipped", "unknown") else logger.info)(outcome.line)
    logger.info(result.summary)
    publish_markdown(f"nudge-{target}", _summary_markdown(result), f"Monthly coaching nudge for {target}")
    return result


def main(argv: list[str] | None = None) -> int:
    """The command line (flows/cli.py)."""
    return monthly_nudge_command(argv)
