"""The network benchmark: N agencies through `python -m flows.network_report`, all reading Google
Sheets through one service account, against a loopback Google that enforces the 60-reads-a-minute
quota and a loopback SendGrid.

    python -m bench.network --agencies N

Every agency is a spreadsheet holding the sample workbook's tabs. The run is the command as an
admin types it (one process: a temporary Prefect server, every agency a run of its own, the
roll-up), so the expensive imports are paid once. Prints agencies a minute, reads per agency,
answers of 429, CPU seconds per agency, peak memory, and the quota floor (the reads the run needs
÷ 60 a minute) beside the measured time; then as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.pipeline import _peak_rss_mb, print_figures
from config.settings import PROJECT_ROOT
from tests.fakes.google_api import FakeGoogle, tabs_from_xlsx
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid
from tests.postgres import local_postgres

READS_PER_MINUTE = 60  # Google Sheets: read requests a minute per user (a service account is one user)
SERVICE_ACCOUNT = "network-reader@bench.iam.gserviceaccount.com"
SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"
QUARTER = "2026-Q3"


def _registry(folder: Path, keys: list[str]) -> Path:
    agencies = [
        {
            "id": f"agency-{number:04d}",
            "name": f"Agency {number}",
            "source": key,
            "report_recipients": [f"director@agency-{number:04d}.example.org"],
            "allowed_recipient_domains": [f"agency-{number:04d}.example.org"],
        }
        for number, key in enumerate(keys, start=1)
    ]
    network = {
        "name": "Benchmark Network",
        "report_recipients": ["centre@network.example.org"],
        "allowed_recipient_domains": ["network.example.org"],
    }
    path = folder / "agencies.yaml"
    path.write_text(yaml.safe_dump({"network": network, "agencies": agencies}))
    return path


def run(agencies: int, workers: int = 0, server_database: str = "postgresql") -> dict[str, object]:
    """The network of `agencies` on the loopback services: with `workers` = 0 the command line in this
    process (and its temporary Prefect server), else the network deployment on `workers` workers, its
    server's database `server_database` (_on_the_pool)."""
    tabs = tabs_from_xlsx(SAMPLE)
    with (
        tempfile.TemporaryDirectory(prefix="bench-network-") as temp,
        FakeGoogle(read_quota=READS_PER_MINUTE) as google,
        FakeSendGrid() as mail,
    ):
        folder = Path(temp)
        keys = [f"bench{number:04d}-{'k' * 30}" for number in range(1, agencies + 1)]
        for key in keys:
            google.add_spreadsheet(key, key, tabs, shared_with={SERVICE_ACCOUNT: "reader"})
        credentials = folder / "service-account.json"
        credentials.write_text(json.dumps(google.new_service_account(SERVICE_ACCOUNT)))
        os.environ.update(
            {
                "COACHING_STATE_DIR": str(folder / "state"),
                "COACHING_SHEETS_API_URL": google.url,
                "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
                "SENDGRID_API_KEY": TEST_API_KEY,
                "COACHING_SENDGRID_API_URL": mail.url,
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
        )
        registry = _registry(folder, keys)
        if workers:
            code, seconds, cpu = _on_the_pool(folder, registry, workers, server_database)
        else:
            code, seconds, cpu = _in_this_process(folder, registry)
        sheets = google.sheets_calls
        read_keys = Counter(
            call.path.removeprefix("/v4/spreadsheets/").split("/")[0] for call in sheets if call.status == 200
        )
        answered_429 = sum(call.status == 429 for call in sheets)
        delivered = len(mail.messages)
    reads = sum(read_keys.values())
    floor_seconds = reads / READS_PER_MINUTE * 60
    return {
        "agencies": agencies,
        "workers": workers,
        "prefect_server_database": server_database if workers else "sqlite",
        "exit_code": code,
        "emails_delivered": delivered,
        "agencies_read_once": sum(count == 1 for count in read_keys.values()),
        "seconds": round(seconds, 1),
        "agencies_per_minute": round(agencies / seconds * 60, 1),
        "reads_per_agency": round(reads / agencies, 2),
        "answers_429": answered_429,
        "quota_floor_seconds": round(floor_seconds, 1),
        "measured_over_floor": round(seconds / floor_seconds, 2) if floor_seconds else None,
        "cpu_seconds_per_agency": round(sum(p.cpu_seconds for p in cpu) / agencies, 2),
        "cpu_seconds_by_process": {p.role: round(p.cpu_seconds, 1) for p in cpu},
        "peak_rss_mb_by_process": {p.role: p.peak_rss_mb for p in cpu},
        "cpus": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


@dataclass(frozen=True)
class ProcessFigures:
    role: str  # what the process is: "this process", "Prefect server", "worker 1", "part 2", ...
    cpu_seconds: float  # during the run
    peak_rss_mb: float  # over the process's life


def _in_this_process(folder: Path, registry: Path) -> tuple[int, float, list[ProcessFigures]]:
    """The command as an admin types it, in this process; its temporary Prefect server is a child of
    this process, counted once it has stopped (RUSAGE_CHILDREN)."""
    from flows.cli import network_report_command

    before = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = network_report_command(
        ["--registry", str(registry), "--quarter", QUARTER, "--output-dir", str(folder / "out")]
    )
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (
        code,
        seconds,
        [
            ProcessFigures(
                "the command (network run, every agency)", _cpu(resource.RUSAGE_SELF) - before[0], _peak_rss_mb()
            ),
            ProcessFigures("temporary Prefect server", _cpu(resource.RUSAGE_CHILDREN) - before[1], round(children, 1)),
        ],
    )


def _postmaster(url: str) -> int:
    """The process id of the PostgreSQL cluster serving `url` (tests/postgres.py: the one listening on its port)."""
    port = f"-p {url.rsplit(':', 1)[1].split('/')[0]} "
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if port in command and "postgres" in command.split(" ", 1)[0]:
                return int(entry.name)
    raise RuntimeError(f"no PostgreSQL process listens with {port.strip()}")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _on_the_pool(
    folder: Path, registry: Path, workers: int, server_database: str
) -> tuple[int, float, list[ProcessFigures]]:
    """As an admin runs a network over several workers (docs/network.md): a Prefect server on
    `server_database` (PostgreSQL: a throw-away cluster, tests/postgres.py; or SQLite), and ops.stack's
    work pool, deployments of prefect.yaml and one worker, `workers` - 1 more workers, and a run of
    the network deployment with `workers` parts. Timed from the run's creation to its end; every process's
    CPU and memory read from /proc while it runs (this process's own too: the loopback Google and
    SendGrid; and PostgreSQL's)."""
    from prefect.client.orchestration import SyncPrefectClient

    from flows.prefect_api import free_port
    from ops.stack import Stack, running, stop_group

    parameters = {"quarter": QUARTER, "registry": str(registry), "output_dir": str(folder / "out"), "workers": workers}
    extra: list[subprocess.Popen[bytes]] = []
    with ExitStack() as scope:
        server_env, database = {}, None
        if server_database == "postgresql":  # as docs/network.md sets up a server for several workers
            url = scope.enter_context(local_postgres())
            server_env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url.replace("+psycopg", "+asyncpg", 1)}
            database = _postmaster(url)
        stack = Stack(
            home=folder / "prefect",
            port=free_port(),
            worker_env={"PREFECT_WORKER_QUERY_SECONDS": "1"},
            server_env=server_env,
        )
        scope.enter_context(running(stack, say=lambda _: None))
        try:
            for number in range(2, workers + 1):
                command = ["-m", "prefect", "worker", "start", "--pool", "coaching-pool", "--name", f"bench-{number}"]
                with stack.log_file(f"worker-{number}").open("wb") as log:
                    extra.append(
                        subprocess.Popen(
                            [sys.executable, *command],
                            env=stack.env(stack.worker_env),
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            with SyncPrefectClient(stack.api_url) as client, _Sampler(database) as sampler:
                deployment = client.read_deployment_by_name("network_report/network-coaching-report")
                start = time.perf_counter()
                flow_run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
                while not (flow_run.state and flow_run.state.is_final()):
                    time.sleep(1)
                    flow_run = client.read_flow_run(flow_run.id)
                seconds = time.perf_counter() - start
                names = sampler.flow_run_names(client)
        finally:
            for process in extra:
                stop_group(process.pid, timeout=30)
    code = 0 if flow_run.state.is_completed() else 1
    return code, seconds, sampler.figures(names)


class _Sampler:
    """This process and every process below it (and below `database`, PostgreSQL's first process),
    read from /proc every half second: CPU seconds used since the sampler started (a process that
    ends between two looks loses at most half a second) and peak resident memory (VmHWM)."""

    def __init__(self, database: int | None = None) -> None:
        self._database = database
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._peak: dict[int, float] = {}
        self._what: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> _Sampler:
        self._look()
        self._first = dict(self._last)  # what already ran before the run counts from here
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._look()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._look()

    def _look(self) -> None:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
        ours = {os.getpid(), *([self._database] if self._database else [])}
        grew = True
        while grew:
            below = {pid for pid, parent in parents.items() if parent in ours} - ours
            grew = bool(below)
            ours |= below
        for pid in ours:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                status = Path(f"/proc/{pid}/status").read_text()
                if not self._what.get(pid, "worker").startswith(
                    ("flow run ", "Prefect server", "this process", "PostgreSQL")
                ):
                    self._what[pid] = self._describe(pid)  # a worker forks, then becomes a flow run
            except OSError:
                continue
            self._last[pid] = (int(fields[11]) + int(fields[12])) / self._tick
            hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
            self._peak[pid] = max(self._peak.get(pid, 0.0), int(hwm) / 1024)

    @staticmethod
    def _describe(pid: int) -> str:
        if pid == os.getpid():
            return "this process (loopback Google and SendGrid)"
        if Path(f"/proc/{pid}/exe").resolve().name == "postgres":
            return "PostgreSQL (the Prefect server's database)"
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        run = next((v.split(b"=", 1)[1].decode() for v in environment if v.startswith(b"PREFECT__FLOW_RUN_ID=")), "")
        if run:
            return f"flow run {run}"
        if "server" in command or "uvicorn" in command:
            return "Prefect server"
        if "worker start" in command:
            return "worker"
        return command[:60]

    def flow_run_names(self, client: object) -> dict[str, str]:
        from uuid import UUID

        runs = [what.removeprefix("flow run ") for what in self._what.values() if what.startswith("flow run ")]
        return {run: f"flow run {client.read_flow_run(UUID(run)).name}" for run in runs}  # type: ignore[attr-defined]

    def figures(self, names: dict[str, str]) -> list[ProcessFigures]:
        """One line per role; processes of the same role (the workers; a server and its children) summed."""
        cpu: dict[str, float] = {}
        peak: dict[str, float] = {}
        for pid, what in self._what.items():
            role = names.get(what.removeprefix("flow run "), what)
            if role == "worker":
                role = f"worker {pid}"
            cpu[role] = cpu.get(role, 0.0) + self._last.get(pid, 0.0) - self._first.get(pid, 0.0)
            peak[role] = max(peak.get(role, 0.0), round(self._peak.get(pid, 0.0), 1))
        return [ProcessFigures(role, cpu[role], peak[role]) for role in cpu]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, required=True, help="how many agencies the network has")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="parts of the network, each on a worker of its own (default 2, one per core here); "
        "0: the command line in one process",
    )
    parser.add_argument(
        "--server-database",
        choices=("postgresql", "sqlite"),
        default="postgresql",
        help="the Prefect server's database with workers (default postgresql, as docs/network.md sets up "
        "a server for several workers: a throw-away cluster here)",
    )
    args = parser.parse_args(argv)
    if args.agencies < 1:
        parser.error("--agencies must be positive")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    # A Prefect worker stops on SIGTERM by sending itself SIGINT, which a process started in the
    # background inherits as ignored: the workers and the stack started here must not inherit that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    figures = run(args.agencies, args.workers, args.server_database)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
