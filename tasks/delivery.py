"""Sending an email once, through the ledger."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from adapters.ledger import DeliveryLedger, DeliveryResult
from adapters.mailers import Mailer
from coaching.email import OutgoingEmail


# Retries live in the mailer (bounded, only for 429/5xx/timeouts). A Prefect retry here would go
# through the ledger again and find the first attempt's record, which is what we want anyway.
@task(name="deliver", cache_policy=NO_CACHE)
def deliver_email(
    mailer: Mailer, ledger: DeliveryLedger, email: OutgoingEmail, force_resend: bool
) -> DeliveryResult:
    return ledger.send_once(mailer, email, force=force_resend)


def run_tags() -> dict[str, str]:
    """What a mailer may pass on to track an email back to the run that sent it."""
    return {"run_id": str(flow_run.id or "local")}
