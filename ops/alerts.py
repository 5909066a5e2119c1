"""What the Prefect server needs besides the deployments: the delivery concurrency limit, and the
Automations that email the admins when a run needs a person.

    python -m ops.alerts        # against PREFECT_API_URL; `python -m ops.stack up` runs it

- the global concurrency limit `coaching-delivery` (1 slot), held around every check-and-send of
  a deployed run, so that runs of different deployments reach the ledger one at a time;
- three Automations on every run tagged `coaching`: a run that failed (a delivery of unknown
  outcome fails its run too) or timed out, a run that crashed, and a run Late by more than an
  hour. Each emails the admins (`admin_emails`, COACHING_ADMIN_EMAILS):
  - with a SendGrid key (SENDGRID_API_KEY or the Secret block), through the SendGrid notification
    block `coaching-admin-email`, sent by the server itself (so even with no worker running);
  - without one, by running the deployment `admin-alert` (flows/admin_alert.py) with the run's id
    and the event: it emails through the pipeline's own mailer (the outbox folder) and ledger, on
    the work pool's worker (so a Late alert waits for a worker).

Re-running it replaces what it made (same names), so it is safe after each deploy.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import SecretStr

from config.settings import Settings, load_settings
from config.wiring import sendgrid_api_key
from tasks.delivery import DELIVERY_CONCURRENCY_LIMIT

if TYPE_CHECKING:
    from prefect.automations import Automation
    from prefect.events.actions import ActionTypes

NOTIFICATION_BLOCK = "coaching-admin-email"
ALERT_DEPLOYMENT = "admin_alert/admin-alert"  # flows/admin_alert.py, deployed from prefect.yaml
RUN_TAG = "coaching"  # every deployment in prefect.yaml carries it
_RUN_LINK = "{{ flow_run|ui_url }}"
_BODY = (
    "Run: {{ flow_run.name }} of {{ deployment.name }}\n"
    "State: {{ flow_run.state.name }}\n"
    "Message: {{ flow_run.state.message }}\n"
    f"Open it: {_RUN_LINK}\n\n"
    "A delivery of unknown outcome names the entry to check: python -m ops.deliveries list --status unknown"
)


def ensure_delivery_limit() -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(DELIVERY_CONCURRENCY_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=DELIVERY_CONCURRENCY_LIMIT, limit=1))
    return f"Global concurrency limit '{DELIVERY_CONCURRENCY_LIMIT}' (1 slot) around delivery."


def automations(action: Callable[[str, str], ActionTypes]) -> list[Automation]:
    """The three Automations; `action(event, subject)` is what each does ("failed", "crashed", "late")."""
    from prefect.automations import Automation, EventTrigger, Posture

    coaching_runs = {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{RUN_TAG}"}

    def when(name: str, description: str, event: str, subject: str, **trigger: object) -> Automation:
        return Automation(
            name=name, description=description,
            trigger=EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=coaching_runs,
                                 threshold=1, **trigger),
            actions=[action(event, f"Coaching pipeline: {{{{ flow_run.name }}}} {subject}")],
        )

    reactive = {"posture": Posture.Reactive, "within": timedelta(0)}
    return [
        when("coaching: run failed", "A coaching run failed or timed out (an email of unknown outcome fails its run).",
             "failed", "failed", expect={"prefect.flow-run.Failed", "prefect.flow-run.TimedOut"}, **reactive),
        when("coaching: run crashed", "A coaching run crashed (its worker or process died).",
             "crashed", "crashed", expect={"prefect.flow-run.Crashed"}, **reactive),
        when("coaching: run late by more than an hour",
             "A coaching run went Late and did not start within an hour (no worker? a stuck run?).",
             "late", "is more than an hour late", after={"prefect.flow-run.Late"},
             expect={"prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Cancelled",
                     "prefect.flow-run.Crashed", "prefect.flow-run.Failed", "prefect.flow-run.Completed"},
             for_each={"prefect.resource.id"}, posture=Posture.Proactive, within=timedelta(hours=1)),
    ]


def _sendgrid_block_action(settings: Settings, key: SecretStr) -> tuple[Callable[[str, str], ActionTypes], str]:
    from prefect.automations import SendNotification
    from prefect.blocks.notifications import SendgridEmail

    block = SendgridEmail(api_key=key, sender_email=settings.email_from, to_emails=list(settings.admin_emails))
    block_id = block.save(NOTIFICATION_BLOCK, overwrite=True)

    def notify(_event: str, subject: str) -> SendNotification:
        return SendNotification(block_document_id=block_id, subject=subject, body=_BODY)

    return notify, (
        f"Notification block '{NOTIFICATION_BLOCK}' emails {', '.join(settings.admin_emails)} through SendGrid."
    )


def _alert_run_action(settings: Settings, with_sendgrid: bool) -> tuple[Callable[[str, str], ActionTypes], str]:
    from prefect.automations import RunDeployment
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from coaching.records import UsageError

    try:
        with get_client(sync_client=True) as client:
            deployment_id = client.read_deployment_by_name(ALERT_DEPLOYMENT).id
    except ObjectNotFound:
        raise UsageError(
            f"No deployment '{ALERT_DEPLOYMENT}' on this server: deploy prefect.yaml first "
            "(prefect --no-prompt deploy --all, or python -m ops.stack up)."
        ) from None

    def run_alert(event: str, _subject: str) -> RunDeployment:
        return RunDeployment(
            source="selected", deployment_id=deployment_id,
            # A plain text template: the shorthand "{{ flow_run.id }}" would render the id as JSON,
            # which Prefect 3.9 cannot do for a UUID (the action then fails).
            parameters={"flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"}, "event": event},
        )

    outbox = settings.alerts_dir / "outbox"
    where = "SendGrid" if with_sendgrid else f"the outbox (no SendGrid key): .eml files in {outbox}/"
    return run_alert, (
        f"The Automations run the deployment '{ALERT_DEPLOYMENT}' on the worker, which emails each alert "
        f"to {', '.join(settings.admin_emails) or 'the admins'} through {where}."
    )


def ensure_alerts(settings: Settings) -> list[str]:
    """Create or replace the Automations (and the notification block they use with a SendGrid
    key); what was done, line by line."""
    from prefect.automations import Automation

    key = sendgrid_api_key(settings) if settings.email_backend != "outbox" else None
    if key is not None and settings.admin_emails:
        action, said = _sendgrid_block_action(settings, key)
    else:
        action, said = _alert_run_action(settings, with_sendgrid=key is not None)
    done = [said]
    if not settings.admin_emails:
        done.append(
            "WARNING: admin_emails is empty, so nobody is told: each alert run will fail saying so. Set "
            "COACHING_ADMIN_EMAILS (or admin_emails in config/settings.yaml), then run python -m ops.alerts."
        )
    for automation in automations(action):
        try:
            Automation.read(name=automation.name).delete()
        except ValueError:  # none by that name yet
            pass
        automation.create()
        done.append(f"Automation '{automation.name}'.")
    return done


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m ops.alerts", description=__doc__.split("\n")[0]).parse_args(argv)
    from flows.cli import run_command

    def run() -> None:
        settings = load_settings()
        for line in [ensure_delivery_limit(), *ensure_alerts(settings)]:
            print(line)

    return run_command(run)


if __name__ == "__main__":
    raise SystemExit(main())
