"""Which Prefect server a command-line run uses, and the two places where flows/prefect_api.py and
flows/cli.py lean on how Prefect works inside: each is pinned here, so that a Prefect upgrade that
changes it fails a test instead of a run."""

from __future__ import annotations

import base64
import inspect
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import prefect
import pytest

from config.settings import PROJECT_ROOT, load_settings
from flows.prefect_api import (
    STACK_API_FILE,
    TemporaryServer,
    _configured_api_url,
    answers,
    own_stack_api,
    stack_home,
)
from ops.alerts import ensure_alerts
from ops.stack import Stack, StackError, clear_orphaned_runs, create_work_pool, set_up_alerts
from tests.deadlines import scaled
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(json.dumps(True).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def answering_server() -> Iterator[str]:
    """Something that answers like a Prefect server, on a port of its own; its API address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


def test_the_test_suite_never_reaches_a_server_it_did_not_start():
    # Not the one the developer's shell or profile names, nor the checkout's own stack: a command
    # run by a test starts a temporary server of its own.
    assert "PREFECT_API_URL" not in os.environ and _configured_api_url() is None
    assert stack_home() != PROJECT_ROOT / ".prefect"
    assert own_stack_api(stack_home()) is None


def test_a_server_is_this_checkouts_stack_only_while_the_process_the_stack_recorded_runs(tmp_path, answering_server):
    (tmp_path / STACK_API_FILE).write_text(answering_server)
    stack_server = subprocess.Popen(
        [sys.executable, "-c", "print('started', flush=True); import time; time.sleep(60)", "prefect"],
        stdout=subprocess.PIPE,
    )
    try:
        assert stack_server.stdout is not None
        stack_server.stdout.readline()  # its command line is the one it was started with (not the parent's)
        (tmp_path / "server.pid").write_text(str(stack_server.pid))
        assert own_stack_api(tmp_path) == answering_server
    finally:
        stack_server.kill()
        stack_server.wait()
    # The stack's server stopped: whatever answers at that address now is not ours.
    assert own_stack_api(tmp_path) is None


def test_nothing_recorded_means_no_stack_whatever_answers(tmp_path, answering_server):
    assert own_stack_api(tmp_path) is None


def test_the_temporary_server_is_started_exactly_as_prefect_starts_its_own():
    # Imported here, not by the module: Prefect's server code costs every test process ≈ 2.8 CPU s.
    from prefect.server.api.server import SubprocessASGIServer

    # Pinned: Prefect's temporary server (SubprocessASGIServer) runs this uvicorn command with these
    # private PREFECT__SERVER_* variables; ours must stay the same command.
    theirs = inspect.getsource(SubprocessASGIServer._run_uvicorn_command)
    ours = inspect.getsource(TemporaryServer.__init__)
    for part in (
        '"PREFECT_UI_ENABLED": "0"',
        '"PREFECT__SERVER_EPHEMERAL": "1"',
        '"PREFECT__SERVER_FINAL": "1"',
        '"--factory"',
        '"prefect.server.api.server:create_app"',
        '"--log-level"',
        '"error"',
        '"--lifespan"',
        '"on"',
    ):
        assert part in theirs and part.replace('": "', '", "').replace('"', "") in ours.replace('": "', '", "').replace(
            '"', ""
        ), part


def test_a_command_ends_with_its_exit_code_after_every_exit_handler_registered_after_it_ran(tmp_path):
    # run_as_main ends the process with os._exit once the other exit handlers ran: Prefect flushes
    # its logs and events in handlers registered after ours (atexit, and threading's, which run first).
    marker = tmp_path / "flushed"
    script = (
        "import atexit, threading\n"
        "from flows.cli import run_as_main\n"
        "def command():\n"
        f"    atexit.register(lambda: open({str(marker)!r}, 'a').write('atexit '))\n"
        f"    threading._register_atexit(lambda: open({str(marker)!r}, 'a').write('threading '))\n"
        "    return 3\n"
        "run_as_main(command)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, timeout=scaled(30), check=False)

    assert done.returncode == 3
    assert marker.read_text() == "threading atexit "
    # Pinned: Prefect's exit-time flushing still goes through those two mechanisms.
    services = Path(inspect.getfile(prefect)).parent / "_internal" / "concurrency"
    assert "threading._register_atexit(self._at_exit)" in (services / "services.py").read_text()
    assert "atexit.register(self.shutdown)" in (services / "threads.py").read_text()


def test_a_run_process_collects_its_garbage_as_it_runs_and_skips_the_last_pass_over_everything_at_exit():
    # A network part runs many agencies in one process: each one's cycles must still be collected.
    # Only when the process ends are the objects left frozen, so that shutdown does not walk them all.
    script = (
        "import atexit, gc, weakref\n"
        "from flows.cli import collect_cycles_less_often\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "for agency in range(3):\n"
        "    collect_cycles_less_often()\n"
        "    class Rows(list): pass\n"
        "    rows = Rows(); rows.append(rows); alive = weakref.ref(rows); del rows\n"
        "    gc.collect()\n"
        "    print('collected:', alive() is None, 'frozen:', gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=scaled(30)
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["collected: True frozen: 0"] * 3 + ["frozen at exit: True"]


def test_a_prefect_server_that_stops_mid_run_ends_the_command_with_one_error_line(tmp_path):
    server = TemporaryServer()
    try:
        server.wait_until_ready()
        with FakeSendGrid() as sendgrid:
            sendgrid.after_accepting = server.process.kill  # the email has left; then the server dies
            env = {
                **os.environ,
                "PREFECT_API_URL": server.api_url,
                "SENDGRID_API_KEY": TEST_API_KEY,
                "COACHING_SENDGRID_API_URL": sendgrid.url,
                "COACHING_STATE_DIR": str(tmp_path / "state"),
                # Prefect's client retries each call to the dead server (5 times by default, backing off
                # about 2 s, 4 s, ...); the failure the command reports is the same without them.
                "PREFECT_CLIENT_MAX_RETRIES": "0",
            }
            done = subprocess.run(
                [sys.executable, "-m", "flows.quarterly_report", "--quarter", "2026-Q3", "--output-dir", str(tmp_path)],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=scaled(180),
                check=False,
            )
    finally:
        server.stop()

    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and errors[0].startswith(
        f"error: the Prefect server at {server.api_url} stopped answering"
    )
    assert "Traceback" not in done.stderr
    assert len(sendgrid.messages) == 1


class _HealthBehindBasicAuth(_Health):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"admin:s3cret").decode():
            self.send_response(401)
            self.end_headers()
            return
        super().do_GET()


def test_with_basic_auth_the_stack_passes_it_on_and_the_health_check_sends_it(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthBehindBasicAuth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        assert not answers(api)
        monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "admin:s3cret")  # what the admin exports
        assert answers(api)
        assert Stack(home=Path("/nonexistent")).env()["PREFECT_API_AUTH_STRING"] == "admin:s3cret"  # worker, commands
    finally:
        server.shutdown()


class _RefusesOtherCredentials(_HealthBehindBasicAuth):
    def do_POST(self) -> None:
        self.do_GET()


@pytest.mark.parametrize(
    ("exported", "said"), [(None, "none is set"), ("admin:not-the-one", "the one set is not the server's")]
)
def test_a_stack_started_with_other_credentials_ends_the_stack_command_with_one_line_saying_what_to_set(
    tmp_path, monkeypatch, exported, said
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusesOtherCredentials)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if exported:
        monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", exported)
    stack = Stack(home=tmp_path, port=server.server_address[1])
    try:
        for step in (
            lambda: create_work_pool(stack, "coaching-pool"),
            lambda: clear_orphaned_runs(stack),
            lambda: set_up_alerts(stack, load_settings()),
        ):
            with pytest.raises(StackError) as refused:
                step()
            assert str(refused.value) == (
                f"The Prefect server at {stack.ui_url} asks for credentials and {said}: export "
                "PREFECT_SERVER_API_AUTH_STRING with the value the server was started with."
            )
    finally:
        server.shutdown()


@pytest.fixture
def session_server_as_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The session's Prefect test server (tests/flows/conftest.py) as a stack's server, no credentials."""
    from prefect.settings import PREFECT_API_URL

    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    address = urlsplit(PREFECT_API_URL.value())
    assert address.hostname and address.port
    return Stack(home=tmp_path, port=address.port, host=address.hostname)


def test_up_sets_up_the_alerts_in_its_own_process_saying_the_lines_the_alerts_command_prints(
    session_server_as_stack, monkeypatch
):
    """Through the stack's client, with the settings the command would have been handed (stack.env()
    changes only PREFECT_… variables): the admins' addresses, and every line, are the command's. Set
    up again, each Automation stays in place (the same one, never deleted and made again: a run that
    crashed in between would start no alert), and one an admin paused is brought back, still in place."""
    from prefect.client.orchestration import SyncPrefectClient

    stack = session_server_as_stack
    monkeypatch.setenv("COACHING_ADMIN_EMAILS", "ops@example.org")
    with SyncPrefectClient(stack.api_url) as client:
        flow_id = client.create_flow_from_name("admin_alert")
        deployment_id = client.create_deployment(flow_id=flow_id, name="admin-alert")
        try:
            said: list[str] = []
            set_up_alerts(stack, load_settings(), said.append)
            made = {automation.name: automation for automation in client.read_automations()}
            printed = subprocess.run(
                [sys.executable, "-m", "ops.alerts"],
                cwd=PROJECT_ROOT,
                env=stack.env(),
                capture_output=True,
                text=True,
                timeout=scaled(60),
            )
            assert printed.returncode == 0, printed.stderr
            assert said == printed.stdout.splitlines()
            assert "to ops@example.org the way the pipeline's emails go" in said[0]
            assert sorted(said[1:]) == sorted(f"Automation '{name}'." for name in made) and len(made) == 4
            again = client.read_automations()  # the command found them as they should be: none twice
            assert sorted(automation.name for automation in again) == sorted(made)
            assert all(automation.actions[0].deployment_id == deployment_id for automation in again)
            assert {automation.name: automation.id for automation in again} == {
                name: automation.id for name, automation in made.items()
            }

            client.pause_automation(made["coaching: run failed"].id)
            assert ensure_alerts(load_settings(), client) == said
            restored = {automation.name: automation for automation in client.read_automations()}
            assert {name: automation.id for name, automation in restored.items()} == {
                name: automation.id for name, automation in made.items()
            }
            assert restored["coaching: run failed"].enabled
        finally:
            for automation in client.read_automations():
                if automation.name.startswith("coaching: "):
                    client.delete_automation(automation.id)
            client.delete_deployment(deployment_id)
            client.delete_flow(flow_id)


def test_up_without_the_alert_deployment_on_the_server_stops_with_what_to_deploy(session_server_as_stack):
    said: list[str] = []
    with pytest.raises(StackError) as refused:
        set_up_alerts(session_server_as_stack, load_settings(), said.append)
    assert str(refused.value) == (
        "Setting up the alert Automations (python -m ops.alerts) failed: No deployment 'admin_alert/admin-alert' "
        "on this server: deploy prefect.yaml first (prefect --no-prompt deploy --all, or python -m ops.stack up)."
    )
    assert said == []
