"""The waits people notice, as whole processes on this machine, against the targets.

    python -m bench.cli_latency [--repeat 3] [--skip-ui]

1. `python -m flows.quarterly_report --help`                      target ≤ 1 s
2. an argument or file error (`--quarter 2026-Q5`, a missing `--source`, a `.csv`)   ≤ 1 s
3. the sample report end to end (`--quarter 2026-Q3 --no-send`), no Prefect server running
   (the command starts a temporary one), and with one running (as after `make stack`)     ≤ 8 s
4. a run submitted as the UI's Run button does, on a local stack (server, pool, deployments, a
   worker): submitted → Completed, less the flow's own run time                       ≤ 10 s

Each figure is the median of `--repeat` runs (the UI run: one run per repeat on one stack). Every
process runs with a throw-away PREFECT_HOME and ledger, so nothing is sent twice or remembered.
Prints the machine (with its load average, since other work on the 2 cores slows every figure),
a table, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_QUARTER = "2026-Q3"
TARGETS = {
    "help": 1.0,
    "argument_error": 1.0,
    "file_error": 1.0,
    "sample_report": 8.0,
    "sample_report_running_server": 8.0,
    "ui_run_overhead": 10.0,
}
LABELS = {
    "help": "`--help`",
    "argument_error": "argument error (`--quarter 2026-Q5`)",
    "file_error": "file error (missing `--source`, a `.csv`)",
    "sample_report": "sample report end to end, no server running",
    "sample_report_running_server": "sample report end to end, server running",
    "ui_run_overhead": "UI run: pick-up and start over the flow",
    "ui_run_total": "UI run: submitted to Completed",
    "ui_run_flow": "UI run: the flow itself",
}


def _clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without Prefect or pipeline settings that would point elsewhere."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COACHING_"))}
    return {
        **own,
        "PREFECT_HOME": str(home / "prefect"),
        "COACHING_STATE_DIR": str(home / "state"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **(extra or {}),
    }


def _seconds(command: Sequence[str], env: Mapping[str, str], succeeds: bool) -> float:
    """Wall time of the command, which must succeed (exit 0) or fail (any other code), as asked."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=dict(env), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if (done.returncode == 0) != succeeds:
        raise SystemExit(f"{' '.join(command)} ended with {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def _median(repeat: int, measure: Callable[[], float]) -> float:
    return round(statistics.median(measure() for _ in range(repeat)), 2)


def _report(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.quarterly_report", *args]


def _machine() -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024**2, 1),
        "python": platform.python_version(),
        "prefect": version("prefect"),
        "great_expectations": version("great_expectations"),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def cli_figures(repeat: int, home: Path) -> dict[str, float]:
    """The command line with no Prefect server running: it starts a temporary one when it needs one."""
    env = _clean_env(home)
    figures = {
        "help": _median(repeat, lambda: _seconds(_report("--help"), env, succeeds=True)),
        "argument_error": _median(repeat, lambda: _seconds(_report("--quarter", "2026-Q5"), env, succeeds=False)),
    }
    (home / "records.csv").write_text("not a workbook\n")
    figures["file_error"] = _median(
        repeat,
        lambda: max(
            _seconds(_report("--source", str(home / "missing.xlsx")), env, succeeds=False),
            _seconds(_report("--source", str(home / "records.csv")), env, succeeds=False),
        ),
    )
    _seconds(_sample(home), env, succeeds=True)  # once unmeasured: creates the Prefect database in the new home
    figures["sample_report"] = _median(repeat, lambda: _seconds(_sample(home), env, succeeds=True))
    return figures


def _sample(home: Path) -> list[str]:
    return _report("--quarter", SAMPLE_QUARTER, "--no-send", "--output-dir", str(home / "out"))


def stack_figures(repeat: int, home: Path, ui: bool) -> dict[str, float]:
    """With the local stack up (`make stack`: server, pool, deployments, worker): the command line
    uses its server; and runs created through the API as the UI's Run button creates them."""
    from prefect.client.orchestration import SyncPrefectClient

    from flows.prefect_api import free_port
    from ops.stack import Stack, running

    stack = Stack(home=home / "stack", port=free_port(), worker_env={"COACHING_STATE_DIR": str(home / "state")})
    figures: dict[str, float] = {}
    totals, flows = [], []
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_clean_env(home))  # what the stack's server and worker inherit
    try:
        with running(stack, say=lambda _: None), SyncPrefectClient(stack.api_url) as client:
            env = _clean_env(home, {"PREFECT_API_URL": stack.api_url})
            figures["sample_report_running_server"] = _median(
                repeat, lambda: _seconds(_sample(home), env, succeeds=True)
            )
            deployment = client.read_deployment_by_name("quarterly_report/quarterly-coaching-report")
            for attempt in range(repeat if ui else 0):
                parameters = {"quarter": SAMPLE_QUARTER, "send": False, "output_dir": str(home / f"ui{attempt}")}
                submitted = time.perf_counter()
                run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
                while not (run.state and run.state.is_final()):
                    if time.perf_counter() - submitted > 600:
                        raise SystemExit(f"the UI run is still {run.state_name} after 600 s; see {stack.home}")
                    time.sleep(0.2)
                    run = client.read_flow_run(run.id)
                totals.append(time.perf_counter() - submitted)
                if not run.state.is_completed():
                    raise SystemExit(f"the UI run ended {run.state_name}; see {stack.log_file('worker')}")
                flows.append((run.end_time - run.start_time).total_seconds())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if totals:
        figures["ui_run_overhead"] = round(statistics.median(t - f for t, f in zip(totals, flows)), 2)
        figures["ui_run_total"] = round(statistics.median(totals), 2)
        figures["ui_run_flow"] = round(statistics.median(flows), 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown (default 3)")
    parser.add_argument("--skip-ui", action="store_true", help="leave out the UI runs")
    args = parser.parse_args(argv)
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="cli-latency-") as folder:
        figures = cli_figures(args.repeat, Path(folder))
        figures.update(stack_figures(args.repeat, Path(folder), ui=not args.skip_ui))
    machine["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]

    for key, value in machine.items():
        print(f"{key:<22}  {value}")
    print()
    print(f"| {'what':<46} | {'median':>8} | {'target':>8} | {'':<7} |")
    print(f"|{'-' * 48}|{'-' * 9}:|{'-' * 9}:|{'-' * 9}|")
    for key, seconds in figures.items():
        target = TARGETS.get(key)
        verdict = "" if target is None else ("met" if seconds <= target else "not met")
        shown_target = f"≤ {target:g} s" if target else ""
        print(f"| {LABELS[key]:<46} | {seconds:>6.2f} s | {shown_target:>8} | {verdict:<7} |")
    print(json.dumps({"machine": machine, "seconds": figures, "repeat": args.repeat}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
