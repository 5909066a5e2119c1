"""The admin alert: email the admins (settings `admin_emails`) about a run that needs a person.

The alert Automations (python -m ops.alerts, run by python -m ops.stack up) start the deployment
`admin-alert` when a run tagged `coaching` fails, crashes or is more than an hour late, and SendGrid
is not configured: the email then goes the way the pipeline's own emails go (the outbox folder,
`alerts_dir`/outbox). The delivery ledger sends each alert once per run, event and admin, however
often it is triggered. The deployment is not tagged `coaching`, so an alert run that fails raises
no alert of its own (no loop): it shows as a Failed run in the UI.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from adapters.ledger import unresolved_lines
from coaching.alerts import RunAlert, alert_email
from coaching.recipients import check_recipients
from config.settings import load_settings
from config.wiring import build_delivery_adapters
from flows.cli import hide_tracebacks_of_pipeline_errors
from tasks.delivery import deliver_email, finish_run


@task(name="read-run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_run_alert(flow_run_id: UUID, event: str) -> RunAlert:
    """What the Prefect API says about the run: its name, deployment, state and UI page."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.urls import url_for

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        deployment = client.read_deployment(run.deployment_id).name if run.deployment_id else ""
    return RunAlert(
        event=event,
        run_id=str(run.id),
        run_name=run.name,
        deployment=deployment,
        state_name=run.state.name if run.state else "",
        state_message=(run.state.message or "") if run.state else "",
        link=url_for(run),
    )


# An alert never waits behind the run it reports on: it locks only its own email in the ledger.
@flow(name="admin_alert", flow_run_name="admin-alert-{event}", log_prints=True, timeout_seconds=300)
def admin_alert(flow_run_id: UUID, event: Literal["failed", "crashed", "cancelled", "late"]) -> State:
    """Email the admins about a run that failed, crashed, was cancelled or is more than an hour
    late, with the emails of unknown outcome that wait for their decision.

    Args:
        flow_run_id: The id of the run to tell the admins about.
        event: What happened to it: failed, crashed, cancelled or late.
    """
    hide_tracebacks_of_pipeline_errors()
    settings = load_settings()
    recipients = check_recipients(
        settings.admin_emails,
        settings.allowed_recipient_domains,
        "admin_emails (config/settings.yaml) or COACHING_ADMIN_EMAILS",
    )
    alert = read_run_alert(flow_run_id, event)
    with build_delivery_adapters(settings, settings.alerts_dir / "outbox") as delivery:
        assert delivery.mailer is not None  # built with an outbox folder
        alert = replace(alert, unresolved=tuple(unresolved_lines(delivery.ledger)))
        email = alert_email(alert, sender=settings.email_from, recipients=recipients)
        report = deliver_email(delivery.mailer, delivery.ledger, email, force_resend=False)
    get_run_logger().info(report.sentence)
    return finish_run(alert, report, "Admin alert", report.sentence)
