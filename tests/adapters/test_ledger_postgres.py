"""The delivery ledger in PostgreSQL (COACHING_LEDGER_URL): workers on several hosts share it and
each email still goes once. Runs against the tests' own PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from adapters.ledger import DeliveryLedger, Outcome
from adapters.mailers import OutboxMailer
from adapters.retry import RetryRule
from adapters.sendgrid_mailer import SendGridMailer
from adapters.store import StoreUnavailable
from coaching.email import EmailKind
from config.settings import load_settings
from config.wiring import build_store_engine
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, report_email

# Other hosts' runs: processes forked from one fresh process that imported this module once.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])
ONE = report_email(("ceo@example.org",))


def engine_for(url: str) -> Engine:
    return build_store_engine(load_settings(ledger_url=SecretStr(url)))


def mailer_for(url: str) -> SendGridMailer:
    return SendGridMailer(
        SecretStr(TEST_API_KEY), api_url=url, retries=RetryRule(base_delay=0.01, max_delay=0.05), timeout=2
    )


def send_from_another_host(ledger_url: str, sendgrid_url: str, ready: Barrier, outcomes: Queue[str]) -> None:
    """One worker: its own engine, ledger and mailer, sharing only PostgreSQL and SendGrid."""
    ledger = DeliveryLedger(engine_for(ledger_url))
    ready.wait(30)
    outcomes.put(ledger.send_once(mailer_for(sendgrid_url), ONE).outcome.value)


def test_the_ledger_url_setting_puts_the_ledger_in_postgresql(postgres_url, tmp_path):
    engine = engine_for(postgres_url)

    DeliveryLedger(engine).send_once(OutboxMailer(tmp_path / "outbox"), ONE)

    assert engine.dialect.name == "postgresql"
    with engine.connect() as db:
        assert db.execute(text("SELECT recipient, channel, status FROM email_deliveries")).all() == [
            ("ceo@example.org", "outbox", "sent")
        ]


def test_four_workers_racing_on_a_new_postgresql_ledger_send_the_email_once(postgres_url):
    with FakeSendGrid(response_delay=0.5) as fake:  # a slow SendGrid widens the race window
        ready, outcomes = PROCESSES.Barrier(4), PROCESSES.Queue()
        workers = [
            PROCESSES.Process(target=send_from_another_host, args=(postgres_url, fake.url, ready, outcomes))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)

        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
        # One sends; the others wait for it (the ledger's lock on the email) and find it sent.
        assert sorted(outcomes.get(timeout=5) for _ in workers) == [
            "already_sent",
            "already_sent",
            "already_sent",
            "sent",
        ]
        assert len(fake.messages) == 1


def test_a_lost_answer_is_unknown_in_postgresql_too_and_an_admin_resolves_it(postgres_url):
    ledger = DeliveryLedger(engine_for(postgres_url))
    with FakeSendGrid() as fake:
        fake.fail_next(Fault(None, accepted=True))
        lost = ledger.send_once(mailer_for(fake.url), ONE)
        assert lost.outcome is Outcome.UNKNOWN

        ledger.resolve(lost.results[0].entry, "sent", "seen in the activity feed")

        assert ledger.send_once(mailer_for(fake.url), ONE).outcome is Outcome.ALREADY_SENT
        assert len(fake.messages) == 1


def test_the_database_stopping_after_an_email_left_says_what_is_known_of_each_and_sends_nothing_twice(
    stoppable_postgres,
):
    ledger = DeliveryLedger(engine_for(stoppable_postgres.url))
    with FakeSendGrid() as fake:
        fake.after_accepting = stoppable_postgres.stop  # SendGrid takes the CEO's copy, then the database goes

        with pytest.raises(StoreUnavailable) as stopped:
            ledger.send_once(mailer_for(fake.url), report_email(("ceo@example.org", "cfo@example.org")))

        said = str(stopped.value)
        assert said.startswith("The delivery ledger's database (postgresql+psycopg://ledger_user_")
        assert stoppable_postgres.password not in said and "***" in said
        assert "Sent the quarterly report for 2026-Q3 to ceo@example.org." in said
        assert "The ledger could not record it: entry 1 stays pending, so that no run sends it again" in said
        assert "mark-sent 1" in said and "Not sent to cfo@example.org (this run stopped before them)." in said
        assert "\n" not in said  # one line

        fake.after_accepting = None
        stoppable_postgres.start()
        rerun = DeliveryLedger(engine_for(stoppable_postgres.url)).send_once(mailer_for(fake.url), ONE)
        assert rerun.outcome is Outcome.UNKNOWN and len(fake.messages) == 1  # the CEO's copy is not sent again


def test_an_admin_alert_naming_its_run_is_recorded_also_in_a_ledger_made_when_periods_were_shorter(
    postgres_url, tmp_path
):
    engine = engine_for(postgres_url)
    with engine.begin() as db:  # the table as a ledger made before kept it: period VARCHAR(40)
        db.execute(
            text(
                "CREATE TABLE email_deliveries (id SERIAL PRIMARY KEY, delivery_key VARCHAR(600) NOT NULL, "
                "kind VARCHAR(40) NOT NULL, period VARCHAR(40) NOT NULL, recipient VARCHAR(320) NOT NULL, "
                "channel VARCHAR(40) NOT NULL, content_hash VARCHAR(64) NOT NULL, subject TEXT NOT NULL, "
                "status VARCHAR(10) NOT NULL, forced INTEGER NOT NULL, started_at VARCHAR(32) NOT NULL, "
                "finished_at VARCHAR(32), receipt TEXT, error TEXT)"
            )
        )
    alert = report_email(
        ("it-admin@example.org",),
        kind=EmailKind.ADMIN_ALERT,
        period="cancelled run 0b5e1f0e-7c1d-4f5e-9a43-3f6f3d1f2a9b",
    )

    report = DeliveryLedger(engine).send_once(OutboxMailer(tmp_path / "outbox"), alert)

    assert report.outcome == Outcome.SENT
    with engine.connect() as db:
        assert db.execute(text("SELECT period, status FROM email_deliveries")).all() == [(alert.period, "sent")]
