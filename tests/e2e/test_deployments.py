"""The deployments as an admin uses them, and as CI runs them: a Prefect server on a free port with
its own PREFECT_HOME, the work pool, `prefect --no-prompt deploy --all`, a worker whose runs keep
their delivery ledger in PostgreSQL (COACHING_LEDGER_URL: the tests' own, tests/conftest.py), the
secrets command, runs started through the API, and a second worker taking parts of the network's
run. A few minutes; every process it starts is stopped however the tests end (ops.stack.running).
One stack for all: each server, deployment and worker costs seconds of a 2-core machine."""

from __future__ import annotations

import json
import os
from email import message_from_bytes, policy
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID, uuid4

import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events.schemas.automations import Automation
from sqlalchemy import create_engine, text

from config.settings import PROJECT_ROOT, load_settings
from coaching.email import EmailKind
from coaching.records import UsageError
from config.wiring import REPORT_RECIPIENTS_VARIABLE
from flows.cli import check_deployed_run_paths
from flows.prefect_api import free_port
from ops.stack import Stack, deployment_spec, drain_runs, running, running_pid, schedule_timezones, stop_group, up
from ops.stack import main as stack_command
from tests.fakes.google_api import new_private_key, service_account_json
from tests.deadlines import scaled
from tests.environment import without_pipeline_settings
from tests.fakes.sendgrid_api import FakeSendGrid

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"
QUARTERLY = "quarterly_report/quarterly-coaching-report"
SCHEDULES = {  # deployment -> cron
    QUARTERLY: "0 7 5 1,4,7,10 *",
    "monthly_nudge/monthly-coaching-nudge": "0 7 2 * *",
    "data_quality/weekly-data-quality": "0 7 * * 1",
}
FAKE_SENDGRID_KEY = "SG.e2e-never-shown.0123456789abcdef"
RECIPIENTS = ["board@brightpath.example.org", "director@brightpath.example.org"]
RUN_DEADLINE = 60  # seconds for a quarterly run that sends, on an idle machine (scaled to the load)
ADMIN = "it-admin@brightpath.example.org"  # admin_emails in config/settings.yaml
ALERT_DEPLOYMENT = "admin_alert/admin-alert"
ALERT_DEADLINE = 60  # seconds from a run's failure to its alert email, idle machine (scaled to the load)
NETWORK_DEADLINE = 90  # seconds for the network's run and its parts, idle machine (scaled to the load)
AUTOMATIONS = {  # name -> the event its alert run is told
    "coaching: run failed": "failed",
    "coaching: run crashed": "crashed",
    "coaching: run cancelled": "cancelled",
    "coaching: run late by more than an hour": "late",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def sendgrid() -> Iterator[FakeSendGrid]:
    """Where the worker's runs send email: the key they use comes from the Secret block that
    `ops.secrets` saves, never from the worker's environment."""
    with FakeSendGrid(api_key=FAKE_SENDGRID_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def ledger(postgres_server: str) -> Iterator[tuple[str, str]]:
    """The runs' delivery ledger: the tests' PostgreSQL and a schema name of this file's own (the
    network's agencies get schemas after it); every schema made under it is dropped afterwards."""
    prefix = f"t{uuid4().hex[:10]}"
    yield postgres_server, prefix
    admin = create_engine(postgres_server)
    with admin.begin() as db:
        schemas = db.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname = :prefix OR nspname LIKE :under"),
            {"prefix": prefix, "under": f"{prefix}\\_%"},
        ).scalars()
        for schema in list(schemas):
            db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def stack(
    root: Path, sendgrid: FakeSendGrid, ledger: tuple[str, str], seed_prefect_home: Callable[[Path], Path]
) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as env:
        # The worker inherits this environment: none of the developer's pipeline settings or keys.
        without_pipeline_settings(env)
        # The API protected as docs/operations.md advises: the stack hands the worker and its commands the
        # credentials; the tests' own client and commands get them from the stack too.
        env.setenv("PREFECT_SERVER_API_AUTH_STRING", f"admin:{uuid4().hex}")
        worker_env = {
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "COACHING_STATE_DIR": str(root / "state"),
            "COACHING_SENDGRID_API_URL": sendgrid.url,
            "COACHING_ALERTS_DIR": str(root / "alerts"),
            "COACHING_REPORTS_DIR": str(root),  # where the Run form's output_dir may point
            "COACHING_LEDGER_URL": ledger[0],  # shared by every worker of the stack
            "COACHING_LEDGER_SCHEMA": ledger[1],
            "COACHING_REGISTRY": str(root / "registry" / "agencies.yaml"),  # the network's (written by its test)
        }
        stack = Stack(home=seed_prefect_home(root / "prefect-home"), port=free_port(), worker_env=worker_env)
        with running(stack, say=lambda _: None):
            yield stack


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[SyncPrefectClient]:
    with stack.client() as api:
        yield api


@dataclass(frozen=True)
class OutboxAlert:
    automations: list[Automation]  # as `make stack` left them
    failed: FlowRun  # a quarterly run that failed: its Run form named paths a run from the UI may not use
    alert_runs: list[FlowRun]  # the admin-alert runs it set off, once they ended
    emails: list[EmailMessage]  # what they wrote in the alerts' outbox


@pytest.fixture(scope="module")
def outbox_alert(client: SyncPrefectClient, root: Path) -> OutboxAlert:
    """The stack as `make stack` leaves it for a newcomer, before any SendGrid key is saved: a
    quarterly run fails, and the Automations start the admin alert, which writes to the outbox.
    The run's form names another file and a folder outside the reports' folder: both refused at the
    one check, before either is used."""
    automations = client.read_automations()
    failed = start_run(
        client,
        {"quarter": "2026-Q3", "source": "/etc/hostname", "output_dir": str(root.parent / "not-reports")},
        until={StateType.COMPLETED, StateType.FAILED, StateType.CRASHED},
    )
    alert_runs = ended_alerts(client, failed.id, "failed")
    # As the UI shows it once renamed: the failed run's on_failure hook renames it (…-failed) after its
    # state is Failed, so possibly after start_run saw it and while the alert was already running.
    name_of(client, failed.id, ending="-failed")
    failed = client.read_flow_run(failed.id)
    emails = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((root / "alerts" / "outbox").glob("*.eml"))
    ]
    return OutboxAlert(automations, failed, alert_runs, emails)


