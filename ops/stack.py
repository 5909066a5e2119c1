"""The local Prefect stack in one command: a server on SQLite, the work pool, the deployments, a worker.

    python -m ops.stack up       # start (or re-deploy into) the stack; prints the UI address
    python -m ops.stack status   # what is running
    python -m ops.stack down     # let runs in flight finish (or cancel them), stop the worker, the server

`up` also marks Crashed the runs a dead worker left behind (killed with kill -9: "Running" for
ever, holding their deployment's one concurrency slot), sets up the alert Automations (what
python -m ops.alerts does, in this process), lists the emails of unknown outcome that wait for an
admin (python -m ops.deliveries unresolved), and writes the server's address in `api-url`: what
command-line runs of this checkout look for (flows/prefect_api.py). `down` waits up to
--drain-seconds for runs in flight, then cancels the rest, so that none is stranded holding a slot,
and waits for the admin alerts about the runs it cancelled (it never cancels an alert).

With PREFECT_SERVER_API_AUTH_STRING set (user:password), the server asks every client for it
(Prefect's basic auth) and the worker and the commands here are given it as PREFECT_API_AUTH_STRING:
docs/operations.md says when to set it.

Everything lives in PREFECT_HOME, `.prefect/` in the project by default: the SQLite database, the
logs (server.log, worker.log, deploy.log) and the process ids. Telemetry is off. The worker runs
the flows with this shell's environment (SENDGRID_API_KEY, COACHING_… settings), from this folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from config.settings import PROJECT_ROOT, Settings, load_settings
from flows.prefect_api import STACK_API_FILE, answers
from ops.alerts import ALERT_DEPLOYMENT, ensure_alerts

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

PREFECT_FILE = PROJECT_ROOT / "prefect.yaml"
DEFAULT_HOME = PROJECT_ROOT / ".prefect"
DEFAULT_PORT = 4200
# How often the worker asks for runs to start (Prefect's default: 10 s). A run from the UI's Run button
# waits for the next look; a look is one small query. The caller's own setting wins.
WORKER_DEFAULTS = {"PREFECT_WORKER_QUERY_SECONDS": "2"}
# Settings of the caller that would point the stack at another server, profile or database.
_FOREIGN_PREFECT_SETTINGS = ("PREFECT_API_", "PREFECT_PROFILE", "PREFECT_HOME", "PREFECT_SERVER_DATABASE")


class StackError(RuntimeError):
    """The stack could not be brought up or down; the message says which step and shows its log."""


def deployment_spec(path: Path = PREFECT_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def work_pool_name(spec: Mapping) -> str:
    """The one work pool that every deployment in prefect.yaml uses."""
    names = {deployment["work_pool"]["name"] for deployment in spec["deployments"]}
    if len(names) != 1:
        raise StackError(f"prefect.yaml should use one work pool, not {sorted(names)}")
    return names.pop()


def schedule_timezones(spec: Mapping) -> set[str]:
    return {schedule["timezone"] for d in spec["deployments"] for schedule in d.get("schedules") or []}


def check_timezones(spec: Mapping, timezone: str) -> None:
    """The schedules must fire in the timezone the flows count days in (settings `timezone`)."""
    zones = schedule_timezones(spec)
    if zones != {timezone}:
        raise StackError(
            f"The schedules in prefect.yaml use {', '.join(sorted(zones))} but config/settings.yaml "
            f"(or COACHING_TIMEZONE) says timezone: {timezone}. Make them the same (definitions.timezone "
            "in prefect.yaml), then run this again."
        )


@dataclass(frozen=True)
class Stack:
    home: Path = DEFAULT_HOME
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    worker_env: Mapping[str, str] = field(default_factory=dict)  # extra settings for the worker only
    server_env: Mapping[str, str] = field(default_factory=dict)  # extra settings for the server only (its database)

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def auth_string(self) -> str | None:
        """What the server asks every client for (PREFECT_SERVER_API_AUTH_STRING), if anything."""
        return os.environ.get("PREFECT_SERVER_API_AUTH_STRING") or None

    @contextmanager
    def client(self) -> Iterator[SyncPrefectClient]:
        """A client of this stack's API for this process, with the credentials the server asks for.
        A server that refuses them (started with another PREFECT_SERVER_API_AUTH_STRING, or none
        set here) ends the command with one line saying so."""
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.exceptions import PrefectHTTPStatusError

        try:
            with SyncPrefectClient(self.api_url, auth_string=self.auth_string) as client:
                yield client
        except PrefectHTTPStatusError as refused:
            if refused.response.status_code not in (401, 403):
                raise
            given = "none is set" if self.auth_string is None else "the one set is not the server's"
            raise StackError(
                f"The Prefect server at {self.ui_url} asks for credentials and {given}: export "
                "PREFECT_SERVER_API_AUTH_STRING with the value the server was started with."
            ) from None

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment, pointed at this stack, with telemetry off."""
        own = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFECT_SETTINGS)}
        auth = self.auth_string
        return {
            **own,
            **({"PREFECT_API_AUTH_STRING": auth} if auth else {}),
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api_url,
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(extra or {}),
        }

    def pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.home / f"{name}.log"


