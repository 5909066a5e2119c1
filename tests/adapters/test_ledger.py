"""Exactly once: DeliveryLedger.send_once around the real SendGrid mailer and the loopback fake."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.ledger import DeliveryBusy, DeliveryLedger, Outcome
from adapters.mailers import OutboxMailer
from adapters.retry import RetryRule
from adapters.sendgrid_mailer import SendGridMailer
from adapters.store import open_store
from coaching.email import EmailKind
from tests.deadlines import scaled
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, fake_sendgrid, report_email  # noqa: F401

ONE = report_email(("ceo@example.org",))
THREE = ("ceo@example.org", "cfo@example.org", "board@example.org")

# Separate processes, as two Prefect runs or a killed worker would be: each forked from one fresh
# process that imported this module once (spawning imports it again for each, about 1 CPU s).
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])


def mailer_for(url: str, key: str = TEST_API_KEY, timeout: float = 30) -> SendGridMailer:
    return SendGridMailer(
        SecretStr(key), api_url=url, retries=RetryRule(base_delay=0.01, max_delay=0.05), timeout=timeout
    )


def DeliveryLedgerIn(state_dir: Path) -> DeliveryLedger:  # noqa: N802 - reads as the class it builds
    """The ledger in a state folder's SQLite file, as a run without COACHING_LEDGER_URL has it."""
    return DeliveryLedger(open_store(state_dir))


def send_in_another_process(state_dir: str, url: str, ready: Barrier, outcomes: Queue[str]) -> None:
    """One whole run: its own ledger and mailer, sharing only the state folder and SendGrid."""
    ready.wait(30)  # every run has started and is about to send
    result = DeliveryLedgerIn(Path(state_dir)).send_once(mailer_for(url), ONE)
    outcomes.put(result.outcome.value)


def test_a_rejected_key_is_reported_per_recipient_and_records_nothing_as_sent(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)

    refused = ledger.send_once(mailer_for(fake_sendgrid.url, key="SG.wrong.key"), report_email())

    assert refused.outcome is Outcome.FAILED and refused.missed == ["ceo@example.org", "cfo@example.org"]
    assert "SendGrid rejected the API key" in refused.sentence
    assert [entry["status"] for entry in ledger.history()] == ["failed", "failed"]
    # Once the key is fixed, the same email goes out: the failure did not count as sent.
    assert ledger.send_once(mailer_for(fake_sendgrid.url), report_email()).outcome is Outcome.SENT
    assert fake_sendgrid.recipients() == ["ceo@example.org", "cfo@example.org"]


def test_a_rerun_sends_nothing_and_says_when_and_to_whom(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)
    first = ledger.send_once(mailer_for(fake_sendgrid.url), report_email())

    again = DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake_sendgrid.url), report_email())

    assert first.outcome is Outcome.SENT
    assert again.outcome is Outcome.ALREADY_SENT
    cfo_sent_at = ledger.history()[0]["finished_at"]
    ceo, cfo = again.results
    assert f"to cfo@example.org was already sent (sendgrid) at {cfo_sent_at}" in cfo.message
    assert "--force-resend" in cfo.message
    assert (
        [r.where for r in again.results]
        == [r.where for r in first.results]
        == [f"sendgrid:{message_id}" for message_id in fake_sendgrid.message_ids]
    )
    assert fake_sendgrid.recipients() == ["ceo@example.org", "cfo@example.org"]  # one email each


def test_a_forced_resend_sends_exactly_one_more(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)
    ledger.send_once(mailer_for(fake_sendgrid.url), ONE)

    forced = ledger.send_once(mailer_for(fake_sendgrid.url), ONE, force=True)

    assert forced.outcome is Outcome.SENT and "forced" in forced.sentence
    assert len(fake_sendgrid.messages) == 2
    assert ledger.send_once(mailer_for(fake_sendgrid.url), ONE).outcome is Outcome.ALREADY_SENT


def test_changed_content_or_recipients_is_a_new_email(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)
    ledger.send_once(mailer_for(fake_sendgrid.url), ONE)

    other_text = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(ONE.recipients, text="Corrected."))
    other_people = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(("coo@example.org",)))

    assert other_text.outcome is other_people.outcome is Outcome.SENT
    assert len(fake_sendgrid.messages) == 3


def test_an_email_written_to_the_outbox_does_not_count_as_sent_through_sendgrid(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)
    ledger.send_once(OutboxMailer(tmp_path / "outbox"), ONE)

    real = ledger.send_once(mailer_for(fake_sendgrid.url), ONE)

    assert real.outcome is Outcome.SENT
    assert len(fake_sendgrid.messages) == 1
    assert [(e["channel"], e["status"]) for e in ledger.history()] == [("sendgrid", "sent"), ("outbox", "sent")]


