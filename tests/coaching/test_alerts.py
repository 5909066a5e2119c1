from __future__ import annotations

from dataclasses import replace

import pytest

from coaching.alerts import RunAlert, alert_email

ADMINS = ("it-admin@brightpath.example.org",)
SENDER = "coaching-reports@brightpath.example.org"
FAILED = RunAlert(
    event="failed",
    run_id="6c23f11d-4e7e-4734-8414-b5c466ede582",
    run_name="quarterly-2026-Q3",
    deployment="quarterly-coaching-report",
    state_name="Failed",
    state_message="UsageError: Unknown program 'Knitting Club': the Programs tab has FP (Family Preservation)",
    link="http://127.0.0.1:4200/runs/flow-run/6c23f11d-4e7e-4734-8414-b5c466ede582",
)


def email_of(alert: RunAlert):
    return alert_email(alert, sender=SENDER, recipients=ADMINS)


@pytest.mark.parametrize(
    ("event", "subject"),
    [
        ("failed", "Coaching pipeline alert: a run of quarterly-coaching-report failed"),
        ("crashed", "Coaching pipeline alert: a run of quarterly-coaching-report crashed"),
        ("late", "Coaching pipeline alert: a run of quarterly-coaching-report is more than an hour late"),
    ],
)
def test_the_subject_names_the_deployment_and_what_happened_to_its_run(event, subject):
    email = email_of(replace(FAILED, event=event))
    assert email.subject == subject
    assert (email.sender, email.recipients, email.kind) == (SENDER, ADMINS, "admin_alert")


def test_the_text_names_the_run_its_state_and_message_and_links_to_it_in_the_ui():
    text = email_of(FAILED).text
    assert "Run: quarterly-2026-Q3 (id 6c23f11d-4e7e-4734-8414-b5c466ede582)" in text
    assert "Deployment: quarterly-coaching-report" in text and "State: Failed" in text
    assert "Message: UsageError: Unknown program 'Knitting Club'" in text
    assert f"Open it: {FAILED.link}" in text
    assert "python -m ops.deliveries list --status unknown" in text  # a delivery of unknown outcome


def test_each_event_tells_the_admin_what_to_look_at():
    assert "worker" in email_of(replace(FAILED, event="crashed")).text
    late = email_of(replace(FAILED, event="late")).text
    assert "is a worker running" in late and "concurrency slot" in late


def test_sheet_text_in_the_run_s_message_and_name_is_escaped_in_the_html():
    alert = replace(
        FAILED,
        run_name="q-<script>alert(1)</script>",
        state_message="Unknown program '<img src=x onerror=alert(1)>' & more",
    )
    html = email_of(alert).html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&amp; more" in html


def test_only_a_web_link_to_the_run_is_clickable():
    assert f'<a href="{FAILED.link}">' in email_of(FAILED).html
    html = email_of(replace(FAILED, link="javascript:alert(1)")).html
    assert "<a " not in html and "javascript:alert(1)" in html  # shown as text
    assert "Open it" not in email_of(replace(FAILED, link=None)).text


def test_the_same_run_and_event_is_the_same_email_for_the_ledger_even_after_a_rename():
    renamed = replace(FAILED, run_name="quarterly-2026-Q3-unknown", state_message="another message")
    assert email_of(renamed).content_hash == email_of(FAILED).content_hash
    assert email_of(renamed).period == email_of(FAILED).period
    assert email_of(replace(FAILED, event="crashed")).content_hash != email_of(FAILED).content_hash
    other_run = replace(FAILED, run_id="0b5e1f3c-0000-4000-8000-000000000000")
    assert email_of(other_run).content_hash != email_of(FAILED).content_hash


def test_a_run_without_a_deployment_is_named_as_a_coaching_run():
    email = email_of(replace(FAILED, deployment=""))
    assert email.subject == "Coaching pipeline alert: a coaching run failed"
    assert "Deployment: none" in email.text


def test_an_unknown_event_is_refused_naming_the_ones_there_are():
    with pytest.raises(
        ValueError, match="Unknown alert event 'stalled': expected one of failed, crashed, cancelled, late"
    ):
        email_of(replace(FAILED, event="stalled"))


def test_a_cancelled_run_alert_lists_the_emails_of_unknown_outcome_waiting_for_a_decision():
    waiting = ("Unresolved delivery 7: the quarterly_report for 2026-Q3 to <ceo@example.org> (sendgrid, pending).",)
    email = email_of(replace(FAILED, event="cancelled", unresolved=waiting))

    assert email.subject == "Coaching pipeline alert: a run of quarterly-coaching-report was cancelled"
    assert "Emails of unknown outcome waiting for a decision:\n" + waiting[0] in email.text
    assert "<li>Unresolved delivery 7: the quarterly_report for 2026-Q3 to &lt;ceo@example.org&gt;" in email.html