@pytest.fixture(scope="module")
def saved_secrets(stack: Stack, root: Path, outbox_alert: OutboxAlert) -> subprocess.CompletedProcess[str]:
    # After outbox_alert: once the SendGrid key is saved, the Automations email through SendGrid.
    """`python -m ops.secrets` with a SendGrid key, a Google key file and recipients in its environment."""
    key_file = root / "service-account.json"
    account = service_account_json(new_private_key(), "reader@e2e.iam.gserviceaccount.com", "http://127.0.0.1:9/token")
    key_file.write_text(json.dumps(account))
    env = stack.env(
        {
            "SENDGRID_API_KEY": FAKE_SENDGRID_KEY,
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
            "COACHING_REPORT_RECIPIENTS": ", ".join(RECIPIENTS),
            "COACHING_ADMIN_EMAILS": ADMIN,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "ops.secrets"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )


@pytest.fixture(scope="module")
def sent_run(client: SyncPrefectClient, saved_secrets: subprocess.CompletedProcess[str], root: Path) -> FlowRun:
    # saved_secrets first: the run must find the recipients Variable and the SendGrid key's block.
    """A run of the quarterly deployment with parameters, as the UI's Run button starts it, once it ended.
    (A second run's "not sent again" and its force_resend hint: tests/flows/test_run_outcomes.py.)"""
    return start_run(
        client,
        {"quarter": "2026-Q3", "source": str(SAMPLE), "output_dir": str(root / "q3")},
        until={StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED},
    )


def ended_alerts(client: SyncPrefectClient, run_id: UUID, event: str) -> list[FlowRun]:
    """Every admin-alert run so far, once one about `run_id`'s `event` exists and all have ended."""
    alert_deployment = client.read_deployment_by_name(ALERT_DEPLOYMENT)
    of_the_alert = DeploymentFilter(id=DeploymentFilterId(any_=[alert_deployment.id]))
    about = {"flow_run_id": str(run_id), "event": event}
    deadline = time.monotonic() + scaled(ALERT_DEADLINE)
    while True:
        alert_runs = client.read_flow_runs(deployment_filter=of_the_alert)
        ended = all(run.state and run.state.is_final() for run in alert_runs)
        if ended and any(run.parameters == about for run in alert_runs):
            return alert_runs
        assert time.monotonic() < deadline, f"no admin alert about the {event} run {run_id} ended"
        time.sleep(0.5)


def name_of(client: SyncPrefectClient, run_id: UUID, ending: str, timeout: float = 10) -> str:
    """The run's name once it ends with `ending`: a failed run is renamed just after its final state."""
    deadline = time.monotonic() + scaled(timeout)
    while not (name := client.read_flow_run(run_id).name).endswith(ending) and time.monotonic() < deadline:
        time.sleep(0.3)
    return name


def reports_sent(sendgrid: FakeSendGrid) -> list[dict[str, object]]:
    """The quarterly reports SendGrid took (the admin alerts go the same way)."""
    return [sent for sent in sendgrid.messages if "quarter" in sent.get("custom_args", {})]


def logs_of(client: SyncPrefectClient, run_id: UUID, until: str, timeout: float = 10) -> str:
    """The run's log, once it holds `until`: a run's last lines reach the API in a batch shortly
    after its final state does."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        text = "\n".join(log.message for log in logs)
        if until in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def artifacts_of(client: SyncPrefectClient, run_id: UUID) -> dict[str, object]:
    of_the_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
    found = client.read_artifacts(artifact_filter=of_the_run)
    return {artifact.key: artifact.data for artifact in found if artifact.key}


def test_the_three_deployments_are_on_the_pool_with_their_schedules_in_the_configured_timezone(client):
    timezone = load_settings().timezone
    for name, cron in SCHEDULES.items():
        deployment = client.read_deployment_by_name(name)
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (cron, timezone, True)
        assert deployment.work_pool_name == "coaching-pool" and deployment.global_concurrency_limit.limit == 1
        assert "coaching" in deployment.tags
        # As the Deployments list shows it: the description written in prefect.yaml.
        (spec,) = [d for d in deployment_spec()["deployments"] if name.endswith("/" + d["name"])]
        assert deployment.description == spec["description"]
        assert deployment.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}
        ]


def test_the_run_form_shows_every_parameter_typed_and_described(client):
    form = client.read_deployment_by_name(QUARTERLY).parameter_openapi_schema["properties"]
    assert list(form) == ["quarter", "source", "programs", "send", "force_resend", "output_dir", "recipients"]
    assert all(field["description"] for field in form.values())
    assert "YYYY-Qn" in form["quarter"]["description"]
    assert form["send"]["type"] == "boolean" and form["send"]["default"] is True
    assert {"items": {"type": "string"}, "type": "array"} in form["programs"]["anyOf"]


def test_no_parameter_description_loses_words_in_the_run_form(client):
    # The UI renders descriptions as HTML: "reports/<quarter>/" would show as "reports//".
    for name in SCHEDULES:
        form = client.read_deployment_by_name(name).parameter_openapi_schema["properties"]
        assert not [field for field, spec in form.items() if "<" in spec.get("description", "")], name


def test_the_secrets_command_saves_the_blocks_and_the_variable_and_prints_no_secret(client, saved_secrets):
    assert saved_secrets.returncode == 0, saved_secrets.stderr
    printed = saved_secrets.stdout + saved_secrets.stderr
    assert "sendgrid-api-key" in printed and "google-service-account" in printed
    assert FAKE_SENDGRID_KEY not in printed and "PRIVATE KEY" not in printed
    for block in ("sendgrid-api-key", "google-service-account"):
        shown = client.read_block_document_by_name(block, "secret", include_secrets=False)
        assert FAKE_SENDGRID_KEY not in str(shown.data) and "PRIVATE KEY" not in str(shown.data)
    assert client.read_variable_by_name(REPORT_RECIPIENTS_VARIABLE).value == RECIPIENTS


def test_a_quarterly_run_started_through_the_api_completes_and_shows_its_result_in_artifacts(client, sent_run):
    run = sent_run
    assert run.state.type == StateType.COMPLETED and run.name == "quarterly-2026-Q3-sent"
    assert run.state.message.startswith("Sent the quarterly report for 2026-Q3")
    artifacts = artifacts_of(client, run.id)
    summary = artifacts["quarterly-2026-q3-summary"]
    assert "Organisation score" in summary and "## Recommendations" in summary
    assert "Report:" in summary and "report.html and the CSV files" in summary
    assert "Sent the quarterly report for 2026" in summary and "sendgrid:" in summary
    scorecard = json.loads(artifacts["quarterly-2026-q3-scorecard"])
    assert {row["Program ID"] for row in scorecard} == {"FP", "CC", "YM", "PE"}
    assert "BP1 Accountability" in scorecard[0] and "Monthly Coverage" in scorecard[0]
    quality = json.loads(artifacts["quarterly-2026-q3-data-quality"])
    assert any(row["severity"] == "error" for row in quality)


def test_the_run_emails_the_report_through_sendgrid_with_the_key_and_recipients_kept_in_prefect(
    sent_run, root, sendgrid, ledger
):
    assert sent_run.state.type == StateType.COMPLETED
    assert [sent["personalizations"][0]["to"][0]["email"] for sent in reports_sent(sendgrid)] == RECIPIENTS  # one each
    assert {sent["custom_args"]["quarter"] for sent in reports_sent(sendgrid)} == {"2026-Q3"}
    assert (root / "q3" / "report.html").stat().st_size > 0
    assert not (root / "q3" / "outbox").exists()
    # Recorded in the ledger every worker of the stack shares: no worker sends it again.
    url, schema = ledger
    engine = create_engine(url)
    with engine.connect() as db:
        recorded = db.execute(
            text(f'SELECT recipient, status FROM "{schema}".email_deliveries WHERE kind = :kind ORDER BY recipient'),
            {"kind": EmailKind.QUARTERLY_REPORT.value},
        )
        assert recorded.all() == [(recipient, "sent") for recipient in sorted(RECIPIENTS)]
    engine.dispose()


def test_no_run_shows_the_sendgrid_key_in_its_parameters_logs_or_artifacts(client, sent_run):
    for run in (sent_run,):
        shown = json.dumps(run.parameters) + logs_of(client, run.id, until="Finished in state", timeout=5)
        shown += json.dumps(artifacts_of(client, run.id))
        assert FAKE_SENDGRID_KEY not in shown and FAKE_SENDGRID_KEY.split(".")[1] not in shown


def test_a_run_for_quarter_2026_q5_is_refused_before_it_starts_as_the_run_form_does(client, root):
    deployment = client.read_deployment_by_name(QUARTERLY)
    schema = deployment.parameter_openapi_schema["properties"]["quarter"]
    assert any("pattern" in option for option in schema["anyOf"])  # what the Run form checks

    with pytest.raises(Exception, match="409 Conflict") as refused:
        client.create_flow_run_from_deployment(
            deployment.id, parameters={"quarter": "2026-Q5", "output_dir": str(root / "q5")}
        )

    assert "2026-Q5" in str(refused.value) or "[Qq][1-4]" in str(refused.value)
    assert not (root / "q5").exists()


def test_a_run_form_naming_another_file_and_a_folder_outside_reports_is_refused_naming_both_and_the_run_named_failed(
    client, outbox_alert, root
):
    refused = outbox_alert.failed
    assert refused.state.type == StateType.FAILED and refused.name == "quarterly-2026-Q3-failed"
    assert "source '/etc/hostname' is refused: a run from the UI reads only .xlsx workbooks in" in refused.state.message
    # Both fields at once, so that one correction of the form is enough.
    assert f"output_dir '{root.parent / 'not-reports'}' is refused: a run from the UI writes only inside {root}" in (
        refused.state.message
    )
    assert not (root.parent / "not-reports").exists()  # its output_dir was never written
    logs = logs_of(client, refused.id, until="is refused")
    assert "source '/etc/hostname' is refused" in logs and "Traceback" not in logs


def test_a_run_form_naming_another_sheet_or_a_folder_outside_reports_is_refused_in_one_line(tmp_path, monkeypatch):
    # The check itself, as a run of a deployment meets it (Prefect's runtime override of its id), with
    # a configured sheet: the Run form may name that sheet only.
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(uuid4()))
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("COACHING_SOURCE", "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg")
    elsewhere = tmp_path / "not-reports"
    folder_refused = f"output_dir '{elsewhere}' is refused: a run from the UI writes only inside {tmp_path / 'reports'}"
    with pytest.raises(UsageError) as refused:
        check_deployed_run_paths(load_settings(), None, str(elsewhere))
    assert str(refused.value).startswith(folder_refused)
    with pytest.raises(UsageError) as refused:
        check_deployed_run_paths(load_settings(), "1ZzOtherSheetKey0123456789abcdefghijklmnop", str(elsewhere))
    assert str(refused.value).startswith(
        "source '1ZzOtherSheetKey0123456789abcdefghijklmnop' is refused: a run from the UI reads only the "
        "configured sheet"
    )
    assert folder_refused in str(refused.value) and "\n" not in str(refused.value)
    check_deployed_run_paths(load_settings(), "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg", None)  # its own sheet
    assert not elsewhere.exists()


def test_prefect_yaml_schedules_fire_in_the_timezone_of_the_settings():
    assert schedule_timezones(deployment_spec()) == {load_settings().timezone}


def test_the_stack_refuses_to_deploy_schedules_in_another_timezone_than_the_settings(tmp_path, monkeypatch, capsys):
    # Before anything starts: no server, no deployment.
    monkeypatch.setenv("COACHING_TIMEZONE", "Europe/Paris")
    assert stack_command(["up", "--home", str(tmp_path), "--port", str(free_port())]) == 2
    error = capsys.readouterr().err
    assert "America/New_York" in error and "Europe/Paris" in error
    assert not (tmp_path / "server.pid").exists()


def test_the_secrets_command_without_a_server_says_how_to_name_one(tmp_path):
    env = {k: v for k, v in Stack(home=tmp_path).env().items() if k != "PREFECT_API_URL"}
    env["SENDGRID_API_KEY"] = FAKE_SENDGRID_KEY
    done = subprocess.run(
        [sys.executable, "-m", "ops.secrets"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )
    assert done.returncode == 2 and "error: No Prefect server to save into: set PREFECT_API_URL" in done.stderr
    assert FAKE_SENDGRID_KEY not in done.stdout + done.stderr


def start_run(client: SyncPrefectClient, parameters: dict[str, object], until: set[StateType]) -> FlowRun:
    """A quarterly run through the API, once it reaches one of the `until` state types."""
    deployment = client.read_deployment_by_name(QUARTERLY)
    run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    deadline = time.monotonic() + scaled(RUN_DEADLINE)
    while run.state is None or run.state.type not in until:
        assert time.monotonic() < deadline, f"run still {run.state_name}; see the worker.log of the stack's home"
        time.sleep(0.3)
        run = client.read_flow_run(run.id)
    return run


def kill_processes_of(run_id: UUID) -> None:
    """kill -9 every process running this flow run, as a machine crash would."""
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"PREFECT__FLOW_RUN_ID={run_id}".encode() in environ.read_bytes():
                os.kill(int(environ.parent.name), 9)
        except (OSError, ValueError):
            pass


def test_make_stack_without_a_sendgrid_key_makes_the_four_automations_run_the_admin_alert(client, outbox_alert):
    alert_deployment = client.read_deployment_by_name(ALERT_DEPLOYMENT)
    made = {automation.name: automation for automation in outbox_alert.automations}
    assert set(made) == set(AUTOMATIONS)
    for name, event in AUTOMATIONS.items():
        (action,) = made[name].actions
        assert action.type == "run-deployment" and action.deployment_id == alert_deployment.id
        assert action.parameters == {
            "flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"},
            "event": event,
        }
    # An alert run that fails sets off no alert of its own; nothing runs it but the Automations.
    assert "coaching" not in alert_deployment.tags and not alert_deployment.schedules


def test_a_failed_run_emails_the_admins_one_alert_naming_it_in_the_outbox(outbox_alert):
    failed = outbox_alert.failed
    assert failed.state.type == StateType.FAILED
    (alert_run,) = outbox_alert.alert_runs
    assert alert_run.parameters == {"flow_run_id": str(failed.id), "event": "failed"}
    assert alert_run.state.type == StateType.COMPLETED, alert_run.state.message
    assert alert_run.state.message.startswith("Sent the admin alert for failed run")
    (email,) = outbox_alert.emails
    assert email["To"] == ADMIN
    assert email["Subject"] == "Coaching pipeline alert: a run of quarterly-coaching-report failed"
    text = email.get_body(("plain",)).get_content()
    assert failed.name == "quarterly-2026-Q3-failed"
    # The alert names the run as it was called when the alert read it: before or after the rename.
    assert re.search(rf"Run: quarterly-2026-Q3(-failed)? \(id {failed.id}\)", text) and "State: Failed" in text
    assert "source '/etc/hostname' is refused" in text and f"/runs/flow-run/{failed.id}" in text


def test_no_sendgrid_key_is_copied_into_a_block_and_no_delivery_slot_exists_after_the_secrets_are_saved(
    client, saved_secrets
):
    automations = {automation.name: automation for automation in client.read_automations()}
    assert set(automations) == set(AUTOMATIONS)
    assert all(automation.actions[0].type == "run-deployment" for automation in automations.values())
    failed = automations["coaching: run failed"].trigger
    assert failed.expect == {"prefect.flow-run.Failed", "prefect.flow-run.TimedOut"}
    assert automations["coaching: run cancelled"].trigger.expect == {"prefect.flow-run.Cancelled"}
    late = automations["coaching: run late by more than an hour"].trigger
    assert late.after == {"prefect.flow-run.Late"} and late.within.total_seconds() == 3600
    # The key is only where ops.secrets put it (the Secret block the runs read); no notification
    # block holds a copy, and no global concurrency slot can be left taken by a killed run.
    blocks = client.read_block_documents(include_secrets=True)
    assert [block.name for block in blocks if FAKE_SENDGRID_KEY in json.dumps(block.data, default=str)] == [
        "sendgrid-api-key"
    ]
    assert "coaching-delivery" not in [limit.name for limit in client.read_global_concurrency_limits()]


def test_the_alerts_command_with_no_admin_emails_still_makes_the_automations_and_says_nobody_is_told(
    client, stack, saved_secrets
):
    # What an earlier version made: a notification block holding the key, and the delivery slot.
    from prefect.blocks.notifications import SendgridEmail
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api_url, PREFECT_API_AUTH_STRING: stack.auth_string}):
        SendgridEmail(api_key=FAKE_SENDGRID_KEY, sender_email=ADMIN, to_emails=[ADMIN]).save("coaching-admin-email")
    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="coaching-delivery", limit=1))

    done = subprocess.run(
        [sys.executable, "-m", "ops.alerts"],
        cwd=PROJECT_ROOT,
        env=stack.env({"COACHING_ADMIN_EMAILS": ""}),
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert done.returncode == 0, done.stderr
    assert "Removed the notification block 'coaching-admin-email' (it held the SendGrid key)." in done.stdout
    assert "Removed the global concurrency limit 'coaching-delivery'" in done.stdout
    assert "coaching-delivery" not in [limit.name for limit in client.read_global_concurrency_limits()]
    assert "WARNING: admin_emails is empty, so nobody is told" in done.stdout
    assert "COACHING_ADMIN_EMAILS" in done.stdout
    made = {automation.name: automation for automation in client.read_automations()}
    assert set(made) == set(AUTOMATIONS)
    assert all(automation.actions[0].type == "run-deployment" for automation in made.values())


NETWORK = PROJECT_ROOT / "data" / "network"
AGENCIES = ("northfield", "riverside", "lakeshore")


def write_registry(folder: Path) -> Path:
    agencies = [
        {
            "id": agency,
            "name": f"{agency.title()} Services",
            "source": str(NETWORK / f"{agency}.xlsx"),
            "report_recipients": [f"director@{agency}.example.org"],
            "allowed_recipient_domains": [f"{agency}.example.org"],
        }
        for agency in AGENCIES
    ]
    network = {"name": "Two-worker Network", "report_recipients": ["centre@network.example.org"]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agencies.yaml"
    path.write_text(yaml.safe_dump({"network": network, "agencies": agencies}))
    return path


def test_two_workers_sharing_the_postgresql_ledger_run_the_network_in_parts_and_report_every_agency_once(
    client, stack, sent_run, root, sendgrid, ledger
):
    # After the quarterly run: the network's parts and its roll-up go through SendGrid too.
    out = root / "network"
    # The configured registry (the worker's COACHING_REGISTRY), as a run from the UI must name it.
    parameters = {"quarter": "2026-Q3", "registry": str(write_registry(root / "registry")), "output_dir": str(out)}
    sent_before = len(sendgrid.messages)
    with (root / "second-worker.log").open("wb") as log:
        second = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "coaching-pool", "--name", "second"],
            cwd=PROJECT_ROOT,
            env=stack.env(stack.worker_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        run = run_network(client, {**parameters, "workers": 2})
        part = client.read_deployment_by_name("network_part/network-part")
        parts = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[part.id]))
        )
    finally:
        # Prefect's worker (3.9) sometimes misses its SIGTERM: it logs the SIGINT it forwards to itself,
        # then polls on, and answers any later signal with SIGKILL. A graceful stop takes about a second;
        # the test needs none, so SIGKILL follows after a short grace.
        stop_group(second.pid, timeout=scaled(5))

    assert run.state_name == "Completed", run.state.message if run.state else run
    assert sorted(part.name for part in parts) == ["network-2026-Q3-part-1", "network-2026-Q3-part-2"]
    outcomes = pd.read_csv(out / "agency_outcomes.csv")
    assert dict(zip(outcomes["agency_id"], outcomes["outcome"])) == dict.fromkeys(AGENCIES, "sent")
    # Each agency's report once, from whichever worker's part took it, and the roll-up once. (That a
    # later run in another process finds them in the shared ledger: tests/adapters/test_ledger_postgres.py.)
    sent_to = sorted(message["personalizations"][0]["to"][0]["email"] for message in sendgrid.messages[sent_before:])
    assert sent_to == sorted(["centre@network.example.org", *(f"director@{agency}.example.org" for agency in AGENCIES)])
    url, schema = ledger
    engine = create_engine(url)
    with engine.connect() as db:
        for agency in AGENCIES:
            sent = db.execute(text(f'SELECT recipient, status FROM "{schema}_agency_{agency}".email_deliveries'))
            assert sent.all() == [(f"director@{agency}.example.org", "sent")]
    engine.dispose()


def run_network(client: SyncPrefectClient, parameters: dict[str, object]) -> FlowRun:
    """A run of the network's deployment through the API, once it ended."""
    deployment = client.read_deployment_by_name("network_report/network-coaching-report")
    run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    deadline = time.monotonic() + scaled(NETWORK_DEADLINE)
    while not (run.state is not None and run.state.is_final()):
        assert time.monotonic() < deadline, f"the network's run did not end within {scaled(NETWORK_DEADLINE):.0f} s"
        time.sleep(1)
        run = client.read_flow_run(run.id)
    return run


def test_a_run_left_running_by_a_killed_worker_is_marked_crashed_when_the_stack_starts_again(
    client, stack, sent_run, root, monkeypatch
):
    monkeypatch.setenv("COACHING_ADMIN_EMAILS", ADMIN)  # for the alert Automations `up` makes
    run = start_run(
        client,
        {"quarter": "2026-Q2", "source": str(SAMPLE), "output_dir": str(root / "orphan"), "send": False},
        until={StateType.RUNNING},
    )
    worker = running_pid(stack, "worker")
    os.killpg(worker, 9)  # the worker and what it started die at once, as in kill -9 or a power cut
    kill_processes_of(run.id)
    assert client.read_flow_run(run.id).state.type == StateType.RUNNING  # nobody will ever finish it

    said: list[str] = []
    up(stack, say=said.append)  # `make stack` again: the key is in its Secret block by now

    assert "Automation 'coaching: run failed'." in said
    assert len(client.read_automations()) == len(AUTOMATIONS)  # kept in place, not added twice

    orphan = client.read_flow_run(run.id)
    assert orphan.state.type == StateType.CRASHED and "Orphaned" in orphan.state.message
    # Its deployment's one slot is free (the next test's run takes it and starts).
    assert client.read_deployment_by_name(QUARTERLY).global_concurrency_limit.active_slots == 0
    # And the admins hear of the crash (before the next test holds SendGrid's answers back).
    (alert,) = [
        alert for alert in ended_alerts(client, run.id, "crashed") if alert.parameters["flow_run_id"] == str(run.id)
    ]
    assert alert.state.type == StateType.COMPLETED, alert.state.message


def test_stopping_the_stack_mid_send_cancels_the_run_and_the_admins_hear_of_the_unknown_email_through_sendgrid(
    client, stack, sent_run, root, sendgrid
):
    sent_before = len(sendgrid.messages)
    sendgrid.response_delay = 120  # SendGrid takes the copy; its answer never comes before the cancel
    run = start_run(
        client,
        {
            "quarter": "2026-Q3",
            "source": str(SAMPLE),
            "output_dir": str(root / "stopped"),
            "recipients": ["ceo@brightpath.example.org"],
        },
        until={StateType.RUNNING},
    )
    sendgrid.wait_for_messages(sent_before + 1, timeout=scaled(60))
    sendgrid.response_delay = 0

    said: list[str] = []
    assert drain_runs(stack, seconds=0, say=said.append, alert_seconds=scaled(90)) == 1  # what `down` does

    assert client.read_flow_run(run.id).state.type == StateType.CANCELLED
    assert client.read_deployment_by_name(QUARTERLY).global_concurrency_limit.active_slots == 0
    assert "Some admin alerts had not ended" not in " ".join(said)
    alert_runs = [
        alert
        for alert in ended_alerts(client, run.id, "cancelled")
        if alert.parameters == {"flow_run_id": str(run.id), "event": "cancelled"}
    ]
    # Two when the worker took longer than drain's 15 s to stop the run (a loaded machine): drain marked it
    # Cancelled, then the worker did too; the second alert run finds the email sent and sends nothing.
    assert alert_runs and all(alert.state.type == StateType.COMPLETED for alert in alert_runs), [
        alert.state.message for alert in alert_runs
    ]
    # Through the one sending path: the worker's SendGrid settings (COACHING_SENDGRID_API_URL), the ledger.
    (alert,) = [
        message
        for message in sendgrid.messages[sent_before + 1 :]
        if message["personalizations"][0]["to"][0]["email"] == ADMIN
    ]
    text = next(part["value"] for part in alert["content"] if part["type"] == "text/plain")
    assert "was cancelled" in alert["subject"]
    assert "Emails of unknown outcome waiting for a decision:" in text
    assert "the quarterly_report for 2026-Q3 to ceo@brightpath.example.org (sendgrid, " in text
    assert "python -m ops.deliveries resend" in text
