"""`python -m ops.deliveries`: an admin resolves an email of unknown outcome without touching SQL."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from adapters.ledger import DeliveryLedger, Outcome
from adapters.sendgrid_mailer import SendGridMailer
from adapters.store import open_store
from ops.deliveries import main
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, report_email

ONE = report_email(("ceo@example.org",))


@pytest.fixture
def lost(tmp_path, monkeypatch):
    """A state folder whose ledger holds one email SendGrid took but whose answer was lost."""
    monkeypatch.setenv("COACHING_STATE_DIR", str(tmp_path))
    with FakeSendGrid() as fake:
        fake.fail_next(Fault(None, accepted=True))
        mailer = SendGridMailer(SecretStr(TEST_API_KEY), api_url=fake.url, timeout=2)
        report = DeliveryLedger(open_store(tmp_path)).send_once(mailer, ONE)
        yield fake, mailer, report.results[0].entry


def test_list_shows_the_unknown_entry_with_its_recipient(lost, capsys):
    _, _, entry = lost

    assert main(["list", "--status", "unknown"]) == 0

    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["id", "status", "kind", "period", "recipient"]
    assert row.split()[:6] == [str(entry), "unknown", "quarterly_report", "2026-Q3", "ceo@example.org", "sendgrid"]


def test_mark_sent_keeps_later_runs_from_sending_it(lost, tmp_path, capsys):
    fake, mailer, entry = lost

    assert main(["mark-sent", str(entry), "--note", "seen in the activity feed"]) == 0

    assert "is now sent: later runs will not send it again" in capsys.readouterr().out
    again = DeliveryLedger(open_store(tmp_path)).send_once(mailer, ONE)
    assert again.outcome is Outcome.ALREADY_SENT and len(fake.messages) == 1


def test_mark_failed_lets_the_next_run_send_it(lost, tmp_path):
    fake, mailer, entry = lost

    assert main(["mark-failed", str(entry)]) == 0

    again = DeliveryLedger(open_store(tmp_path)).send_once(mailer, ONE)
    assert again.outcome is Outcome.SENT and len(fake.messages) == 2


def test_an_entry_already_resolved_or_missing_is_refused(lost, capsys):
    _, _, entry = lost
    assert main(["mark-sent", str(entry)]) == 0

    assert main(["mark-failed", str(entry)]) == 2
    assert main(["mark-sent", "999"]) == 2
    err = capsys.readouterr().err
    assert f"entry {entry} is 'sent', not unknown or pending" in err and "no delivery entry 999" in err


def test_list_limit_shows_only_the_newest_entries(lost, tmp_path, capsys):
    _, mailer, _ = lost
    DeliveryLedger(open_store(tmp_path)).send_once(mailer, report_email(("cfo@example.org",)))

    assert main(["list", "--limit", "1"]) == 0

    _header, *rows = capsys.readouterr().out.splitlines()
    assert [row.split()[4] for row in rows] == ["cfo@example.org"]


@pytest.fixture
def one_of_two_lost(tmp_path, monkeypatch):
    """SendGrid took the CEO's copy but its answer was lost; the CFO's went: the settings of a run
    with a SendGrid key."""
    monkeypatch.setenv("COACHING_STATE_DIR", str(tmp_path))
    with FakeSendGrid() as fake:
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", fake.url)
        fake.fail_next(Fault(None, accepted=True))
        mailer = SendGridMailer(SecretStr(TEST_API_KEY), api_url=fake.url, timeout=2)
        report = DeliveryLedger(open_store(tmp_path)).send_once(
            mailer, report_email(("ceo@example.org", "cfo@example.org"))
        )
        assert [r.outcome for r in report.results] == [Outcome.UNKNOWN, Outcome.SENT]
        yield fake, report.results[0].entry


def test_resend_sends_the_unknown_copy_alone_and_it_is_no_longer_unresolved(one_of_two_lost, tmp_path, capsys):
    fake, entry = one_of_two_lost
    assert main(["unresolved"]) == 0
    assert (
        f"Unresolved delivery {entry}: the quarterly_report for 2026-Q3 to ceo@example.org" in capsys.readouterr().out
    )

    assert main(["resend", str(entry)]) == 0

    assert capsys.readouterr().out.startswith("Sent the quarterly report for 2026-Q3 to ceo@example.org.")
    assert fake.recipients() == ["ceo@example.org", "cfo@example.org", "ceo@example.org"]
    first, again = fake.messages[0], fake.messages[2]
    assert again["subject"] == first["subject"] and again["content"] == first["content"]
    assert [a["filename"] for a in again["attachments"]] == [a["filename"] for a in first["attachments"]]
    assert main(["unresolved"]) == 0 and capsys.readouterr().out == ""
    # Re-sent once: asking again sends nothing more.
    assert main(["resend", str(entry)]) == 0
    assert capsys.readouterr().out.startswith("Not sent again: the quarterly report for 2026-Q3 to ceo@example.org")
    assert len(fake.messages) == 3


def test_resend_refuses_an_entry_that_was_sent_and_one_sent_through_another_channel(
    one_of_two_lost, monkeypatch, capsys
):
    fake, entry = one_of_two_lost

    assert main(["resend", str(entry + 1)]) == 2  # the CFO's: it arrived
    monkeypatch.setenv("COACHING_EMAIL_BACKEND", "outbox")
    assert main(["resend", str(entry)]) == 2

    err = capsys.readouterr().err
    assert f"entry {entry + 1} is 'sent': it arrived, nothing to re-send" in err
    assert f"entry {entry} went through sendgrid, but these settings send through outbox" in err
    assert len(fake.messages) == 2
