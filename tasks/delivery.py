"""Sending an email once per recipient, through the ledger, and what a run says about it."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run

from adapters.ledger import DeliveryLedger, DeliveryReport, DeliveryResult, Outcome
from adapters.mailers import Mailer, address_problem
from coaching.email import OutgoingEmail
from coaching.records import PipelineError

# Delivery runs hold this Prefect global concurrency limit (created by `make stack`), so that
# overlapping runs of any deployment reach the ledger's check-and-send one at a time.
DELIVERY_CONCURRENCY_LIMIT = "coaching-delivery"


class DeliveryIncomplete(PipelineError):
    """Some recipients did not get an email, or may not have: the run fails so that a person looks."""


# Retries live in the mailer (bounded, and never once the request has left). A Prefect retry
# here would go through the ledger again and find the first attempt's record anyway.
@task(name="deliver", cache_policy=NO_CACHE)
def deliver_email(
    mailer: Mailer, ledger: DeliveryLedger, email: OutgoingEmail, force_resend: bool
) -> DeliveryReport:
    """Each recipient gets the email separately; an address that is not one gets nothing (and
    is reported), and cannot stop the others."""
    refused = {
        recipient: DeliveryResult(
            recipient, Outcome.FAILED,
            f"Not sent the {email.kind_name} for {email.period} to '{recipient}': not a valid email "
            f"address ({problem})",
        )
        for recipient in email.recipients
        if (problem := address_problem(recipient))
    }
    valid = tuple(recipient for recipient in email.recipients if recipient not in refused)
    with _delivery_slot():
        sent = ledger.send_once(mailer, replace(email, recipients=valid), force_resend, force_hint()) if valid else None
    by_recipient = {result.recipient: result for result in (sent.results if sent else ())}
    return DeliveryReport(
        tuple(refused.get(recipient) or by_recipient[recipient] for recipient in dict.fromkeys(email.recipients))
    )


def _delivery_slot() -> AbstractContextManager[object]:
    """The global concurrency limit when the run belongs to a deployment (the stack creates it);
    a run from the command line relies on the ledger's lock alone."""
    if deployment.id is None:
        return nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(DELIVERY_CONCURRENCY_LIMIT, occupy=1, timeout_seconds=600, strict=False)


def force_hint() -> str:
    """How an admin forces a re-send from where this run was started."""
    if deployment.id is None:
        return "--force-resend"
    return "the run's force_resend parameter (Run > Custom run, force_resend on)"


def require_complete(report: DeliveryReport | None, what: str) -> None:
    """End the run as failed (after its artifacts are published) when someone did not get `what`."""
    if report is not None and report.needs_a_person:
        raise DeliveryIncomplete(
            f"{what}: not delivered to {', '.join(report.missed)}. " + " ".join(
                result.sentence for result in report.results if result.outcome in (Outcome.UNKNOWN, Outcome.FAILED)
            )
        )


def run_tags() -> dict[str, str]:
    """What a mailer may pass on to track an email back to the run that sent it."""
    return {"run_id": str(flow_run.id or "local")}
