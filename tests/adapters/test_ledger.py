"""Exactly once: DeliveryLedger.send_once around the real SendGrid mailer and the loopback fake."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.ledger import DeliveryLedger, Outcome
from adapters.sendgrid_mailer import DeliveryError, SendGridMailer
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, fake_sendgrid, report_email  # noqa: F401

# Separate processes, as two Prefect runs or a killed worker would be; spawn re-imports cleanly.
SPAWN = multiprocessing.get_context("spawn")


def mailer_for(url: str, key: str = TEST_API_KEY) -> SendGridMailer:
    return SendGridMailer(SecretStr(key), api_url=url, base_delay=0.01, max_delay=0.05)


def send_in_another_process(state_dir: str, url: str, ready: Barrier, outcomes: Queue[str]) -> None:
    """One whole run: its own ledger and mailer, sharing only the state folder and SendGrid."""
    ready.wait(30)  # every run has started and is about to send
    result = DeliveryLedger(Path(state_dir)).send_once(mailer_for(url), report_email())
    outcomes.put(result.outcome.value)


def test_a_rejected_key_raises_and_records_nothing_as_sent(fake_sendgrid, tmp_path):
    ledger = DeliveryLedger(tmp_path)

    with pytest.raises(DeliveryError, match="SendGrid rejected the API key"):
        ledger.send_once(mailer_for(fake_sendgrid.url, key="SG.wrong.key"), report_email())

    assert [entry["status"] for entry in ledger.history()] == ["failed"]
    # Once the key is fixed, the same email goes out: the failure did not count as sent.
    assert ledger.send_once(mailer_for(fake_sendgrid.url), report_email()).outcome is Outcome.SENT
    assert len(fake_sendgrid.messages) == 1


def test_a_rerun_sends_nothing_and_says_when_and_to_whom(fake_sendgrid, tmp_path):
    ledger = DeliveryLedger(tmp_path)
    first = ledger.send_once(mailer_for(fake_sendgrid.url), report_email())

    again = DeliveryLedger(tmp_path).send_once(mailer_for(fake_sendgrid.url), report_email())

    assert first.outcome is Outcome.SENT
    assert again.outcome is Outcome.ALREADY_SENT
    sent_at = ledger.history()[0]["finished_at"]
    assert f"already sent to ceo@example.org, cfo@example.org at {sent_at}" in again.message
    assert "--force-resend" in again.message
    assert again.where == first.where == f"sendgrid:{fake_sendgrid.message_ids[0]}"
    assert len(fake_sendgrid.messages) == 1


def test_a_forced_resend_sends_exactly_one_more(fake_sendgrid, tmp_path):
    ledger = DeliveryLedger(tmp_path)
    ledger.send_once(mailer_for(fake_sendgrid.url), report_email())

    forced = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(), force=True)

    assert forced.outcome is Outcome.SENT and "forced" in forced.message
    assert len(fake_sendgrid.messages) == 2
    assert ledger.send_once(mailer_for(fake_sendgrid.url), report_email()).outcome is Outcome.ALREADY_SENT


def test_changed_content_or_recipients_is_a_new_email(fake_sendgrid, tmp_path):
    ledger = DeliveryLedger(tmp_path)
    ledger.send_once(mailer_for(fake_sendgrid.url), report_email())

    other_text = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(text="Corrected figures."))
    other_people = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(("coo@example.org",)))

    assert other_text.outcome is other_people.outcome is Outcome.SENT
    assert len(fake_sendgrid.messages) == 3


def test_two_runs_at_the_same_time_send_one_email(tmp_path):
    with FakeSendGrid(response_delay=0.5) as fake:  # a slow SendGrid widens the race window
        ready, outcomes = SPAWN.Barrier(2), SPAWN.Queue()
        runs = [
            SPAWN.Process(target=send_in_another_process, args=(str(tmp_path), fake.url, ready, outcomes))
            for _ in range(2)
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join(30)

        assert [run.exitcode for run in runs] == [0, 0]
        assert sorted(outcomes.get(timeout=5) for _ in runs) == ["sent", "unknown"]
        assert len(fake.messages) == 1


def test_a_run_killed_mid_send_leaves_an_unknown_entry_that_is_never_resent_automatically(tmp_path):
    with FakeSendGrid(response_delay=60) as fake:  # SendGrid takes the email but never answers in time
        ready, outcomes = SPAWN.Barrier(1), SPAWN.Queue()
        run = SPAWN.Process(target=send_in_another_process, args=(str(tmp_path), fake.url, ready, outcomes))
        run.start()
        fake.wait_for_messages(1)
        run.kill()  # the worker dies between SendGrid's acceptance and the ledger's record
        run.join(10)
        fake.response_delay = 0

        rerun = DeliveryLedger(tmp_path).send_once(mailer_for(fake.url), report_email())

        assert rerun.outcome is Outcome.UNKNOWN
        assert "result was never recorded" in rerun.message and "ceo@example.org" in rerun.message
        assert "--force-resend" in rerun.message
        assert len(fake.messages) == 1
        assert [entry["status"] for entry in DeliveryLedger(tmp_path).history()] == ["pending"]

        forced = DeliveryLedger(tmp_path).send_once(mailer_for(fake.url), report_email(), force=True)

        assert forced.outcome is Outcome.SENT
        assert len(fake.messages) == 2
