"""Sending an email once per recipient, through the ledger, and what a run says about it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.runtime import deployment, flow_run
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, State

from adapters.ledger import (
    WORST_FIRST,
    DeliveryLedger,
    DeliveryReport,
    DeliveryResult,
    Outcome,
    unresolved_lines,
)
from adapters.mailers import Mailer
from coaching.email import OutgoingEmail
from coaching.recipients import address_problem
from coaching.records import PipelineError

T = TypeVar("T")


class DeliveryIncomplete(PipelineError):
    """Some recipients did not get an email, or may not have: the run fails so that a person looks."""


# Retries live in the mailer (bounded, and never once the request has left). A Prefect retry
# here would go through the ledger again and find the first attempt's record anyway.
@task(name="deliver", cache_policy=NO_CACHE, persist_result=False)
def deliver_email(mailer: Mailer, ledger: DeliveryLedger, email: OutgoingEmail, force_resend: bool) -> DeliveryReport:
    """Each recipient gets the email separately; an address that is not one gets nothing (and
    is reported), and cannot stop the others."""
    refused = {
        recipient: DeliveryResult(
            recipient,
            Outcome.FAILED,
            f"Not sent the {email.kind_name} for {email.period} to '{recipient}': not a valid email "
            f"address ({problem})",
        )
        for recipient in email.recipients
        if (problem := address_problem(recipient))
    }
    valid = tuple(recipient for recipient in email.recipients if recipient not in refused)
    sent = DeliveryReport(())
    if valid:
        # Another run sending the same email holds the ledger's lock on it: this one waits, saying so.
        sent = ledger.send_once(mailer, replace(email, recipients=valid), force_resend, force_hint(), _logger().info)
    by_recipient = {result.recipient: result for result in sent.results}
    return DeliveryReport(
        tuple(refused.get(recipient) or by_recipient[recipient] for recipient in dict.fromkeys(email.recipients))
    )


@task(name="unresolved-deliveries", cache_policy=NO_CACHE)
def warn_of_unresolved(ledger: DeliveryLedger) -> list[str]:
    """Every run starts by repeating, as warnings, the emails of unknown outcome that wait for an
    admin (until they are resolved), so that none is forgotten whatever ended the run that sent it."""
    lines = unresolved_lines(ledger)
    for line in lines:
        _logger().warning(line)
    return lines


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger (shown in the UI), or this module's outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


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


# The endings label_run gives a run's name; a run that ends with none of them failed before it
# could say what happened to its email.
RUN_NAME_ENDINGS = (*(outcome.value.replace("_", "-") for outcome in Outcome), "not-sent", "held-back")


def name_failed_run(_flow: object, run: FlowRun, _state: State) -> None:
    """The flows' on_failure hook: a run that failed before saying what happened to its email
    (a bad parameter, an unreadable sheet) is named `…-failed`, as the runs list shows it."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            name = client.read_flow_run(run.id).name
            if not name.endswith(tuple(f"-{ending}" for ending in RUN_NAME_ENDINGS)):
                client.update_flow_run(run.id, name=f"{name}-failed")
    except Exception as exc:  # the name is a convenience: the state says the run failed
        _logger().warning("Could not rename the failed run: %s", exc)


def finish_run(result: T, report: DeliveryReport | None, what: str, message: str, word: str | None = None) -> State:
    """The run's final state, its message saying what happened to the email; the run's name gets
    `word`, by default the report's outcome. Failed (raised, after the artifacts are published)
    when someone did not, or may not have, get `what`."""
    label_run(word or report_word(report))
    if report is not None and report.needs_a_person:
        raise DeliveryIncomplete(
            f"{what}: not delivered to {', '.join(report.missed)}. "
            + " ".join(
                result.sentence for result in report.results if result.outcome in (Outcome.UNKNOWN, Outcome.FAILED)
            )
        )
    return Completed(message=message, data=result)


def run_tags() -> dict[str, str]:
    """What a mailer may pass on to track an email back to the run that sent it."""
    return {"run_id": str(flow_run.id or "local")}
