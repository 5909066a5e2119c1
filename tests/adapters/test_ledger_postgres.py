"""The delivery ledger in PostgreSQL (COACHING_LEDGER_URL): workers on several hosts share it and
each email still goes once. Runs against the tests' own PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from pydantic import SecretStr
from sqlalchemy import Engine, text

from adapters.ledger import DeliveryLedger, Outcome
from adapters.mailers import OutboxMailer
from adapters.sendgrid_mailer import SendGridMailer
from config.settings import load_settings
from config.wiring import build_store_engine
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, report_email

SPAWN = multiprocessing.get_context("spawn")
ONE = report_email(("ceo@example.org",))


def engine_for(url: str) -> Engine:
    return build_store_engine(load_settings(ledger_url=SecretStr(url)))


def mailer_for(url: str) -> SendGridMailer:
    return SendGridMailer(SecretStr(TEST_API_KEY), api_url=url, base_delay=0.01, max_delay=0.05, timeout=2)


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
        ready, outcomes = SPAWN.Barrier(4), SPAWN.Queue()
        workers = [
            SPAWN.Process(target=send_from_another_host, args=(postgres_url, fake.url, ready, outcomes))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)

        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
        assert sorted(outcomes.get(timeout=5) for _ in workers) == ["sent", "unknown", "unknown", "unknown"]
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
