"""The data-quality notice end to end on the sample workbook (6 errors, 2 warnings): once, not again
while nothing changes, again when an issue changes; through SendGrid; instead of the report."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import io
import json
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from adapters.ledger import DeliveryLedger
from adapters.mailers import OutboxMailer
from adapters.sources import XlsxSource
from adapters.store import open_store
from coaching.quarterly import check_records
from coaching.quarters import Quarter
from coaching.recipients import RecipientError
from coaching.records import CheckedRecords
from config.settings import PROJECT_ROOT, load_settings
from flows.data_quality import DataQualityRunResult, data_quality, main
from tasks.notify import send_data_quality_notice
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid
from tests.flows.mail import outbox
from tests.flows.shared_runs import settings_of_a_test

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"
STEWARDS = "data-stewards@brightpath.example.org"


def plain_text(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_the_stewards_get_the_notice_once_in_the_days_folder_of_reports_dir_and_again_only_when_an_issue_changes(
    tmp_path, state_dir, capsys, monkeypatch
):
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "shared"))  # no --output-dir: the default
    monkeypatch.chdir(tmp_path)  # a run that ignored it would write in the test's reports/, not the checkout's
    today = load_settings().today()
    out = tmp_path / "shared" / "data-quality" / today.isoformat()
    assert main([]) == 0
    assert "6 errors and 2 warnings" in capsys.readouterr().out
    quality = pd.read_csv(out / "data_quality.csv")
    assert len(quality) == 8 and set(quality["tab"]) == {"Staff", "Coaching Log", "Fidelity"}
    (notice,) = outbox(out)
    assert notice["To"] == STEWARDS
    assert notice["Subject"] == "Data quality: 6 errors and 2 warnings to fix in sample_workbook.xlsx"
    text = plain_text(notice)
    assert text.index("STAFF: 1 error, 1 warning") < text.index("COACHING LOG: 4 errors, 1 warning")
    assert "- Error, row 31 (E31), Score: '34'\n  Problem: The score 34 is higher than the maximum score 30\n" in text
    assert [part.get_filename() for part in notice.iter_attachments()] == ["data_quality.csv"]

    again = data_quality()
    assert again.delivery.startswith(f"Data-quality notice not sent: unchanged since the notice of {today}")
    assert len(outbox(out)) == 1

    corrected = tmp_path / "corrected.xlsx"
    book = openpyxl.load_workbook(SAMPLE)
    book["Fidelity"]["E31"] = 30  # the score above its maximum, corrected
    book.save(corrected)
    fixed = data_quality(source=str(corrected), output_dir=str(out))
    assert fixed.errors == 5 and fixed.delivery.startswith("Sent the data-quality notice")
    assert len(outbox(out)) == 2


def test_through_sendgrid_the_notice_is_one_call_with_the_csv_attached(tmp_path, state_dir, monkeypatch):
    with FakeSendGrid() as fake:
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", fake.url)
        result = data_quality(output_dir=str(tmp_path / "dq"))
    assert result.delivery.startswith("Sent the data-quality notice") and "sendgrid:" in result.delivery
    (message,) = fake.messages
    assert message["personalizations"][0]["to"] == [{"email": STEWARDS}]
    assert message["categories"] == ["data_quality", result.run_date]
    assert [a["filename"] for a in message["attachments"]] == ["data_quality.csv"]


def sample_checked() -> CheckedRecords:
    settings = load_settings()
    return check_records(
        XlsxSource(SAMPLE).read(),
        settings.tabs.model_dump(),
        date_format=settings.date_format,
        run_date=dt.date(2026, 11, 25),
        quarter=Quarter(2026, 3),
        max_error_share=0.10,
        min_log_volume_ratio=0.5,
    )


# Called outside a flow run here (the quarterly flow calls it inside one), so Prefect notes that
# the task logs have no flow run to go to.
@pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted to send logs")
def test_when_the_threshold_holds_the_report_back_the_notice_goes_instead_with_the_reasons(tmp_path, state_dir):
    checked = sample_checked()
    checked.blocking = ["Staff: 7 of 60 rows (11.7 %) have errors, above the 10 % limit"]
    said, report = send_data_quality_notice(
        load_settings(),
        checked,
        source_label="sample_workbook.xlsx",
        run_date=dt.date(2026, 11, 25),
        mailer=OutboxMailer(tmp_path / "2026-Q3" / "outbox"),
        ledger=DeliveryLedger(open_store(state_dir)),
        held_back="2026-Q3",
    )
    assert report is not None and not report.needs_a_person
    assert said.startswith(f"Sent the data-quality notice for 2026-11-25 to {STEWARDS}")
    (notice,) = outbox(tmp_path / "2026-Q3")
    assert notice["Subject"] == "Action needed: data errors held back the 2026-Q3 coaching report"
    text = plain_text(notice)
    assert text.index("- Staff: 7 of 60 rows (11.7 %) have errors") < text.index("SUMMARY BY TAB")


def test_records_without_issues_send_no_notice(tmp_path, state_dir):
    clean = CheckedRecords(valid={}, issues=[], rows_read={"staff": 60}, rows_quarantined={})
    said, report = send_data_quality_notice(
        load_settings(),
        clean,
        source_label="clean.xlsx",
        run_date=dt.date(2026, 11, 25),
        mailer=OutboxMailer(tmp_path / "outbox"),
        ledger=DeliveryLedger(open_store(state_dir)),
    )
    assert report is None
    assert said == "No data-quality notice: the records have no errors or warnings."
    assert not (tmp_path / "outbox").exists()


def test_no_data_stewards_configured_says_where_to_configure_them(tmp_path, state_dir, monkeypatch):
    monkeypatch.setenv("COACHING_DATA_STEWARDS", "")
    with pytest.raises(RecipientError, match=r"No recipients: .* data_stewards .*COACHING_DATA_STEWARDS"):
        data_quality(output_dir=str(tmp_path))


@dataclass(frozen=True)
class PreviewThenSend:
    """The command without sending (--no-send) on a fresh state, then a run with sending on."""

    printed: str  # by the command
    previews: list[Path]
    issues_table: list[dict[str, object]]  # the Prefect UI's table, as the run without sending left it
    issues_csv: str  # data_quality.csv, as the run without sending wrote it
    emails_after_preview: int  # in the outbox
    sent: DataQualityRunResult
    emails_after_sending: int


@pytest.fixture(scope="module")
def preview_then_send(tmp_path_factory: pytest.TempPathFactory) -> PreviewThenSend:
    """The two tests below look at the run without sending; made once, in a state folder of its own."""
    from prefect.artifacts import Artifact

    folder = tmp_path_factory.mktemp("preview-then-send")
    out = folder / "dq"
    with settings_of_a_test(folder / "state"):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            assert main(["--output-dir", str(out), "--no-send"]) == 0
        issues_table = json.loads(Artifact.get("data-quality-issues").data)
        issues_csv = (out / "data_quality.csv").read_text()
        previews, emails_after_preview = list(out.glob("preview-data_quality-*.eml")), len(outbox(out))
        sent = data_quality(output_dir=str(out))
    return PreviewThenSend(
        printed.getvalue(), previews, issues_table, issues_csv, emails_after_preview, sent, len(outbox(out))
    )


def test_every_run_leaves_the_open_issues_as_a_table_in_the_prefect_ui_without_the_cells_values(preview_then_send):
    table = preview_then_send.issues_table
    bad_date = next(row for row in table if row["tab"] == "Coaching Log" and row["row"] == 402)
    assert bad_date["severity"] == "error" and bad_date["problem"].startswith("“…” is not a date")
    shown = json.dumps(table, ensure_ascii=False)
    for value in ("8/32/2026", "andre.whitfield", "2026-08-03", "1323"):  # a date, an email, another cell
        assert value not in shown, value
    assert "8/32/2026" in preview_then_send.issues_csv  # the stewards' file keeps them


def test_without_sending_the_notice_is_written_as_a_preview_and_the_real_notice_still_goes_afterwards(
    preview_then_send,
):
    (preview_path,) = preview_then_send.previews
    assert f"The email that would go is in {preview_path}." in preview_then_send.printed
    preview = email.message_from_bytes(preview_path.read_bytes(), policy=email.policy.default)
    assert preview["To"] == STEWARDS
    assert preview["Subject"] == "Data quality: 6 errors and 2 warnings to fix in sample_workbook.xlsx"
    assert preview_then_send.emails_after_preview == 0
    # Nothing was recorded: the next run with sending on sends the notice.
    assert preview_then_send.sent.delivery.startswith("Sent the data-quality notice")
    assert preview_then_send.emails_after_sending == 1
