"""The SendGrid mailer, driving the real sendgrid client against the loopback fake."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import time
from email.utils import formatdate

import pytest
from pydantic import SecretStr

from adapters.retry import RetryRule
from adapters.sendgrid_mailer import DeliveryError, DeliveryUnknown, SendGridMailer
from coaching.email import Attachment
from tests.deadlines import scaled
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, fake_sendgrid, report_email  # noqa: F401

FAST = {"retries": RetryRule(base_delay=0.01, max_delay=0.05)}


def mailer_for(fake: FakeSendGrid, key: str = TEST_API_KEY, **options: object) -> SendGridMailer:
    return SendGridMailer(SecretStr(key), api_url=fake.url, **options)  # type: ignore[arg-type]


def gaps(fake: FakeSendGrid) -> list[float]:
    times = [request.at for request in fake.requests]
    return [later - earlier for earlier, later in zip(times, times[1:])]


def test_one_call_carries_every_recipient_both_bodies_the_inline_chart_and_the_csvs(fake_sendgrid):
    email = report_email(("ceo@example.org", "cfo@example.org", "board@example.org"))

    receipt = mailer_for(fake_sendgrid).send(email)

    assert len(fake_sendgrid.requests) == 1
    [sent] = fake_sendgrid.messages
    assert receipt.where == f"sendgrid:{fake_sendgrid.message_ids[0]}"
    assert [to["email"] for p in sent["personalizations"] for to in p["to"]] == list(email.recipients)
    assert len(sent["personalizations"]) == 1
    assert sent["from"]["email"] == "coaching-reports@example.org"
    assert sent["subject"] == email.subject
    assert [(c["type"], c["value"]) for c in sent["content"]] == [
        ("text/plain", email.text),
        ("text/html", email.html),
    ]
    inline = {a["content_id"]: a for a in sent["attachments"] if a["disposition"] == "inline"}
    assert set(re.findall(r'src="cid:([^"]+)"', email.html)) == set(inline) == {"coverage-chart"}
    assert inline["coverage-chart"]["type"] == "image/png"
    files = {a["filename"]: a for a in sent["attachments"] if a["disposition"] == "attachment"}
    assert list(files) == ["scorecard.csv", "recommendations.csv", "data_quality.csv"]
    for original in email.attachments:
        wire = files.get(original.filename) or inline[original.content_id]
        assert base64.b64decode(wire["content"], validate=True) == original.content
        assert wire["type"] == original.mime_type


def test_the_quarter_run_and_report_hash_travel_as_categories_and_custom_args(fake_sendgrid):
    email = report_email()

    mailer_for(fake_sendgrid).send(email)

    [sent] = fake_sendgrid.messages
    assert sent["categories"] == ["quarterly_report", "2026-Q3"]
    assert sent["custom_args"] == {
        "run_id": "run-1234",
        "kind": "quarterly_report",
        "period": "2026-Q3",
        "content_hash": email.content_hash,
    }
    assert "mail_settings" not in sent


def test_sandbox_mode_has_sendgrid_validate_the_email_without_delivering_it(fake_sendgrid):
    receipt = mailer_for(fake_sendgrid, sandbox_mode=True).send(report_email())

    assert fake_sendgrid.messages == []
    [checked] = fake_sendgrid.sandboxed
    assert checked["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert receipt.where.startswith("sendgrid-sandbox:")


def test_a_500_then_success_delivers_exactly_one_email(fake_sendgrid):
    fake_sendgrid.fail_next(Fault(500))

    mailer_for(fake_sendgrid, **FAST).send(report_email())

    assert [r.answer for r in fake_sendgrid.requests] == ["500", "202"]
    assert len(fake_sendgrid.messages) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(None, accepted=True),  # accept-then-drop
        Fault(None, accepted=True, delay=3),  # accept-then-hang
        Fault(202, accepted=True, trickle=0.3),  # the 202 trickles a byte at a time
        Fault(None),  # dropped after reading the body: SendGrid may or may not have it
    ],
    ids=["accept-then-drop", "accept-then-hang", "trickle", "drop-after-body"],
)
def test_an_answer_lost_after_the_request_left_is_unknown_and_never_retried(fake_sendgrid, fault):
    fake_sendgrid.fail_next(fault)
    started = time.monotonic()

    with pytest.raises(DeliveryUnknown) as failure:
        mailer_for(fake_sendgrid, timeout=0.5, **FAST).send(report_email())

    assert time.monotonic() - started < scaled(1.5)  # the deadline is total, however the answer trickles
    assert len(fake_sendgrid.requests) == 1  # one request: a retry could deliver it twice
    assert len(fake_sendgrid.messages) == (1 if fault.accepted else 0)
    assert str(failure.value).startswith(
        f"SendGrid at {fake_sendgrid.url} received the request but its answer was lost"
    )


def test_a_connection_that_cannot_be_made_is_retried_with_the_planned_waits():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    waits: list[float] = []
    mailer = SendGridMailer(
        SecretStr(TEST_API_KEY),
        api_url=f"http://127.0.0.1:{port}",
        retries=RetryRule(max_attempts=4, base_delay=1, max_delay=3),
        sleep=waits.append,
    )

    with pytest.raises(
        DeliveryError, match=rf"after 4 attempts.*could not reach SendGrid at http://127.0.0.1:{port}"
    ) as failure:
        mailer.send(report_email())

    assert not isinstance(failure.value, DeliveryUnknown)  # nothing left: definitely not sent
    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 1.5 <= waits[2] <= 3


def test_a_connection_never_accepted_is_retried_and_reported_not_sent_not_unknown():
    with socket.socket() as full:  # a listener whose queue is full: the handshake never completes
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        waiting = [socket.socket() for _ in range(3)]
        for connection in waiting:
            connection.setblocking(False)
            connection.connect_ex(("127.0.0.1", port))
        mailer = SendGridMailer(
            SecretStr(TEST_API_KEY),
            api_url=f"http://127.0.0.1:{port}",
            timeout=0.5,
            retries=RetryRule(max_attempts=2, base_delay=0.01, max_delay=0.05),
        )

        with pytest.raises(DeliveryError, match=r"after 2 attempts.*could not reach SendGrid") as failure:
            mailer.send(report_email())
        for connection in waiting:
            connection.close()

    assert not isinstance(failure.value, DeliveryUnknown)  # nothing left: no admin needs to look


@pytest.mark.parametrize(
    ("retry_after", "options", "shortest", "longest"),
    [
        # Wait as long as Retry-After asks.
        (lambda: "1", RetryRule(base_delay=0.01, max_delay=5), 1.0, 1.8),
        # An HTTP date that has passed: retry at once, not after the 2 s backoff used without Retry-After.
        (lambda: formatdate(time.time() - 5, usegmt=True), RetryRule(base_delay=2, max_delay=5), 0.0, 0.5),
        # A long wait asked for is capped.
        (lambda: "120", RetryRule(base_delay=0.01, max_delay=0.3), 0.3, 1.0),
    ],
    ids=["seconds", "http-date-passed", "capped"],
)
def test_a_429_waits_as_retry_after_asks_within_the_cap(fake_sendgrid, retry_after, options, shortest, longest):
    fake_sendgrid.fail_next(Fault(429, retry_after=retry_after()))

    mailer_for(fake_sendgrid, retries=options).send(report_email())

    [gap] = gaps(fake_sendgrid)
    # At least the wait asked for; at most that and what the machine adds to it (scaled).
    assert shortest <= gap < shortest + scaled(longest - shortest)
    assert len(fake_sendgrid.messages) == 1


def test_a_persistent_503_gives_up_after_the_attempt_cap_with_growing_capped_waits(fake_sendgrid):
    fake_sendgrid.fail_next(*[Fault(503)] * 10)
    started = time.monotonic()

    with pytest.raises(DeliveryError) as failure:
        mailer_for(fake_sendgrid, retries=RetryRule(max_attempts=5, base_delay=0.1, max_delay=0.15)).send(
            report_email()
        )

    assert time.monotonic() - started < scaled(3)
    assert [r.answer for r in fake_sendgrid.requests] == ["503"] * 5
    waits = gaps(fake_sendgrid)
    # 0.1, then doubling but capped at 0.15 (uncapped, the last wait would be 0.8 s); the jitter
    # draws each wait from the upper half of its ceiling.
    assert waits[0] >= 0.05 and all(wait >= 0.075 for wait in waits[1:]) and max(waits) < scaled(0.6)
    assert "after 5 attempts" in str(failure.value) and "503 Service Unavailable" in str(failure.value)
    assert fake_sendgrid.messages == []


def test_a_rejected_api_key_fails_at_once_in_one_line_without_the_key(fake_sendgrid):
    wrong_key = "SG.revoked-key.abcdef123456"

    with pytest.raises(DeliveryError) as failure:
        mailer_for(fake_sendgrid, key=wrong_key, **FAST).send(report_email())

    message = str(failure.value)
    assert message.startswith("SendGrid rejected the API key (401")
    assert "SENDGRID_API_KEY" in message
    assert "\n" not in message and wrong_key not in message and "revoked-key" not in message
    assert [r.answer for r in fake_sendgrid.requests] == ["401"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault(
                400,
                body=json.dumps(
                    {
                        "errors": [
                            {
                                "message": "Does not contain a valid address.",
                                "field": "personalizations.0.to.0.email",
                                "help": None,
                            }
                        ]
                    }
                ).encode(),
            ),
            "SendGrid refused the email as malformed (400): Does not contain a valid address. "
            "(field personalizations.0.to.0.email).",
        ),
        (Fault(403), "SendGrid rejected the API key (403 Forbidden): check SENDGRID_API_KEY"),
        (Fault(413), "SendGrid refused the email as too large (413): Request Entity Too Large."),
    ],
    ids=["400", "403", "413"],
)
def test_refusals_that_a_retry_cannot_fix_are_not_retried(fake_sendgrid, fault, expected):
    fake_sendgrid.fail_next(fault)

    with pytest.raises(DeliveryError) as failure:
        mailer_for(fake_sendgrid, **FAST).send(report_email())

    assert str(failure.value).startswith(expected)
    assert "\n" not in str(failure.value)
    assert len(fake_sendgrid.requests) == 1 and fake_sendgrid.messages == []


def test_an_email_over_sendgrids_30_mb_limit_is_refused_before_any_call(fake_sendgrid):
    # 23 MB of CSV is under 30 MB raw but over it once base64-encoded for the API.
    big = Attachment("scorecard.csv", b"x" * 23_000_000, "text/csv")

    with pytest.raises(DeliveryError, match=r"is 30\.7 MB once encoded for SendGrid.*less than 30 MB"):
        mailer_for(fake_sendgrid).send(report_email(attachments=(big,)))

    assert fake_sendgrid.requests == []


def test_the_api_key_never_reaches_the_logs_even_at_debug_level(fake_sendgrid, caplog):
    caplog.set_level(logging.DEBUG)

    mailer_for(fake_sendgrid).send(report_email())

    assert len(fake_sendgrid.messages) == 1
    assert TEST_API_KEY not in caplog.text


def test_an_email_sendgrid_finds_malformed_is_reported_with_sendgrids_reason(fake_sendgrid):
    with pytest.raises(DeliveryError) as failure:
        mailer_for(fake_sendgrid, **FAST).send(report_email(subject=""))

    assert str(failure.value).startswith("SendGrid refused the email as malformed (400): The subject is required.")
    assert str(failure.value).endswith("(field subject).")
    assert [r.answer for r in fake_sendgrid.requests] == ["400"]
