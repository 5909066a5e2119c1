"""A network of agencies end to end: every agency's own report, one roll-up for the centre, failures
kept to their agency, re-runs that send nothing."""

from __future__ import annotations

import base64
from pathlib import Path

import openpyxl
import pandas as pd
import yaml

from config.settings import PROJECT_ROOT
from flows.cli import network_report_command
from flows.network_report import network_report  # noqa: F401  (Prefect's logging set up before capsys)
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid
from tests.flows.mail import outbox

NETWORK = PROJECT_ROOT / "data" / "network"
SAMPLE_AGENCIES = {
    "northfield": "director@northfield.example.org",
    "riverside": "leadership@riverside.example.org",
    "lakeshore": "director@lakeshore.example.org",
}
AGENCY_FILES = ("scorecard.csv", "data_quality.csv", "recommendations.csv", "report.html", "history.csv")


def run(*args: str) -> int:
    return network_report_command(["--quarter", "2026-Q3", *args])


def staff_names(workbook: Path) -> list[str]:
    sheet = openpyxl.load_workbook(workbook, read_only=True)["Staff"]
    return [str(row[1]) for row in sheet.iter_rows(min_row=2, values_only=True) if row[1]]


def outcomes(folder: Path) -> dict[str, str]:
    frame = pd.read_csv(folder / "agency_outcomes.csv")
    return dict(zip(frame["agency_id"], frame["outcome"]))


def test_the_sample_network_gives_each_agency_its_report_and_the_centre_one_roll_up_without_staff_names(
    tmp_path, state_dir, capsys, monkeypatch
):
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "shared"))  # no --output-dir: the default
    monkeypatch.chdir(tmp_path)  # a run that ignored it would write in the test's reports/, not the checkout's
    out = tmp_path / "shared" / "network" / "2026-Q3"
    assert run() == 0
    for agency, recipient in SAMPLE_AGENCIES.items():
        for name in AGENCY_FILES:
            assert (out / agency / name).stat().st_size > 0, (agency, name)
        (report,) = outbox(out / agency)
        assert report["To"] == recipient
    assert outcomes(out) == dict.fromkeys(SAMPLE_AGENCIES, "sent")

    network = pd.read_csv(out / "network_scorecard.csv", dtype=str, keep_default_na=False)
    northfield = pd.read_csv(out / "northfield" / "scorecard.csv", dtype=str, keep_default_na=False)
    assert network.columns.tolist() == ["agency_id", *northfield.columns]
    ours = network[network["agency_id"] == "northfield"].drop(columns="agency_id").reset_index(drop=True)
    assert ours.drop(columns="coaching_lead_name").equals(northfield.drop(columns="coaching_lead_name"))
    assert set(network["coaching_lead_name"]) == {""}

    (roll_up,) = outbox(out)
    assert roll_up["To"] == "ta-centre@network.example.org"
    text = roll_up.get_body(("plain",)).get_content()
    html = roll_up.get_body(("html",)).get_content()
    assert "3 of 3 agencies reported; 12 programs scored" in text
    assert "Every agency reported." in text
    assert "Riverside Children's Alliance (riverside), Riverside Youth Mentoring (YM): 3 of 8." in text
    for name in staff_names(NETWORK / "northfield.xlsx"):
        assert name not in text and name not in html
    attached = {part.get_filename(): part.get_content() for part in roll_up.iter_attachments()}
    assert set(attached) == {"network_scorecard.csv", "agency_outcomes.csv"}
    assert "northfield: sent" in capsys.readouterr().out

    # Run again: nothing is sent, to the agencies or the centre.
    assert run("--output-dir", str(out)) == 0
    assert outcomes(out) == dict.fromkeys(SAMPLE_AGENCIES, "already sent")
    assert [len(outbox(out / agency)) for agency in SAMPLE_AGENCIES] == [1, 1, 1]
    assert len(outbox(out)) == 1

    # An admin re-sends one agency's report: that agency alone gets it again.
    assert run("--output-dir", str(out), "--agencies", "riverside", "--force-resend") == 0
    assert [len(outbox(out / agency)) for agency in SAMPLE_AGENCIES] == [1, 2, 1]
    assert outcomes(out) == {"northfield": "already sent", "riverside": "sent", "lakeshore": "already sent"}
    assert len(outbox(out)) == 1  # the network's figures did not change


