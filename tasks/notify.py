"""The nudges' and the notice's steps that touch the outside world, and the data-quality notice as
one call, for its own flow and for the quarterly flow when the quality threshold holds the report back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.ledger import DeliveryLedger
from coaching.notices import build_notice
from coaching.outputs import csv_bytes, data_quality_frame
from coaching.recipients import check_recipients
from coaching.records import CheckedRecords
from coaching.report.messages import data_quality_email
from config.settings import Settings
from config.wiring import build_ledger, build_mailer
from tasks.delivery import deliver_email, run_tags


@task(name="last-delivery", cache_policy=NO_CACHE)
def last_delivery(ledger: DeliveryLedger, kind: str, recipients: Sequence[str]) -> dict[str, object] | None:
    return ledger.last_sent(kind, recipients)


def steward_recipients(settings: Settings) -> tuple[str, ...]:
    """The configured data stewards, checked against the allowed domains."""
    return check_recipients(
        settings.data_stewards, settings.allowed_recipient_domains,
        "data_stewards (config/settings.yaml) or COACHING_DATA_STEWARDS",
    )


def send_data_quality_notice(
    settings: Settings,
    checked: CheckedRecords,
    *,
    source_label: str,
    run_date: dt.date,
    folder: Path,
    force_resend: bool = False,
    held_back: str | None = None,
) -> str:
    """Email the data stewards the open errors and warnings; one sentence saying what happened.

    Not sent when there is nothing to fix, or when the newest notice sent to the same stewards had
    the very same content (unless `force_resend`). `held_back` names the quarter whose leadership
    report this notice replaces: the blocking reasons (`checked.blocking`) then open the notice.
    The email goes through the configured mailer (the outbox is `folder/outbox`) and the ledger
    (kind "data_quality", period = `run_date`).
    """
    notice = build_notice(
        checked, settings.tabs.model_dump(), organisation=settings.organisation,
        source_label=source_label, held_back=held_back,
    )
    if not notice.has_issues:
        return "No data-quality notice: the records have no errors or warnings."
    email = data_quality_email(
        notice,
        sender=settings.email_from,
        recipients=steward_recipients(settings),
        period=run_date.isoformat(),
        data_quality_csv=csv_bytes(data_quality_frame(checked.issues)),
        tags={**run_tags(), **({"quarter": held_back} if held_back else {})},
    )
    ledger = build_ledger(settings)
    if not force_resend:
        last = last_delivery(ledger, email.kind, email.recipients)
        if last is not None and last["content_hash"] == email.content_hash:
            return (
                f"Data-quality notice not sent: unchanged since the notice of {last['period']} to "
                f"{last['recipients']} (use --force-resend to send it again)."
            )
    result = deliver_email(build_mailer(settings, folder / "outbox"), ledger, email, force_resend)
    return result.sentence
