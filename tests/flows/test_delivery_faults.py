"""What the flows do when SendGrid misbehaves: a lost answer is never sent twice and fails the run
with what to check; one refused recipient does not stop the others."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openpyxl
import pytest

from adapters.ledger import DeliveryLedger, Outcome
from adapters.mailers import OutboxMailer
from adapters.report_history import ReportHistory
from adapters.store import open_store
from config.settings import PROJECT_ROOT
from flows.monthly_nudge import main as nudge_main
from flows.monthly_nudge import monthly_nudge
from flows.prefect_api import free_port
from flows.quarterly_report import main as report_main
from tasks.delivery import DeliveryIncomplete, deliver_email
from tests.deadlines import scaled
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault, report_email

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"
LEADERS = "ceo@brightpath.example.org,cfo@brightpath.example.org,board@brightpath.example.org"


@pytest.fixture
def sendgrid(monkeypatch: pytest.MonkeyPatch):
    with FakeSendGrid() as fake:
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", fake.url)
        monkeypatch.setenv("COACHING_SENDGRID_TIMEOUT_SECONDS", "1")
        yield fake


def statuses(state_dir: Path) -> dict[str, str]:
    return {str(e["recipient"]): str(e["status"]) for e in DeliveryLedger(open_store(state_dir)).history()}


@pytest.mark.parametrize(
    "fault",
    [Fault(None, accepted=True), Fault(None, accepted=True, delay=5), Fault(202, accepted=True, trickle=0.3)],
    ids=["accept-then-drop", "accept-then-hang", "trickle"],
)
def test_a_lost_answer_fails_the_run_with_what_to_check_and_no_rerun_sends_it_again(
    tmp_path, state_dir, sendgrid, capsys, caplog, fault
):
    sendgrid.fail_next(fault)
    args = ["--quarter", "2026-Q3", "--output-dir", str(tmp_path / "q3")]
    started = time.monotonic()

    assert report_main(args) == 2
    assert time.monotonic() - started < scaled(30)  # bounded: the answer is not waited for forever

    error = capsys.readouterr().err
    assert "Unknown whether the quarterly report for 2026-Q3 to leadership@brightpath.example.org arrived" in error
    assert "SendGrid's Activity Feed" in error and "python -m ops.deliveries mark-sent" in error
    assert statuses(state_dir) == {"leadership@brightpath.example.org": "unknown"}
    if fault.delay or fault.trickle:
        return  # what the next run does follows from that status alone: shown once, after the drop

    caplog.clear()
    assert report_main(args) == 2  # the next run does not guess either
    assert len(sendgrid.messages) == len(sendgrid.requests) == 1
    # Every later run repeats it until an admin decides, whatever it sends itself.
    assert "Unresolved delivery 1: the quarterly_report for 2026-Q3 to leadership@brightpath.example.org" in caplog.text


def test_one_refused_leader_does_not_stop_the_report_reaching_the_others(
    tmp_path, state_dir, sendgrid, monkeypatch, capsys
):
    monkeypatch.setenv("COACHING_REPORT_RECIPIENTS", LEADERS)
    sendgrid.rejected_addresses = {"cfo@brightpath.example.org"}

    assert report_main(["--quarter", "2026-Q3", "--output-dir", str(tmp_path / "q3")]) == 2

    assert sendgrid.recipients() == ["ceo@brightpath.example.org", "board@brightpath.example.org"]
    assert "not delivered to cfo@brightpath.example.org" in capsys.readouterr().err
    assert statuses(state_dir) == {
        "ceo@brightpath.example.org": "sent",
        "cfo@brightpath.example.org": "failed",
        "board@brightpath.example.org": "sent",
    }


def test_one_lead_sendgrid_refuses_does_not_stop_the_nudges_of_the_other_leads(tmp_path, state_dir, sendgrid):
    book = openpyxl.load_workbook(SAMPLE)
    programs = book["Programs"]
    programs["C3"] = "00117"  # Check & Connect's lead is Adrian Evans: three leads to nudge
    workbook = tmp_path / "three-leads.xlsx"
    book.save(workbook)
    sendgrid.rejected_addresses = {"fiona.jones@brightpath.example.org"}  # the first program's lead

    with pytest.raises(DeliveryIncomplete) as failure:
        monthly_nudge(month="2026-08", source=str(workbook), output_dir=str(tmp_path / "n"))

    assert sorted(sendgrid.recipients()) == [
        "adrian.evans@brightpath.example.org",
        "wesley.flores@brightpath.example.org",
    ]
    assert "FP (Family Preservation): Not sent the monthly coaching nudge" in str(failure.value)
    assert "Does not contain a valid address" in str(failure.value)
    assert statuses(state_dir) == {
        "fiona.jones@brightpath.example.org": "failed",
        "adrian.evans@brightpath.example.org": "sent",
        "wesley.flores@brightpath.example.org": "sent",
    }
    # Once SendGrid takes the address again, the next run nudges that lead only.
    sendgrid.rejected_addresses = set()
    assert nudge_main(["--month", "2026-08", "--source", str(workbook), "--output-dir", str(tmp_path / "n")]) == 0
    assert sorted(sendgrid.recipients()) == [
        "adrian.evans@brightpath.example.org",
        "fiona.jones@brightpath.example.org",
        "wesley.flores@brightpath.example.org",
    ]


def test_a_typo_in_a_configured_address_stops_the_run_at_its_start_naming_it(tmp_path, state_dir, monkeypatch, capsys):
    monkeypatch.setenv("COACHING_REPORT_RECIPIENTS", "ceo@brightpath.example.org,cfo@brightpath..example.org")

    assert report_main(["--quarter", "2026-Q3", "--output-dir", str(tmp_path / "q3")]) == 2

    error = capsys.readouterr().err
    assert "error: Settings (config/settings.yaml or COACHING_… variables): report_recipients: " in error
    assert "not a valid email address: 'cfo@brightpath..example.org'" in error
    assert not (tmp_path / "q3").exists()


def test_an_address_from_the_sheet_that_is_not_one_gets_nothing_and_the_others_still_get_theirs(tmp_path):
    ledger = DeliveryLedger(open_store(tmp_path))
    email = report_email(("fiona.jones@brightpath.example.org", "wesley flores@brightpath", "ceo@example.org"))

    report = deliver_email.fn(OutboxMailer(tmp_path / "outbox"), ledger, email, False)

    assert [r.outcome for r in report.results] == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    assert report.missed == ["wesley flores@brightpath"]
    assert "not a valid email address" in report.results[1].message
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_the_ledger_database_down_at_the_start_ends_with_one_error_line_naming_it(
    tmp_path, state_dir, monkeypatch, capsys
):
    nobody = f"postgresql+psycopg://coach:never-shown@127.0.0.1:{free_port()}/coaching"
    monkeypatch.setenv("COACHING_LEDGER_URL", nobody)

    assert report_main(["--quarter", "2026-Q3", "--output-dir", str(tmp_path / "q3")]) == 2

    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith("error: The delivery ledger's database (postgresql+psycopg://coach:***@127.0.0.1:")
    assert line.endswith("Nothing was sent.")
    assert "never-shown" not in err and "Traceback" not in err and "OperationalError" not in err


def test_two_runs_at_once_send_one_copy_the_second_saying_it_waited_and_one_version_is_kept(
    tmp_path, state_dir, sendgrid, capsys, caplog, monkeypatch
):
    monkeypatch.setenv("COACHING_SENDGRID_TIMEOUT_SECONDS", str(scaled(150)))

    def answer_once_the_other_run_waits() -> None:
        # SendGrid has the first run's email; it answers only when the second run waits for it.
        sendgrid.after_accepting = None
        deadline = time.monotonic() + scaled(120)
        while "Waiting for another run" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.2)

    sendgrid.after_accepting = answer_once_the_other_run_waits
    args = ["--quarter", "2026-Q3", "--output-dir", str(tmp_path / "q3")]
    codes: list[int] = []
    runs = [threading.Thread(target=lambda: codes.append(report_main(args))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(scaled(120))

    assert codes == [0, 0]
    out = capsys.readouterr()
    assert "Waiting for another run that is sending the quarterly report for 2026-Q3 (sendgrid)" in caplog.text
    assert "Not sent again: the quarterly report for 2026-Q3 to leadership@brightpath.example.org" in out.out
    assert "mark-sent" not in out.out + out.err
    assert len(sendgrid.messages) == 1
    assert [v.version for v in ReportHistory(open_store(state_dir)).versions("2026-Q3")] == [1]