def write_registry(folder: Path, agencies: list[dict[str, object]]) -> Path:
    path = folder / "agencies.yaml"
    network = {
        "name": "Test Network",
        "report_recipients": ["centre@network.example.org"],
        "allowed_recipient_domains": ["network.example.org"],
    }
    path.write_text(yaml.safe_dump({"network": network, "agencies": agencies}))
    return path


def agency(agency_id: str, source: Path, recipient: str | None = None) -> dict[str, object]:
    domain = f"{agency_id}.example.org"
    return {
        "id": agency_id,
        "name": f"{agency_id.title()} Services",
        "source": str(source),
        "report_recipients": [recipient or f"director@{domain}"],
        "allowed_recipient_domains": [domain],
    }


def without_tab(folder: Path, tab: str) -> Path:
    book = openpyxl.load_workbook(NETWORK / "riverside.xlsx")
    del book[tab]
    path = folder / "no-log.xlsx"
    book.save(path)
    return path


def test_agencies_that_fail_are_named_in_the_roll_up_and_every_other_agency_is_reported_exactly(
    tmp_path, state_dir, monkeypatch, capsys
):
    registry = write_registry(
        tmp_path,
        [
            agency("northfield", NETWORK / "northfield.xlsx"),
            agency("gone", tmp_path / "shared-drive" / "gone.xlsx"),
            agency("no-log", without_tab(tmp_path, "Coaching Log")),
            agency("refused", NETWORK / "riverside.xlsx", "nobody@refused.example.org"),
            agency("lakeshore", NETWORK / "lakeshore.xlsx"),
        ],
    )
    out = tmp_path / "network"
    with FakeSendGrid() as sendgrid:
        sendgrid.rejected_addresses.add("nobody@refused.example.org")
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", sendgrid.url)
        code = run("--registry", str(registry), "--output-dir", str(out))
        delivered = sendgrid.recipients()
        messages = list(sendgrid.messages)

    assert code == 1
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in errors if line.startswith("needs a person")] == [
        "Gone Services (gone)",
        "No-Log Services (no-log)",
        "Refused Services (refused)",
    ]
    assert "workbook not found" in next(line for line in errors if "(gone)" in line)
    assert "has no tab 'Coaching Log'" in next(line for line in errors if "(no-log)" in line)
    assert "nobody@refused.example.org" in next(line for line in errors if "(refused)" in line)
    assert outcomes(out) == {
        "northfield": "sent",
        "gone": "failed",
        "no-log": "failed",
        "refused": "failed",
        "lakeshore": "sent",
    }
    assert delivered == [
        "director@northfield.example.org",
        "director@lakeshore.example.org",
        "centre@network.example.org",
    ]

    # The agencies that worked are reported exactly as a network of themselves alone would be.
    network = pd.read_csv(out / "network_scorecard.csv", dtype=str, keep_default_na=False)
    assert network["agency_id"].drop_duplicates().tolist() == ["northfield", "lakeshore"]
    for agency_id in ("northfield", "lakeshore"):
        own = pd.read_csv(out / agency_id / "scorecard.csv", dtype=str, keep_default_na=False)
        rows = network[network["agency_id"] == agency_id].drop(columns="agency_id").reset_index(drop=True)
        assert rows.drop(columns="coaching_lead_name").equals(own.drop(columns="coaching_lead_name"))

    text = base64.b64decode(
        next(part["content"] for part in messages[-1]["attachments"] if part["filename"] == "agency_outcomes.csv")
    ).decode()
    assert text.count(",failed,") == 3
    body = next(part["value"] for part in messages[-1]["content"] if part["type"] == "text/plain")
    assert "3 of 5 agencies are not in this quarter's figures".upper() in body
    for name in (
        "Gone Services (gone): failed.",
        "No-Log Services (no-log): failed.",
        "Refused Services (refused): failed.",
    ):
        assert name in body


