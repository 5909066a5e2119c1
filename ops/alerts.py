"""What the Prefect server needs besides the deployments: the Automations that email the admins
when a run needs a person.

    python -m ops.alerts        # against PREFECT_API_URL; `python -m ops.stack up` does the same in its process

Four Automations on every run tagged `coaching`: a run that failed (a delivery of unknown outcome
fails its run too) or timed out, a run that crashed, a run that was cancelled, and a run Late by
more than an hour. Each runs the deployment `admin-alert` (flows/admin_alert.py) with the run's id
and the event, on the work pool's worker (so an alert waits for a worker): it emails the admins
(`admin_emails`, COACHING_ADMIN_EMAILS) the way the pipeline's own emails go (SendGrid when a key
is configured, with COACHING_SENDGRID_API_URL and sandbox mode; else the outbox folder), through
the delivery ledger, and lists every email of unknown outcome still waiting for a decision.

No SendGrid key is copied into a Prefect block for the alerts: a notification block that an
earlier version made (`coaching-admin-email`) is deleted, and so is the global concurrency limit
`coaching-delivery` it used to hold around sending (the ledger's own lock does that now).

Re-running it brings what it made (same names) back to this definition in place, leaving one that
matches alone, so it is safe after each deploy.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from config.settings import Settings, load_settings

if TYPE_CHECKING:
    from prefect.automations import AutomationCore
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.events.actions import ActionTypes

# What earlier versions made, removed when found: a block holding the SendGrid key, and a limit
# whose slots Prefect could leave taken for good after a server restart.
OLD_NOTIFICATION_BLOCK = "coaching-admin-email"
OLD_DELIVERY_LIMIT = "coaching-delivery"
ALERT_DEPLOYMENT = "admin_alert/admin-alert"  # flows/admin_alert.py, deployed from prefect.yaml
RUN_TAG = "coaching"  # every deployment in prefect.yaml carries it


def remove_what_older_versions_made(client: SyncPrefectClient) -> list[str]:
    """Delete the SendGrid notification block (it held the key, readable through the API) and the
    delivery concurrency limit that earlier versions made; what was removed, line by line."""
    from prefect.exceptions import ObjectNotFound

    removed = []
    try:
        block = client.read_block_document_by_name(OLD_NOTIFICATION_BLOCK, "sendgrid-email", include_secrets=False)
    except ObjectNotFound:
        pass
    else:
        client.delete_block_document(block.id)
        removed.append(f"Removed the notification block '{OLD_NOTIFICATION_BLOCK}' (it held the SendGrid key).")
    try:
        client.delete_global_concurrency_limit_by_name(OLD_DELIVERY_LIMIT)
    except ObjectNotFound:
        pass
    else:
        removed.append(f"Removed the global concurrency limit '{OLD_DELIVERY_LIMIT}' (the ledger's lock replaces it).")
    return removed


def automations(action: Callable[[str], ActionTypes]) -> list[AutomationCore]:
    """The four Automations; `action(event)` is what each does ("failed", "crashed", "cancelled", "late")."""
    from prefect.automations import AutomationCore, EventTrigger, Posture

    coaching_runs = {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{RUN_TAG}"}

    def when(name: str, description: str, event: str, **trigger: object) -> AutomationCore:
        return AutomationCore(
            name=name,
            description=description,
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=coaching_runs, threshold=1, **trigger
            ),
            actions=[action(event)],
        )

    reactive = {"posture": Posture.Reactive, "within": timedelta(0)}
    return [
        when(
            "coaching: run failed",
            "A coaching run failed or timed out (an email of unknown outcome fails its run).",
            "failed",
            expect={"prefect.flow-run.Failed", "prefect.flow-run.TimedOut"},
            **reactive,
        ),
        when(
            "coaching: run crashed",
            "A coaching run crashed (its worker or process died).",
            "crashed",
            expect={"prefect.flow-run.Crashed"},
            **reactive,
        ),
        when(
            "coaching: run cancelled",
            "A coaching run was cancelled (by someone, or by stopping the stack): it may have left emails "
            "of unknown outcome.",
            "cancelled",
            expect={"prefect.flow-run.Cancelled"},
            **reactive,
        ),
        when(
            "coaching: run late by more than an hour",
            "A coaching run went Late and did not start within an hour (no worker? a stuck run?).",
            "late",
            after={"prefect.flow-run.Late"},
            expect={
                "prefect.flow-run.Pending",
                "prefect.flow-run.Running",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Completed",
            },
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            within=timedelta(hours=1),
        ),
    ]


def _alert_run_action(settings: Settings, client: SyncPrefectClient) -> tuple[Callable[[str], ActionTypes], str]:
    from prefect.automations import RunDeployment
    from prefect.exceptions import ObjectNotFound

    from coaching.records import UsageError

    try:
        deployment_id = client.read_deployment_by_name(ALERT_DEPLOYMENT).id
    except ObjectNotFound:
        raise UsageError(
            f"No deployment '{ALERT_DEPLOYMENT}' on this server: deploy prefect.yaml first "
            "(prefect --no-prompt deploy --all, or python -m ops.stack up)."
        ) from None

    def run_alert(event: str) -> RunDeployment:
        return RunDeployment(
            source="selected",
            deployment_id=deployment_id,
            # A plain text template: the shorthand "{{ flow_run.id }}" would render the id as JSON,
            # which Prefect 3.9 cannot do for a UUID (the action then fails).
            parameters={"flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"}, "event": event},
        )

    outbox = settings.alerts_dir / "outbox"
    return run_alert, (
        f"The Automations run the deployment '{ALERT_DEPLOYMENT}' on the worker, which emails each alert "
        f"to {', '.join(settings.admin_emails) or 'the admins'} the way the pipeline's emails go (SendGrid when "
        f"the worker has a key, else .eml files in {outbox}/)."
    )


def ensure_alerts(settings: Settings, client: SyncPrefectClient) -> list[str]:
    """Create the Automations on `client`'s server, or bring each one there to this definition in
    place; what is in place, line by line.

    One that already matches is left alone, and one that differs is updated, never deleted and made
    again: the server loads a new Automation a moment after it is saved, and a run that ends in
    between (`ops.stack up` marks the orphans of a killed worker Crashed right after this) would
    start no alert at all."""
    from prefect.automations import AutomationCore

    action, said = _alert_run_action(settings, client)
    done = [*remove_what_older_versions_made(client), said]
    if not settings.admin_emails:
        done.append(
            "WARNING: admin_emails is empty, so nobody is told: each alert run will fail saying so. Set "
            "COACHING_ADMIN_EMAILS (or admin_emails in config/settings.yaml), then run python -m ops.alerts."
        )
    for automation in automations(action):
        existing = client.read_automations_by_name(automation.name)
        if not existing:
            client.create_automation(automation)
        # The first by that name, as Automation.read(name=…) finds it.
        elif (
            AutomationCore.model_validate(existing[0].model_dump(include=set(AutomationCore.model_fields)))
            != automation
        ):
            # Every field set (the update sends only those), so that what an admin changed is reset;
            # all but owner_resource, which the server's update refuses.
            client.update_automation(
                existing[0].id, AutomationCore.model_validate(automation.model_dump(exclude={"owner_resource"}))
            )
        done.append(f"Automation '{automation.name}'.")
    return done


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m ops.alerts", description=__doc__.split("\n")[0]).parse_args(argv)
    from flows.cli import run_command

    def run() -> None:
        from prefect.client.orchestration import get_client

        settings = load_settings()
        with get_client(sync_client=True) as client:
            done = ensure_alerts(settings, client)
        for line in done:
            print(line)

    return run_command(run)


if __name__ == "__main__":
    raise SystemExit(main())
