"""The quarterly report end to end on the sample workbook: files, email, ledger, command line."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from prefect.client.orchestration import get_client

from coaching.recipients import RecipientError
from config.settings import PROJECT_ROOT
from flows.quarterly_report import main, quarterly_report
from tests.deadlines import scaled
from tests.flows.mail import outbox
from tests.flows.shared_runs import settings_of_a_test

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"


def test_the_command_line_writes_the_contract_files_and_one_email_in_the_quarters_folder_of_reports_dir(
    tmp_path, state_dir, capsys, monkeypatch
):
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "shared"))  # no --output-dir: the default
    monkeypatch.chdir(tmp_path)  # a run that ignored it would write in the test's reports/, not the checkout's
    out = tmp_path / "shared" / "2026-Q3"
    assert main(["--quarter", "2026-Q3"]) == 0
    for name in ("scorecard.csv", "data_quality.csv", "recommendations.csv", "report.html"):
        assert (out / name).stat().st_size > 0, name
    card = pd.read_csv(out / "scorecard.csv")
    assert card.columns[:3].tolist() == ["quarter", "program_id", "bp1_accountability"]
    assert set(card["quarter"]) == {"2026-Q3"} and len(card) == 4
    (message,) = outbox(out)
    assert message["To"] == "leadership@brightpath.example.org"
    assert {part.get_filename() for part in message.iter_attachments()} >= {"scorecard.csv", "recommendations.csv"}
    assert "Sent the quarterly report for 2026-Q3" in capsys.readouterr().out
    assert "- Coaching Log: 449 rows read, 4 left out" in message.get_body(("plain",)).get_content()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user types it; the arguments are refused before any Prefect server starts."""
    return subprocess.run(
        [sys.executable, "-m", "flows.quarterly_report", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(30),
        env={**os.environ, "COACHING_STATE_DIR": str(cwd / "state")},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quarter", "2026-Q5"], "error: '2026-Q5' is not a quarter: write it as YYYY-Qn"),
        (["--source", "no/such/file.xlsx", "--quarter", "2026-Q3"], "error: workbook not found: no/such/file.xlsx"),
        (["--source", "README.md", "--quarter", "2026-Q3"], "error: README.md is not an .xlsx workbook"),
    ],
)
def test_a_bad_argument_ends_with_one_clear_line_and_no_traceback(tmp_path, args, message):
    done = run_cli(*args, "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "temporary server" not in done.stderr  # refused before any Prefect server starts


def broken_workbook(folder: Path, which: str) -> Path:
    """A workbook a user might hand over by mistake: not a workbook, one without a tab, one without a column."""
    if which == "not_xlsx":
        not_xlsx = folder / "notes.xlsx"
        not_xlsx.write_text("this is a text file renamed to .xlsx")
        return not_xlsx
    book = openpyxl.load_workbook(SAMPLE)
    if which == "no_tab":
        del book["Coaching Log"]
    else:
        book["Staff"].delete_cols(1)  # the Staff ID column
    path = folder / f"{which.replace('_', '-')}.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("not_xlsx", "error: cannot read notes.xlsx as an .xlsx workbook"),
        ("no_tab", "error: The workbook no-tab.xlsx has no tab 'Coaching Log' (tabs found: 'Instructions', "),
        ("no_column", "error: Tab 'Staff' has no column 'Staff ID' (headers found: "),
    ],
)
def test_a_workbook_that_cannot_be_used_ends_with_one_line_naming_the_problem(
    tmp_path, state_dir, which, message, capsys, caplog
):
    source = broken_workbook(tmp_path, which)
    assert main(["--source", str(source), "--quarter", "2026-Q3", "--output-dir", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not [record.getMessage() for record in caplog.records if record.exc_info]  # logged without a traceback


@dataclass(frozen=True)
class CommandRun:
    folder: Path
    done: subprocess.CompletedProcess[str]
    flow_runs: list[tuple[str, str | None]]  # (name, state) of the runs the server has of it


@pytest.fixture(scope="module")
def command_without_sending(tmp_path_factory: pytest.TempPathFactory) -> CommandRun:
    """`python -m flows.quarterly_report --quarter 2026-Q3 --no-send` on the sample, from a fresh state
    folder, as a process that records its run in the session's Prefect server. The two tests below
    look at it; made once."""
    from prefect.settings import PREFECT_API_URL

    folder = tmp_path_factory.mktemp("command-without-sending")
    out = folder / "q3"
    with settings_of_a_test(folder / "state"):
        done = subprocess.run(
            [sys.executable, "-m", "flows.quarterly_report", "--quarter", "2026-Q3", "--no-send"]
            + ["--output-dir", str(out)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=scaled(60),
            env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()},
        )
    with get_client(sync_client=True) as client:
        ours = [run for run in client.read_flow_runs() if run.parameters.get("output_dir") == str(out)]
    return CommandRun(out, done, [(run.name, run.state_name) for run in ours])


def test_no_send_writes_the_files_listing_the_sample_workbooks_bad_rows_with_their_rows_but_no_email(
    command_without_sending,
):
    out = command_without_sending.folder
    assert (out / "report.html").exists() and outbox(out) == []
    assert "Not sent: sending was turned off" in command_without_sending.done.stdout
    quality = pd.read_csv(out / "data_quality.csv")
    errors = quality[quality["severity"] == "error"]
    assert len(errors) >= 5 and errors["row"].notna().all()
    summary = (out / "report.html").read_text()
    # The report's data-quality summary names tabs as ops staff know them, not by internal keys.
    assert '">Coaching Log</td>' in summary
    assert "coaching_log" not in summary and "improvement_actions" not in summary


def test_the_command_records_its_run_in_the_prefect_server_already_running_and_starts_none(command_without_sending):
    done = command_without_sending.done
    assert done.returncode == 0, done.stderr
    assert "temporary server" not in done.stderr
    assert command_without_sending.flow_runs == [("quarterly-2026-Q3-not-sent", "Completed")]


def test_a_prefect_server_that_does_not_start_in_time_ends_with_one_line_saying_what_to_try(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run(
        [sys.executable, "-m", "flows.quarterly_report", "--quarter", "2026-Q3", "--output-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        env={**env, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1", "PREFECT_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 2
    assert "error: the temporary Prefect server did not start within 1 s" in done.stderr
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in done.stderr and "make stack" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "report.html").exists()


def test_too_many_error_rows_hold_the_report_back_and_send_the_data_stewards_the_notice_instead(
    tmp_path, state_dir, monkeypatch
):
    monkeypatch.setenv("COACHING_QUALITY__MAX_ERROR_SHARE", "0.01")  # the sample's Staff tab has 1 bad row in 60
    out = tmp_path / "q3"
    state = quarterly_report(quarter="2026-Q3", output_dir=str(out), return_state=True)
    result = state.result()
    assert result.blocked and state.message == result.delivery
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(state.state_details.flow_run_id).name == "quarterly-2026-Q3-held-back"
    assert result.delivery.startswith("Not sent to leadership") and "Staff: 1 of" in result.delivery
    (notice,) = outbox(out)
    assert notice["To"] == "data-stewards@brightpath.example.org"
    body = notice.get_body(("plain",)).get_content()
    assert "2026-q3 was not sent to leadership" in body.lower()
    assert (out / "report.html").exists()  # still written, for the admins to look at


def test_an_admin_can_send_one_report_to_other_recipients_within_the_allowed_domains(tmp_path, state_dir):
    out = tmp_path / "q3"
    quarterly_report(quarter="2026-Q3", output_dir=str(out), recipients=["director@brightpath.example.org"])
    (message,) = outbox(out)
    assert message["To"] == "director@brightpath.example.org"


def test_a_recipient_outside_the_allowed_domains_stops_the_send_naming_the_address(tmp_path, state_dir):
    out = tmp_path / "q3"
    with pytest.raises(RecipientError, match=r"someone@gmail\.com"):
        quarterly_report(quarter="2026-Q3", output_dir=str(out), recipients=["someone@gmail.com"])
    assert outbox(out) == []


def test_a_flow_runs_the_report_with_the_adapters_a_test_hands_it_and_builds_none(tmp_path):
    from prefect import flow

    from adapters.ledger import DeliveryLedger
    from adapters.mailers import OutboxMailer
    from adapters.report_history import ReportHistory
    from adapters.sources import XlsxSource
    from adapters.store import sqlite_engine
    from config.settings import load_settings
    from config.wiring import RunAdapters
    from flows.quarterly_report import ReportRequest, report_quarter

    engine = sqlite_engine(tmp_path / "ledger.sqlite3")
    bundle = RunAdapters(
        mailer=OutboxMailer(tmp_path / "mail" / "outbox"),
        ledger=DeliveryLedger(engine),
        store_engine=engine,
        source=XlsxSource(SAMPLE),
        report_history=ReportHistory(engine),
    )

    @flow
    def report_with_the_bundle() -> object:
        request = ReportRequest(quarter="2026-Q3", output_dir=str(tmp_path / "q3"))
        return report_quarter(load_settings(state_dir=tmp_path / "unused"), request, adapters=bundle)

    result = report_with_the_bundle()
    engine.dispose()
    assert result.outcome == "sent" and (tmp_path / "q3" / "report.html").exists()
    (message,) = outbox(tmp_path / "mail")
    assert message["To"] == "leadership@brightpath.example.org"
    assert not (tmp_path / "unused").exists()  # the settings' own ledger was never opened


def test_a_held_back_report_that_sends_nothing_writes_the_stewards_notice_as_a_preview(
    tmp_path, state_dir, monkeypatch
):
    monkeypatch.setenv("COACHING_QUALITY__MAX_ERROR_SHARE", "0.01")  # the sample's Staff tab has 1 bad row in 60
    out = tmp_path / "q3"
    result = quarterly_report(quarter="2026-Q3", output_dir=str(out), send=False)
    assert result.blocked
    assert "notice was not sent either: sending was turned off" in result.delivery
    (preview,) = out.glob("preview-data_quality-*.eml")
    assert str(preview) in result.delivery
    notice = email.message_from_bytes(preview.read_bytes(), policy=email.policy.default)
    assert notice["To"] == "data-stewards@brightpath.example.org"
    assert "2026-q3 was not sent to leadership" in notice.get_body(("plain",)).get_content().lower()
    assert outbox(out) == []  # nothing sent, nothing recorded