def test_a_registry_with_mistakes_is_refused_with_one_line_per_problem_before_anything_runs(tmp_path, capsys):
    registry = write_registry(
        tmp_path,
        [
            agency("northfield", NETWORK / "northfield.xlsx"),
            agency("northfield", NETWORK / "riverside.xlsx"),
            agency("Bad_ID", NETWORK / "riverside.xlsx"),
            agency("outside", NETWORK / "lakeshore.xlsx", "director@gmail.com"),
            agency("notes", tmp_path / "notes.docx"),
        ],
    )
    assert run("--registry", str(registry), "--output-dir", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "cannot be used (4 problem(s))" in err
    assert "agency 'northfield': the id is used twice" in err
    assert "agencies[2].id: 'Bad_ID' is not an id" in err
    assert "agency 'outside'.report_recipients" in err and "director@gmail.com" in err
    assert "agency 'notes'.source:" in err and "neither a Google Sheets URL or key nor an .xlsx path" in err
    assert not (tmp_path / "out").exists()


def test_the_sheets_read_limit_counts_ten_slots_a_read_scales_one_made_in_reads_and_keeps_an_admins():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    from flows.network_report import SHEETS_READ_LIMIT, ensure_read_limit

    def pacing() -> tuple[int, float]:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(SHEETS_READ_LIMIT)
        return limit.limit, limit.slot_decay_per_second

    def set_pacing(limit: int, decay: float) -> None:
        with get_client(sync_client=True) as client:
            update = GlobalConcurrencyLimitUpdate(limit=limit, slot_decay_per_second=decay)
            client.update_global_concurrency_limit(SHEETS_READ_LIMIT, update)

    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name(SHEETS_READ_LIMIT)
        except ObjectNotFound:
            pass
    ensure_read_limit()
    assert pacing() == (60, 9.0)  # 6 reads at once, 0.9 reads a second: at most 60 in any minute
    set_pacing(6, 0.9)  # as an earlier version made it, a slot a read
    ensure_read_limit()
    assert pacing() == (60, 9.0)
    set_pacing(3, 0.5)  # an admin's, in reads: half the burst and 0.5 reads a second
    ensure_read_limit()
    assert pacing() == (30, 5.0)
    ensure_read_limit()  # already in slots: an admin's own, kept
    assert pacing() == (30, 5.0)
    set_pacing(60, 9.0)  # as the other tests of this process expect it


def test_a_network_run_form_naming_another_registry_or_a_folder_outside_reports_is_refused_naming_both(
    tmp_path, state_dir, monkeypatch
):
    from flows.network_report import network_part

    # As a run of a deployment meets it (Prefect's runtime override of its id), for the network's
    # deployment and for its parts', whose Run form anyone who reaches the UI can fill in too.
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "5f0c1ab2-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "reports"))
    configured = PROJECT_ROOT / "config" / "agencies.yaml"
    monkeypatch.setenv("COACHING_REGISTRY", str(configured))
    elsewhere = tmp_path / "not-reports"
    other = tmp_path / "agencies.yaml"
    other.write_text(configured.read_text())

    network = network_report(quarter="2026-Q3", registry=str(other), output_dir=str(elsewhere), return_state=True)
    part = network_part(
        agencies=["northfield"], quarter="2026-Q3", registry=str(other), output_dir=str(elsewhere), return_state=True
    )

    for state in (network, part):
        assert state.is_failed()
        assert f"registry '{other}' is refused: a run from the UI reads only the configured registry" in state.message
        assert f"output_dir '{elsewhere}' is refused: a run from the UI writes only inside" in state.message
    assert not elsewhere.exists()
    # The configured registry and a folder inside reports_dir: accepted (nothing sent: send off).
    allowed = network_report(
        quarter="2026-Q3",
        registry=str(configured),
        output_dir=str(tmp_path / "reports" / "net"),
        send=False,
        return_state=True,
    )
    assert allowed.is_completed(), allowed.message


def test_a_part_started_by_a_network_run_takes_the_folder_and_registry_that_run_chose(tmp_path, state_dir, monkeypatch):
    # A command-line network run with workers hands its parts a shared folder of its user's choosing
    # (docs/network.md): the part, a deployment's run, is not refused what its parent chose.
    from prefect import flow

    from flows.network_report import network_part

    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "5f0c1ab2-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "reports"))
    shared = tmp_path / "shared-drive"
    registry = tmp_path / "agencies.yaml"
    registry.write_text((PROJECT_ROOT / "config" / "agencies.yaml").read_text())

    @flow
    def a_network_run() -> None:
        network_part(
            agencies=["northfield"], quarter="2026-Q3", registry=str(registry), output_dir=str(shared), send=False
        )

    assert a_network_run(return_state=True).is_completed()
    assert (shared / "northfield" / "scorecard.csv").exists()
