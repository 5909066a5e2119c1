"""What the Prefect server needs besides the deployments: the delivery concurrency limit, and the
Automations that email the admins when a run needs a person.

    python -m ops.alerts        # against PREFECT_API_URL; `python -m ops.stack up` runs it

- the global concurrency limit `coaching-delivery` (1 slot), held around every check-and-send of
  a deployed run, so that runs of different deployments reach the ledger one at a time;
- with `admin_emails` (COACHING_ADMIN_EMAILS) and a SendGrid key (SENDGRID_API_KEY or the Secret
  block), a SendGrid notification block `coaching-admin-email` and three Automations on every
  run tagged `coaching`: a run that failed (a delivery of unknown outcome fails its run too) or
  timed out, a run that crashed, and a run Late by more than an hour.

Re-running it replaces what it made (same names), so it is safe after each deploy.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING

from config.settings import Settings, load_settings
from config.wiring import sendgrid_api_key
from tasks.delivery import DELIVERY_CONCURRENCY_LIMIT

if TYPE_CHECKING:
    from prefect.automations import Automation

NOTIFICATION_BLOCK = "coaching-admin-email"
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


def automations(block_id: object) -> list[Automation]:
    """The three Automations, each emailing the admins through the notification block."""
    from prefect.automations import Automation, EventTrigger, Posture, SendNotification

    coaching_runs = {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{RUN_TAG}"}

    def notify(subject: str) -> SendNotification:
        return SendNotification(block_document_id=block_id, subject=subject, body=_BODY)

    def when(name: str, description: str, subject: str, **trigger: object) -> Automation:
        return Automation(
            name=name, description=description,
            trigger=EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=coaching_runs,
                                 threshold=1, **trigger),
            actions=[notify(f"Coaching pipeline: {{{{ flow_run.name }}}} {subject}")],
        )

    reactive = {"posture": Posture.Reactive, "within": timedelta(0)}
    return [
        when("coaching: run failed", "A coaching run failed or timed out (an email of unknown outcome fails its run).",
             "failed", expect={"prefect.flow-run.Failed", "prefect.flow-run.TimedOut"}, **reactive),
        when("coaching: run crashed", "A coaching run crashed (its worker or process died).",
             "crashed", expect={"prefect.flow-run.Crashed"}, **reactive),
        when("coaching: run late by more than an hour",
             "A coaching run went Late and did not start within an hour (no worker? a stuck run?).",
             "is more than an hour late", after={"prefect.flow-run.Late"},
             expect={"prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Cancelled",
                     "prefect.flow-run.Crashed", "prefect.flow-run.Failed", "prefect.flow-run.Completed"},
             for_each={"prefect.resource.id"}, posture=Posture.Proactive, within=timedelta(hours=1)),
    ]


def ensure_alerts(settings: Settings) -> list[str]:
    """Create or replace the notification block and the Automations; what was done, line by line."""
    from prefect.automations import Automation
    from prefect.blocks.notifications import SendgridEmail

    key = sendgrid_api_key(settings)
    if not settings.admin_emails or key is None:
        return [
            "No alert Automations: set COACHING_ADMIN_EMAILS (admin_emails) and a SendGrid key "
            "(SENDGRID_API_KEY, or python -m ops.secrets), then run python -m ops.alerts."
        ]
    block = SendgridEmail(api_key=key, sender_email=settings.email_from, to_emails=list(settings.admin_emails))
    block_id = block.save(NOTIFICATION_BLOCK, overwrite=True)
    done = [f"Notification block '{NOTIFICATION_BLOCK}' emails {', '.join(settings.admin_emails)}."]
    for automation in automations(block_id):
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