def test_one_recipient_sendgrid_refuses_does_not_stop_the_others(fake_sendgrid, tmp_path):
    fake_sendgrid.rejected_addresses = {"cfo@example.org"}
    ledger = DeliveryLedgerIn(tmp_path)

    report = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(THREE))

    assert fake_sendgrid.recipients() == ["ceo@example.org", "board@example.org"]
    assert report.outcome is Outcome.FAILED and report.missed == ["cfo@example.org"]
    assert "Does not contain a valid address" in report.of(Outcome.FAILED)[0].message
    assert {e["recipient"]: e["status"] for e in ledger.history()} == {
        "ceo@example.org": "sent",
        "cfo@example.org": "failed",
        "board@example.org": "sent",
    }
    # The address fixed in SendGrid, the next run sends to that recipient only.
    fake_sendgrid.rejected_addresses = set()
    again = ledger.send_once(mailer_for(fake_sendgrid.url), report_email(THREE))
    assert [r.outcome for r in again.results] == [Outcome.ALREADY_SENT, Outcome.SENT, Outcome.ALREADY_SENT]
    assert fake_sendgrid.recipients() == ["ceo@example.org", "board@example.org", "cfo@example.org"]


@pytest.mark.parametrize(
    "fault",
    [Fault(None, accepted=True), Fault(None, accepted=True, delay=3), Fault(202, accepted=True, trickle=0.3)],
    ids=["accept-then-drop", "accept-then-hang", "trickle"],
)
def test_a_lost_answer_is_recorded_unknown_and_no_later_run_sends_it_again(tmp_path, fault):
    with FakeSendGrid() as fake:
        fake.fail_next(fault)
        ledger = DeliveryLedgerIn(tmp_path)
        started = time.monotonic()

        lost = ledger.send_once(mailer_for(fake.url, timeout=0.5), ONE)

        assert time.monotonic() - started < scaled(2)
        assert lost.outcome is Outcome.UNKNOWN and lost.missed == ["ceo@example.org"]
        entry = lost.results[0].entry
        assert f"python -m ops.deliveries mark-sent {entry}" in lost.sentence
        # Only this copy is re-sent: a forced re-send would go to every recipient again.
        assert f"python -m ops.deliveries resend {entry}` sends this copy alone" in lost.sentence
        assert "Activity Feed" in lost.sentence and "--force-resend" not in lost.sentence
        assert [e["status"] for e in ledger.history()] == ["unknown"]

        rerun = DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake.url), ONE)

        assert rerun.outcome is Outcome.UNKNOWN and "its answer was lost" in rerun.sentence
        assert len(fake.messages) == 1  # SendGrid took it once; nobody sent it again
        # The admin found it in SendGrid's activity feed and says so: later runs see it as sent.
        ledger.resolve(entry, "sent", "found in the activity feed")
        assert DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake.url), ONE).outcome is Outcome.ALREADY_SENT
        assert len(fake.messages) == 1


def test_an_unknown_entry_marked_failed_is_sent_by_the_next_run(fake_sendgrid, tmp_path):
    fake_sendgrid.fail_next(Fault(None))  # dropped before SendGrid kept it
    ledger = DeliveryLedgerIn(tmp_path)
    lost = ledger.send_once(mailer_for(fake_sendgrid.url), ONE)

    ledger.resolve(lost.results[0].entry, "failed", "not in the activity feed")
    again = ledger.send_once(mailer_for(fake_sendgrid.url), ONE)

    assert again.outcome is Outcome.SENT and len(fake_sendgrid.messages) == 1


def test_an_entry_with_a_result_cannot_be_resolved_and_keeps_it(fake_sendgrid, tmp_path):
    ledger = DeliveryLedgerIn(tmp_path)
    sent = ledger.send_once(mailer_for(fake_sendgrid.url), ONE).results[0].entry

    with pytest.raises(LookupError, match=f"entry {sent} is 'sent', not unknown or pending"):
        ledger.resolve(sent, "failed", "a typo in the entry number")

    assert [e["status"] for e in ledger.history()] == ["sent"]
    assert ledger.send_once(mailer_for(fake_sendgrid.url), ONE).outcome is Outcome.ALREADY_SENT
    assert len(fake_sendgrid.messages) == 1


def test_a_ledger_written_before_per_recipient_entries_still_knows_what_was_sent(fake_sendgrid, tmp_path):
    email = report_email()
    with sqlite3.connect(tmp_path / "deliveries.sqlite3") as old:
        old.execute(
            "CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_key TEXT NOT NULL,"
            " kind TEXT NOT NULL, period TEXT NOT NULL, recipients TEXT NOT NULL, content_hash TEXT NOT NULL,"
            " status TEXT NOT NULL, forced INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL,"
            " finished_at TEXT, receipt TEXT, error TEXT)"
        )
        old.execute(
            "INSERT INTO deliveries (delivery_key, kind, period, recipients, content_hash, status, started_at,"
            " finished_at, receipt) VALUES ('k', ?, ?, 'ceo@example.org, cfo@example.org', ?, 'sent',"
            " '2026-10-01T12:00:00+00:00', '2026-10-01T12:00:01+00:00', 'sendgrid:abc')",
            (email.kind, email.period, email.content_hash),
        )

    rerun = DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake_sendgrid.url), email)

    assert rerun.outcome is Outcome.ALREADY_SENT
    assert fake_sendgrid.messages == []


