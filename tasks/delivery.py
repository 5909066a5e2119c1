"""Sending an email once per recipient, through the ledger, and what a run says about it."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run
from prefect.states import Completed, State

from adapters.ledger import WORST_FIRST, DeliveryLedger, DeliveryReport, DeliveryResult, Outcome
from adapters.mailers import Mailer
from coaching.email import OutgoingEmail
from coaching.recipients import address_problem
from coaching.records import PipelineError

# Delivery runs hold this Prefect global concurrency limit (created by `make stack`), so that
# overlapping runs of any deployment reach the ledger's check-and-send one at a time.
DELIVERY_CONCURRENCY_LIMIT = "coaching-delivery"
T = TypeVar("T")


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
    sent = DeliveryReport(())
    if valid:
        with _delivery_slot():
            sent = ledger.send_once(mailer, replace(email, recipients=valid), force_resend, force_hint())
    by_recipient = {result.recipient: result for result in sent.results}
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


def outcome_word(outcomes: Iterable[str]) -> str:
    """What happened to a run's emails in one word for its name: the worst of the outcomes."""
    seen = set(outcomes)
    worst = next((outcome for outcome in WORST_FIRST if outcome.value in seen), None)
    return worst.value.replace("_", "-") if worst else "not-sent"


def report_word(report: DeliveryReport | None) -> str:
    """What happened to a run's email in one word; "not-sent" when nothing was attempted."""
    return outcome_word(r.outcome.value for r in report.results) if report else "not-sent"


def label_run(word: str) -> None:
    """Add what happened to the email to the run's name ("quarterly-2026-Q3-sent"), so that the
    runs list in the UI tells it without opening the run."""
    if flow_run.id is None:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=f"{flow_run.name}-{word}")
    except Exception as exc:  # the name is a convenience: the state message says the same
        get_run_logger().warning("Could not rename the run to say '%s': %s", word, exc)


def finish_run(
    result: T, report: DeliveryReport | None, what: str, message: str, word: str | None = None
) -> State:
    """The run's final state, its message saying what happened to the email; the run's name gets
    `word`, by default the report's outcome. Failed (raised, after the artifacts are published)
    when someone did not, or may not have, get `what`."""
    label_run(word or report_word(report))
    if report is not None and report.needs_a_person:
        raise DeliveryIncomplete(
            f"{what}: not delivered to {', '.join(report.missed)}. " + " ".join(
                result.sentence for result in report.results if result.outcome in (Outcome.UNKNOWN, Outcome.FAILED)
            )
        )
    return Completed(message=message, data=result)


def run_tags() -> dict[str, str]:
    """What a mailer may pass on to track an email back to the run that sent it."""
    return {"run_id": str(flow_run.id or "local")}
