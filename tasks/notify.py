"""The nudges' and the notice's steps that touch the outside world, and the data-quality notice as
one call, for its own flow and for the quarterly flow when the quality threshold holds the report back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.ledger import DeliveryLedger, DeliveryReport
from adapters.mailers import Mailer
from coaching.email import EmailKind, OutgoingEmail
from coaching.notices import build_notice
from coaching.outputs import csv_bytes, data_quality_frame
from coaching.recipients import check_recipients
from coaching.records import CheckedRecords
from coaching.report.messages import data_quality_email
from config.settings import Settings
from tasks.delivery import deliver_email, force_hint, run_tags
from tasks.report import preview_sentence


@task(name="last-delivery", cache_policy=NO_CACHE)
def unchanged_notice(
    ledger: DeliveryLedger, kind: EmailKind, recipients: Sequence[str], content_hash: str, channel: str
) -> dict[str, object] | None:
    return ledger.unchanged_since(kind, recipients, content_hash, channel)


def steward_recipients(settings: Settings) -> tuple[str, ...]:
    """The configured data stewards, checked against the allowed domains."""
    return check_recipients(
        settings.data_stewards,
        settings.allowed_recipient_domains,
        "data_stewards (config/settings.yaml) or COACHING_DATA_STEWARDS",
    )


def data_quality_notice_email(
    settings: Settings,
    checked: CheckedRecords,
    *,
    source_label: str,
    run_date: dt.date,
    held_back: str | None = None,
) -> OutgoingEmail | None:
    """The data stewards' notice of the open errors and warnings (kind "data_quality", period =
    `run_date`); None when there is nothing to fix. `held_back` names the quarter whose leadership
    report this notice replaces: the blocking reasons (`checked.blocking`) then open the notice.
    Raises RecipientError when the stewards are not configured or not allowed."""
    notice = build_notice(
        checked,
        settings.tabs.model_dump(),
        organisation=settings.organisation,
        source_label=source_label,
        held_back=held_back,
    )
    if not notice.has_issues:
        return None
    return data_quality_email(
        notice,
        sender=settings.email_from,
        recipients=steward_recipients(settings),
        period=run_date.isoformat(),
        data_quality_csv=csv_bytes(data_quality_frame(checked.issues)),
        tags={**run_tags(), **({"quarter": held_back} if held_back else {})},
    )


NO_ISSUES = "No data-quality notice: the records have no errors or warnings."


def preview_data_quality_notice(
    settings: Settings,
    checked: CheckedRecords,
    *,
    source_label: str,
    run_date: dt.date,
    folder: Path,
    held_back: str | None = None,
) -> str:
    """For a run that sends nothing: where the notice that would go was written (nothing is sent or
    recorded), or why there is none."""
    return preview_sentence(
        folder,
        lambda: data_quality_notice_email(
            settings, checked, source_label=source_label, run_date=run_date, held_back=held_back
        ),
        NO_ISSUES,
    )


def send_data_quality_notice(
    settings: Settings,
    checked: CheckedRecords,
    *,
    source_label: str,
    run_date: dt.date,
    mailer: Mailer,
    ledger: DeliveryLedger,
    force_resend: bool = False,
    held_back: str | None = None,
) -> tuple[str, DeliveryReport | None]:
    """Email the data stewards the notice (`data_quality_notice_email`); one sentence saying what happened.

    Not sent when there is nothing to fix, or when the newest notice sent to the same stewards had
    the very same content (unless `force_resend`). `held_back` names the quarter whose leadership
    report this notice replaces: the blocking reasons (`checked.blocking`) then open the notice.
    The email goes through the run's mailer and ledger (kind EmailKind.DATA_QUALITY, period = `run_date`);
    the report is None when nothing was attempted.
    """
    email = data_quality_notice_email(
        settings, checked, source_label=source_label, run_date=run_date, held_back=held_back
    )
    if email is None:
        return NO_ISSUES, None
    if not force_resend:
        last = unchanged_notice(ledger, email.kind, email.recipients, email.content_hash, mailer.channel)
        if last is not None:
            return (
                f"Data-quality notice not sent: unchanged since the notice of {last['period']} to "
                f"{', '.join(email.recipients)} (use {force_hint()} to send it again).",
                None,
            )
    report = deliver_email(mailer, ledger, email, force_resend)
    return report.sentence, report
