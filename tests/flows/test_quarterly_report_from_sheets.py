"""The quarterly report from Google Sheets (a loopback Google) gives the scorecard of the .xlsx export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import TaskRun

from config.settings import PROJECT_ROOT
from flows.quarterly_report import quarterly_report
from tests.deadlines import scaled
from tests.fakes.google_api import FakeGoogle, Spreadsheet, tabs_from_xlsx
from tests.flows.shared_runs import settings_of_a_test

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"
KEY = "1SampleWorkbookKey0123456789abcdefghijklmnop"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"
ACCOUNT = "coaching-pipeline@agency.iam.gserviceaccount.com"


def sign_in_as_the_account(google: FakeGoogle, folder: Path, environment: pytest.MonkeyPatch) -> None:
    """The pipeline reaches the loopback Google as ACCOUNT, with a service-account key in `folder`."""
    key_file = folder / "service-account.json"
    key_file.write_text(json.dumps(google.new_service_account(ACCOUNT)))
    environment.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    environment.setenv("COACHING_SHEETS_API_URL", google.url)


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        sign_in_as_the_account(fake, tmp_path, monkeypatch)
        monkeypatch.setenv("COACHING_STATE_DIR", str(tmp_path / "state"))
        yield fake


def share_sample(google: FakeGoogle, role: str = "reader") -> Spreadsheet:
    return google.add_spreadsheet(KEY, "Coaching records", tabs_from_xlsx(SAMPLE), {ACCOUNT: role})


@dataclass(frozen=True)
class SheetRun:
    """What one run without sending, on the sample shared (read-only) as a sheet, left."""

    folder: Path
    sheet: Spreadsheet
    sheets_calls: int  # the requests the loopback Sheets API had
    reads: int
    task_runs: list[TaskRun]


@pytest.fixture(scope="module")
def sheet_run(tmp_path_factory: pytest.TempPathFactory) -> SheetRun:
    """The tests below only look at this run: made once, with a loopback Google and a state of its own."""
    folder = tmp_path_factory.mktemp("sheet-run")
    with FakeGoogle() as google, settings_of_a_test(folder / "state") as environment:
        sign_in_as_the_account(google, folder, environment)
        sheet = share_sample(google)
        state = quarterly_report(
            quarter="2026-Q3", source=URL, output_dir=str(folder / "out"), send=False, return_state=True
        )
        sheets_calls, reads = len(google.sheets_calls), google.reads
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    return SheetRun(folder / "out", sheet, sheets_calls, reads, task_runs)


@pytest.fixture(scope="module")
def xlsx_scorecard(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The scorecard of the same run without sending on the sample's .xlsx export."""
    folder = tmp_path_factory.mktemp("xlsx-run")
    with settings_of_a_test(folder / "state"):
        quarterly_report(quarter="2026-Q3", source=str(SAMPLE), output_dir=str(folder / "out"), send=False)
    return pd.read_csv(folder / "out" / "scorecard.csv")


def test_the_sheet_and_its_xlsx_export_give_the_same_scorecard_with_one_sheets_read(sheet_run, xlsx_scorecard):
    assert sheet_run.sheets_calls == sheet_run.reads == 1
    pd.testing.assert_frame_equal(pd.read_csv(sheet_run.folder / "scorecard.csv"), xlsx_scorecard)


def test_every_data_quality_line_from_the_sheet_links_to_its_cell(sheet_run):
    quality = pd.read_csv(sheet_run.folder / "data_quality.csv").set_index(["tab", "row"])
    bad_date = quality.loc[("Coaching Log", 402)]
    gid = sheet_run.sheet.sheet_ids["Coaching Log"]
    assert bad_date["link"] == f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid={gid}&range=B402"
    assert quality["link"].str.startswith(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=").all()


def test_write_back_appends_the_proposals_once(google, tmp_path, monkeypatch):
    sheet = share_sample(google, role="writer")
    monkeypatch.setenv("COACHING_SHEETS_WRITE_BACK", "true")
    before = len(sheet.tabs["Improvement Actions"])
    quarterly_report(quarter="2026-Q3", source=URL, output_dir=str(tmp_path), send=False)
    added = sheet.tabs["Improvement Actions"][before:]
    recommendations = pd.read_csv(tmp_path / "recommendations.csv")
    assert len(added) == len(recommendations) > 0
    header = [str(h).strip().lower() for h in sheet.tabs["Improvement Actions"][0]]
    status = header.index("status")
    assert {row[status] for row in added} == {"proposed"}
    quarterly_report(quarter="2026-Q3", source=URL, output_dir=str(tmp_path), send=False)
    assert len(sheet.tabs["Improvement Actions"]) == before + len(added)


def test_the_run_graph_still_links_the_validate_step_to_the_read_that_gave_it_the_workbook(sheet_run):
    (extract,) = [run for run in sheet_run.task_runs if run.name.startswith("extract")]
    (validate,) = [run for run in sheet_run.task_runs if run.name.startswith("validate")]
    # The workbook reaches the validate task unwalked (opaque), and the UI still draws the edge.
    assert [item.id for item in validate.task_inputs["raw"]] == [extract.id]


def run_the_command(out: Path) -> subprocess.CompletedProcess[str]:
    """`python -m flows.quarterly_report` on the sheet, as a process: it reads the sheet in a child
    while its flow imports (adapters/read_ahead.py). Against the session's Prefect test server."""
    from prefect.settings import PREFECT_API_URL

    return subprocess.run(
        [sys.executable, "-m", "flows.quarterly_report", "--quarter", "2026-Q3", "--no-send"]
        + ["--source", URL, "--output-dir", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()},
    )


def sheet_reads(google: FakeGoogle) -> list[list[str]]:
    """Each GET of the spreadsheet: [] for the sheet itself, ["values"] for a look at one tab."""
    return [call.path.split(KEY)[1].split("/")[1:2] for call in google.sheets_calls if call.method == "GET"]


def test_the_command_reads_the_sheet_once_ahead_of_its_run_and_still_writes_the_proposals_back(
    google, tmp_path, monkeypatch, xlsx_scorecard
):
    sheet = share_sample(google, role="writer")
    before = len(sheet.tabs["Improvement Actions"])
    monkeypatch.setenv("COACHING_SHEETS_WRITE_BACK", "true")
    out = tmp_path / "sheets"
    done = run_the_command(out)
    assert done.returncode == 0, done.stderr
    assert sheet_reads(google) == [[], ["values"]]  # the sheet once (in the child), then the write-back's look
    pd.testing.assert_frame_equal(pd.read_csv(out / "scorecard.csv"), xlsx_scorecard)
    added = sheet.tabs["Improvement Actions"][before:]
    assert len(added) == len(pd.read_csv(out / "recommendations.csv")) > 0


def test_a_sheet_not_shared_with_the_account_read_ahead_ends_the_command_with_its_one_line_after_one_request(
    google, tmp_path
):
    google.add_spreadsheet(KEY, "Coaching records", tabs_from_xlsx(SAMPLE), {"someone@agency.example.org": "reader"})
    done = run_the_command(tmp_path / "out")
    assert done.returncode == 2
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and f"not shared with {ACCOUNT}; share it as Viewer" in error_lines[0]
    assert "Traceback" not in done.stderr
    assert sheet_reads(google) == [[]]  # the child's error is the run's: the sheet is not asked again