def test_two_runs_at_the_same_time_send_one_email_and_the_second_finds_it_sent(tmp_path):
    with FakeSendGrid(response_delay=0.5) as fake:  # a slow SendGrid widens the race window
        ready, outcomes = PROCESSES.Barrier(2), PROCESSES.Queue()
        runs = [
            PROCESSES.Process(target=send_in_another_process, args=(str(tmp_path), fake.url, ready, outcomes))
            for _ in range(2)
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join(30)

        assert [run.exitcode for run in runs] == [0, 0]
        # The second waited for the first instead of reporting its unfinished entry as unknown.
        assert sorted(outcomes.get(timeout=5) for _ in runs) == ["already_sent", "sent"]
        assert len(fake.messages) == 1


def test_a_run_killed_mid_send_leaves_an_entry_that_is_never_resent_automatically(tmp_path):
    with FakeSendGrid(response_delay=60) as fake:  # SendGrid takes the email but never answers in time
        ready, outcomes = PROCESSES.Barrier(1), PROCESSES.Queue()
        run = PROCESSES.Process(target=send_in_another_process, args=(str(tmp_path), fake.url, ready, outcomes))
        run.start()
        fake.wait_for_messages(1)
        run.kill()  # the worker dies between SendGrid's acceptance and the ledger's record
        run.join(10)
        fake.response_delay = 0

        rerun = DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake.url), ONE)

        assert rerun.outcome is Outcome.UNKNOWN
        assert "result was never recorded" in rerun.sentence and "ceo@example.org" in rerun.sentence
        assert "python -m ops.deliveries resend 1" in rerun.sentence
        assert len(fake.messages) == 1
        assert [entry["status"] for entry in DeliveryLedgerIn(tmp_path).history()] == ["pending"]

        forced = DeliveryLedgerIn(tmp_path).send_once(mailer_for(fake.url), ONE, force=True)

        assert forced.outcome is Outcome.SENT
        assert len(fake.messages) == 2


def store_of(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a test's ledger lives: a state folder (SQLite) or a PostgreSQL URL."""
    return request.getfixturevalue("postgres_url") if backend == "postgresql" else str(tmp_path)


def ledger_at(store: str, wait_seconds: float = 600) -> DeliveryLedger:
    engine = open_store(Path("."), store) if store.startswith("postgresql") else open_store(Path(store))
    return DeliveryLedger(engine, wait_seconds=wait_seconds)


def send_and_hang(store: str, url: str) -> None:
    """A run sending ONE whose SendGrid never answers: it holds the email's lock until killed."""
    ledger_at(store).send_once(mailer_for(url), ONE)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_run_waits_saying_so_an_alert_never_waits_and_a_killed_sender_frees_the_email(backend, tmp_path, request):
    store = store_of(backend, tmp_path, request)
    with FakeSendGrid(response_delay=60) as fake:
        sender = PROCESSES.Process(target=send_and_hang, args=(store, fake.url))
        sender.start()
        fake.wait_for_messages(1, timeout=scaled(20))  # taken by SendGrid; its answer never comes
        fake.response_delay = 0
        said: list[str] = []

        # An admin alert is another email: it goes at once, whatever the quarterly run is doing.
        alert = report_email(ONE.recipients, kind=EmailKind.ADMIN_ALERT, period="failed run 1234")
        assert ledger_at(store).send_once(mailer_for(fake.url), alert, on_wait=said.append).outcome is Outcome.SENT
        assert said == []
        # The same report from another run waits, saying for what, and gives up sending nothing.
        with pytest.raises(DeliveryBusy, match="another run has been sending it for over"):
            ledger_at(store, wait_seconds=scaled(1)).send_once(mailer_for(fake.url), ONE, on_wait=said.append)
        assert said == [
            (
                "Waiting for another run that is sending the quarterly report for 2026-Q3 (sendgrid) to finish "
                f"(up to {scaled(1):g} s) ..."
            )
        ]

        sender.kill()  # kill -9 mid-send: nothing of its lock survives it
        sender.join(scaled(10))
        rerun = ledger_at(store, wait_seconds=scaled(30)).send_once(mailer_for(fake.url), ONE, on_wait=said.append)

        assert len(said) == 1  # no wait this time
        assert rerun.outcome is Outcome.UNKNOWN and "result was never recorded" in rerun.sentence
        assert fake.recipients() == ["ceo@example.org", "ceo@example.org"]  # the report once, the alert once
