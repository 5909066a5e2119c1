"""Sending an email once, through the ledger."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

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
