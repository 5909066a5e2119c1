"""The email that tells the admins a deployed run needs a person: it failed (a delivery of unknown
outcome fails its run too), it crashed, it was cancelled, or it is more than an hour late. Every
alert also lists the emails of unknown outcome that still wait for an admin's decision.

Built from what Prefect says about the run. Its state message may quote the sheet (a program's
name, a cell's value), so everything reaches the HTML escaped, and a link is clickable only when it
is an http(s) address. The subject and the ledger's identity depend only on the run and the event,
so the same alert for the same run is recognised however often it is triggered.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from coaching.email import EmailKind, OutgoingEmail

# What happened, as the subject says it, and what the admin does about it.
EVENTS = {
    "failed": (
        "failed",
        "Read the message above and the run's logs. A delivery of unknown outcome is listed by "
        "python -m ops.deliveries list --status unknown, with how to mark it sent or re-send it.",
    ),
    "crashed": (
        "crashed",
        "Its worker or its process stopped while it ran (python -m ops.stack status shows the "
        "worker). Re-run it from the UI once the worker runs: a re-run never sends an email twice.",
    ),
    "cancelled": (
        "was cancelled",
        "Someone cancelled it, or the stack was stopped while it ran. If it was sending, the emails "
        "of unknown outcome are listed below and by python -m ops.deliveries list --status unknown.",
    ),
    "late": (
        "is more than an hour late",
        "It has not started an hour after its time: is a worker running on its work pool "
        "(python -m ops.stack status)? Or an earlier run of the same deployment is stuck holding "
        "its one concurrency slot.",
    ),
}


@dataclass(frozen=True)
class RunAlert:
    event: str  # a key of EVENTS
    run_id: str
    run_name: str
    deployment: str  # the deployment's name, "" for a run without one
    state_name: str
    state_message: str
    link: str | None  # the run's page in the Prefect UI, when the UI's address is known
    unresolved: tuple[str, ...] = ()  # the ledger's emails of unknown outcome, one sentence each


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def alert_email(alert: RunAlert, *, sender: str, recipients: tuple[str, ...]) -> OutgoingEmail:
    """The alert for the admins, as text and HTML."""
    if alert.event not in EVENTS:
        raise ValueError(f"Unknown alert event '{alert.event}': expected one of {', '.join(EVENTS)}")
    happened, advice = EVENTS[alert.event]
    of_what = f"a run of {alert.deployment}" if alert.deployment else "a coaching run"
    facts = [
        ("Run", f"{alert.run_name} (id {alert.run_id})"),
        ("Deployment", alert.deployment or "none"),
        ("State", alert.state_name or "unknown"),
        ("Message", alert.state_message or "(none)"),
    ]
    link = alert.link or ""
    opening = f"In the coaching pipeline, {of_what} {happened} and needs a person."
    text = "\n".join(
        [
            opening,
            "",
            *(f"{label}: {value}" for label, value in facts),
            *([f"Open it: {link}"] if link else []),
            "",
            advice,
            "",
            *(["Emails of unknown outcome waiting for a decision:", *alert.unresolved, ""] if alert.unresolved else []),
        ]
    )
    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">{escape(label)}</th>'
        f'<td style="padding:2px 0;white-space:pre-wrap">{escape(value)}</td></tr>'
        for label, value in facts
    )
    if link.startswith(("https://", "http://")):
        shown_link = f'<p><a href="{escape(link)}">Open the run in the Prefect UI</a></p>'
    else:
        shown_link = f"<p>Open it: {escape(link)}</p>" if link else ""
    waiting = (
        (
            "<p>Emails of unknown outcome waiting for a decision:</p><ul>"
            + "".join(f"<li>{escape(line)}</li>" for line in alert.unresolved)
            + "</ul>"
        )
        if alert.unresolved
        else ""
    )
    html = (
        '<!DOCTYPE html><html><body style="font-family:Arial,sans-serif;font-size:14px">'
        f"<p>{escape(opening)}</p><table>{rows}</table>{shown_link}<p>{escape(advice)}</p>{waiting}</body></html>"
    )
    return OutgoingEmail(
        kind=EmailKind.ADMIN_ALERT,
        period=f"{alert.event} run {alert.run_id}",
        sender=sender,
        recipients=recipients,
        subject=_one_line(f"Coaching pipeline alert: {of_what} {happened}"),
        html=html,
        text=text,
        tags={"flow_run_id": alert.run_id, "alert": alert.event},
        identity=f"{alert.run_id} {alert.event}".encode(),
    )