def _prefect(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


def _tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def healthy(stack: Stack) -> bool:
    return answers(stack.api_url, timeout=2)


def running_pid(stack: Stack, name: str) -> int | None:
    """The id of the process this stack started as `name`, if it is still a Prefect process."""
    path = stack.pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that has ended
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None  # gone
    # The id may have been reused by an unrelated process since: only a Prefect process is ours
    # (an ended process that nobody has reaped yet has an empty command line).
    return pid if b"prefect" in cmdline else None


def _start(stack: Stack, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a long-running Prefect command in its own process group, logging to `<name>.log`."""
    with stack.log_file(name).open("ab") as log:
        process = subprocess.Popen(
            _prefect(*args),
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.pid_file(name).write_text(str(process.pid))
    return process


def _run(stack: Stack, name: str, args: list[str], timeout: float) -> None:
    """Run a Prefect command to completion, logging to `<name>.log`; a failure shows the log's end."""
    log = stack.log_file(name)
    with log.open("ab") as out:
        try:
            done = subprocess.run(
                _prefect(*args),
                cwd=PROJECT_ROOT,
                env=stack.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"`prefect {' '.join(args)}` took over {timeout:.0f} s; see {log}") from None
    if done.returncode != 0:
        raise StackError(f"`prefect {' '.join(args)}` failed; the end of {log}:\n{_tail(log)}")


IN_FLIGHT = ("PENDING", "RUNNING", "CANCELLING")


def _in_flight_runs(client: object) -> list[object]:
    """The runs of this server's deployments that are pending, running or cancelling."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    return client.read_flow_runs(  # type: ignore[attr-defined]
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(is_null_=False),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(t) for t in IN_FLIGHT])),
        )
    )


def _end_runs(client: object, runs: list[object], state: object) -> None:
    """Force a final state: the server then frees the deployment concurrency slot each one held. A
    run is read again first: one its worker ended meanwhile keeps its state (a second final state
    would be a second event, and the Automation would start a second admin alert)."""
    for run in runs:
        now = client.read_flow_run(run.id).state  # type: ignore[attr-defined]
        if now is None or not now.is_final():
            client.set_flow_run_state(run.id, state.model_copy(), force=True)  # type: ignore[attr-defined]


def _still_in_flight(client: object, runs: list[object], seconds: float) -> list[object]:
    """`runs` (in flight now), re-read every second until none is left or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while runs and time.monotonic() < deadline:
        time.sleep(1)
        runs = _in_flight_runs(client)
    return runs


def clear_orphaned_runs(stack: Stack, say: Callable[[str], object] = print) -> int:
    """Before a worker starts: every run still pending or running was left by a worker that died
    (no worker runs now), so it is marked Crashed, freeing its slot. Returns how many. The local
    stack's worker is its pool's only one; a server shared with workers on other hosts is not
    started with this module (docs/scaling.md)."""
    from prefect.states import Crashed

    with stack.client() as client:
        orphans = _in_flight_runs(client)
        if orphans:
            say(f"Marking {len(orphans)} orphaned run(s) Crashed: {', '.join(run.name for run in orphans)} ...")
            _end_runs(
                client,
                orphans,
                Crashed(
                    message=(
                        "Orphaned: its worker stopped while it ran (killed or crashed), so it was marked Crashed "
                        "when the stack started again. If it was sending, see python -m ops.deliveries list."
                    )
                ),
            )
    return len(orphans)


def _alert_deployment_id(client: object) -> object | None:
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(ALERT_DEPLOYMENT).id  # type: ignore[attr-defined]
    except ObjectNotFound:
        return None


def _await_alerts(client: object, about: list[object], seconds: float, say: Callable[[str], object]) -> None:
    """Wait up to `seconds` until an admin alert about each run of `about` has ended (the
    Automations start them on the Cancelled event), so that stopping the worker strands none."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    alert_deployment = _alert_deployment_id(client)
    if alert_deployment is None:
        return
    say(f"Waiting up to {seconds:.0f} s for the admin alerts about the cancelled run(s) ...")
    wanted = {str(run.id) for run in about}  # type: ignore[attr-defined]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alerts = client.read_flow_runs(  # type: ignore[attr-defined]
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[alert_deployment]))
        )
        ended = {str(run.parameters.get("flow_run_id")) for run in alerts if run.state and run.state.is_final()}
        if wanted <= ended and not [run for run in alerts if not (run.state and run.state.is_final())]:
            return
        time.sleep(1)
    say("Some admin alerts had not ended; they run when the stack is started again.")


def drain_runs(stack: Stack, seconds: float, say: Callable[[str], object] = print, alert_seconds: float = 60) -> int:
    """Wait up to `seconds` for runs in flight to end; cancel the rest (the worker stops their
    processes; what it has not stopped within 15 s is marked Cancelled all the same), except the
    admin alerts, then wait up to `alert_seconds` for the alerts about the cancelled runs.
    Returns how many were cancelled."""
    from prefect.states import Cancelled, Cancelling

    with stack.client() as client:
        runs = _in_flight_runs(client)
        if runs:
            say(f"Waiting up to {seconds:.0f} s for {len(runs)} run(s) in flight ...")
        runs = _still_in_flight(client, runs, seconds)
        alert_deployment = _alert_deployment_id(client)
        runs = [run for run in runs if run.deployment_id != alert_deployment]  # type: ignore[attr-defined]
        cancelled = len(runs)
        if runs:
            why = (
                "Cancelled because the stack was stopped (python -m ops.stack down) while it ran. "
                "If it was sending, see python -m ops.deliveries list."
            )
            say(f"Cancelling {', '.join(run.name for run in runs)} ...")
            for run in runs:
                client.set_flow_run_state(run.id, Cancelling(message=why))
            left = [run.id for run in _still_in_flight(client, runs, 15)]  # type: ignore[attr-defined]
            _end_runs(client, [run for run in runs if run.id in left], Cancelled(message=why))  # type: ignore[attr-defined]
            _await_alerts(client, runs, alert_seconds, say)
    return cancelled


def create_work_pool(stack: Stack, name: str) -> None:
    """The process work pool, created or (as `prefect work-pool create --type process --overwrite`
    does) reset to the process worker's default job template and unpaused. Through this process's
    client: a `prefect` command would start another Python and import Prefect's CLI for one request."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with stack.client() as client:
        pool = WorkPoolCreate(name=name, type=ProcessWorker.type, base_job_template=template, is_paused=False)
        client.create_work_pool(pool, overwrite=True)


def set_up_alerts(stack: Stack, settings: Settings, say: Callable[[str], object] = print) -> None:
    """What `python -m ops.alerts` does, against this stack through its client, saying what it did.
    In this process: another Python would import Prefect and the settings again (≈ 1.5 CPU s).
    `settings` are `up`'s own, those the command was handed: `stack.env()` changes only PREFECT_…
    variables, which the settings do not read. (The command ran in the project folder: a relative
    COACHING_SETTINGS_FILE is now found from where `up` runs, as `up`'s timezone check always did.)"""
    import httpx

    from coaching.records import PipelineError

    try:
        with stack.client() as client:
            done = ensure_alerts(settings, client)
    except (PipelineError, httpx.HTTPError) as exc:
        what = str(exc) if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
        raise StackError(f"Setting up the alert Automations (python -m ops.alerts) failed: {what}") from None
    for line in done:
        say(line)


def _list_unresolved_deliveries(stack: Stack, say: Callable[[str], object]) -> None:
    """The emails of unknown outcome in the ledger the worker uses (its settings), until resolved."""
    done = subprocess.run(
        [sys.executable, "-m", "ops.deliveries", "unresolved"],
        cwd=PROJECT_ROOT,
        env=stack.env(stack.worker_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in (done.stdout + done.stderr).splitlines():
        say(line)


def _wait_until_healthy(stack: Stack, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(stack):
            return
        if server.poll() is not None:
            log = _tail(stack.log_file("server"))
            raise StackError(f"The Prefect server stopped while starting; the end of its log:\n{log}")
        time.sleep(0.3)
    raise StackError(f"The Prefect server did not answer within {timeout:.0f} s; see {stack.log_file('server')}")


def up(stack: Stack, say: Callable[[str], object] = print) -> None:
    """Bring the stack up; when parts already run, only what is missing is started (and re-deploys)."""
    spec = deployment_spec()
    settings = load_settings()
    check_timezones(spec, settings.timezone)
    pool = work_pool_name(spec)
    stack.home.mkdir(parents=True, exist_ok=True)

    if running_pid(stack, "server") is None:
        if healthy(stack):
            raise StackError(f"Another server already answers on port {stack.port}: choose another with --port.")
        on_postgres = "PREFECT_SERVER_DATABASE_CONNECTION_URL" in stack.server_env
        say(f"Starting the Prefect server ({'PostgreSQL' if on_postgres else f'SQLite in {stack.home}'}) ...")
        command = ["server", "start", "--host", stack.host, "--port", str(stack.port)]
        server = _start(stack, "server", command, stack.env(stack.server_env))
        _wait_until_healthy(stack, server, timeout=90)
    (stack.home / STACK_API_FILE).write_text(stack.api_url, encoding="utf-8")
    say(f"Work pool '{pool}' (process) ...")
    create_work_pool(stack, pool)
    say("Deploying every deployment in prefect.yaml ...")
    _run(stack, "deploy", ["--no-prompt", "deploy", "--all"], timeout=180)
    set_up_alerts(stack, settings, say)
    if running_pid(stack, "worker") is None:
        clear_orphaned_runs(stack, say)
        say("Starting a worker ...")
        defaults = {name: value for name, value in WORKER_DEFAULTS.items() if name not in os.environ}
        _start(stack, "worker", ["worker", "start", "--pool", pool], stack.env({**defaults, **stack.worker_env}))
    _list_unresolved_deliveries(stack, say)
    names = ", ".join(d["name"] for d in spec["deployments"])
    home = "" if stack.home == DEFAULT_HOME else f" --home {stack.home}"
    say(
        f"\nThe Prefect UI: {stack.ui_url}\n"
        f"Deployments: {names}\n"
        f"Logs: {stack.home}/server.log, worker.log, deploy.log\n"
        f"For the prefect command and python -m ops.secrets: export PREFECT_API_URL={stack.api_url}\n"
        f"Stop it with: python -m ops.stack down{home}"
    )


def stop_group(leader: int, timeout: float) -> None:
    """SIGTERM to the process group started with `leader` (server or worker and their children),
    SIGKILL to what remains after `timeout` seconds."""
    with suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(ChildProcessError):
            os.waitpid(leader, os.WNOHANG)
        try:
            os.killpg(leader, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
    with suppress(ChildProcessError):
        os.waitpid(leader, 0)


def down(stack: Stack, say: Callable[[str], object] = print, drain_seconds: float = 60) -> None:
    """Let runs in flight finish for up to `drain_seconds` and cancel the rest (freeing their
    slots), then stop the worker (it reports to the server as it stops), then the server."""
    if running_pid(stack, "server") is not None and healthy(stack):
        drain_runs(stack, drain_seconds, say)
    for name, grace in (("worker", 5), ("server", 15)):
        pid = running_pid(stack, name)
        if pid is not None:
            say(f"Stopping the {name} (process group {pid}) ...")
            # SIGTERM is the worker's one graceful stop (about a second; it then reports to the server):
            # its handlers answer any later SIGTERM or SIGINT with SIGKILL. Prefect 3.9's worker sometimes
            # loses that SIGTERM (the SIGINT it forwards to itself is swallowed) and polls on for ever;
            # with no run left in flight (drained above), SIGKILL after a short grace loses nothing, and
            # the server marks the worker offline once its heartbeats stop.
            stop_group(pid, timeout=grace)
        stack.pid_file(name).unlink(missing_ok=True)
    (stack.home / STACK_API_FILE).unlink(missing_ok=True)


@contextmanager
def running(stack: Stack, say: Callable[[str], object] = print) -> Iterator[Stack]:
    """The stack for the duration of a block, stopped however the block ends (tests use this)."""
    try:
        up(stack, say)
        yield stack
    finally:
        down(stack, say)


def status(stack: Stack) -> str:
    server = running_pid(stack, "server")
    worker = running_pid(stack, "worker")
    return "\n".join(
        [
            f"server: {'running, pid ' + str(server) if server else 'stopped'}"
            + (f", UI at {stack.ui_url}" if server and healthy(stack) else ""),
            f"worker: {'running, pid ' + str(worker) if worker else 'stopped'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the server's port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--home", type=Path, default=DEFAULT_HOME, help="PREFECT_HOME: database, logs, process ids (default .prefect/)"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=60,
        help="down: how long runs in flight may take to finish before they are cancelled (default 60)",
    )
    args = parser.parse_args(argv)
    stack = Stack(home=args.home.resolve(), port=args.port)
    try:
        if args.command == "up":
            up(stack)
        elif args.command == "down":
            down(stack, drain_seconds=args.drain_seconds)
        else:
            print(status(stack))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
