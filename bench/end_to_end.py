"""What users wait for: the quarterly command on a workbook of N cells, stage by stage.

    python -m bench.end_to_end --cells 1000000 2500000 10000000 [--from xlsx sheets] [--seed 0]

For each size, builds the synthetic workbook (bench/synthetic.py), and runs the real command,
`python -m flows.quarterly_report --source … --no-send --quarter 2026-Q3`, as a process of its own
with no Prefect server configured, so that it starts its temporary server as a user's command does.
Every run uses one Prefect home whose database a first command (on the sample workbook) created
beforehand, as for every run after a user's first; `--first-run` gives each run a new home, so that
its start includes creating Prefect's database:

- from `.xlsx`: the workbook saved as an export (bench/xlsx_export.py);
- from Sheets: the workbook shared in the loopback Google (tests/fakes/google_api.py), its answer
  encoded beforehand (the fake's encoding is not the product's time).

Each run is split into stages that add up to the whole: start (the interpreter, the imports,
Prefect's temporary server, the flow run's creation), read, parse, validate, score (with history
and recommendations), render, deliver (the files and the preview email), Prefect in the run (task
runs, states, artifacts, logs: the flow's time outside every stage), finish (Prefect's end of run,
the server stopping). The command reads and parses its workbook ahead, in a child process, during
its start (adapters/read_ahead.py): "read" is what the run still waits for that, and "parse" what
the run's parse step still takes (microseconds, when the child parsed). Beside them, the core alone
on the same workbook in memory (`bench.pipeline`: parse, validate, score, recommend, render) and its
plain-pandas floor. Prints a table per size, then
one JSON line with every figure. Run the big sizes once: 10 M cells take minutes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.synthetic import QUARTER, synthetic_workbook
from bench.xlsx_export import write_xlsx

PROJECT = Path(__file__).resolve().parents[1]
STAGES = ("start", "read", "parse", "validate", "score", "render", "deliver", "prefect_in_run", "finish")
KEY = "1BenchWorkbookKey0123456789abcdefghijklmnopq"
ACCOUNT = "coaching-bench@agency.iam.gserviceaccount.com"


def breakdown(marks: Mapping[str, object], started: float, ended: float) -> dict[str, float]:
    """The stages of one run from the command's marks (bench/timed_run.py) and the wall-clock
    instants the process was started and ended: they add up to `whole`."""
    seconds = marks["seconds"]
    assert isinstance(seconds, dict)
    run_started, run_ended = float(marks["run_started"]), float(marks["run_ended"])  # type: ignore[arg-type]
    stages = {
        "start": run_started - started,
        **{stage: float(seconds[stage]) for stage in ("read", "parse", "validate", "score", "render", "deliver")},
        "prefect_in_run": float(seconds["run"]),
        "finish": ended - run_ended,
    }
    # Microseconds kept: a parse done ahead leaves the run's own parse a few of them, not nothing.
    return {**{k: round(v, 6) for k, v in stages.items()}, "whole": round(ended - started, 6)}


def run_command(
    source: str, environment: Mapping[str, str], folder: Path, timeout: float | None = None
) -> dict[str, object]:
    """The quarterly command once, as a process; its stages and peak memory."""
    folder.mkdir(parents=True, exist_ok=True)
    marks_path = folder / "marks.json"
    command = [
        sys.executable,
        "-m",
        "bench.timed_run",
        str(marks_path),
        "--",
        "--source",
        source,
        "--no-send",
        "--quarter",
        QUARTER,
        "--output-dir",
        str(folder / "report"),
    ]
    started = time.time()
    finished = subprocess.run(
        command, cwd=PROJECT, env=dict(environment), capture_output=True, text=True, timeout=timeout, check=False
    )
    ended = time.time()
    if finished.returncode != 0 or not marks_path.exists():
        raise RuntimeError(f"the command failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    marks = json.loads(marks_path.read_text())
    return {
        **breakdown(marks, started, ended),
        "peak_rss_mb": marks["peak_rss_mb"],
        "peak_rss_children_mb": marks["peak_rss_children_mb"],
    }


def command_environment(home: Path, prefect_home: Path | None = None, **extra: str) -> dict[str, str]:
    """A run's environment: its own state, no Prefect server configured, and `prefect_home` (by
    default a new one in `home`, as on a user's first run)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COACHING_"))}
    return {
        **environment,
        "PREFECT_HOME": str(prefect_home or home / "prefect"),
        "COACHING_STATE_DIR": str(home / "state"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **extra,
    }


@contextmanager
def shared_sheet(tabs: dict[str, list[list[object]]], home: Path) -> Iterator[dict[str, str]]:
    """The workbook in the loopback Google, its answer encoded once; the command's environment."""
    from adapters.google_sheets import read_params
    from tests.fakes.google_api import FakeGoogle

    with FakeGoogle() as google:
        key_file = home / "service-account.json"
        key_file.write_text(json.dumps(google.new_service_account(ACCOUNT)))
        sheet = google.add_spreadsheet(KEY, "Synthetic", tabs, {ACCOUNT: "reader"}, keep_answers=True)
        tabs.clear()
        google.spreadsheet(KEY, sheet, {name: [value] for name, value in read_params("UNFORMATTED_VALUE").items()})
        yield {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file), "COACHING_SHEETS_API_URL": google.url}


def core_only(cells: int, seed: int) -> dict[str, float]:
    """`bench.pipeline` on the same workbook, in memory, as a process of its own."""
    finished = subprocess.run(
        [sys.executable, "-m", "bench.pipeline", "--cells", str(cells), "--seed", str(seed)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    floor = figures["seconds_floor_parse"] + figures["seconds_floor_validate"] + figures["seconds_floor_score"]
    return {
        "core_seconds": figures["seconds_total"],
        "floor_seconds": round(floor, 3),
        "core_peak_rss_mb": figures["peak_rss_mb"],
    }


def warmed_prefect_home(folder: Path) -> Path:
    """A Prefect home whose database exists: one command on the sample workbook made it."""
    home = folder / "prefect"
    run_command(str(PROJECT / "data" / "sample_workbook.xlsx"), command_environment(folder, home), folder / "first")
    return home


def measure(
    cells: int,
    seed: int,
    sources: tuple[str, ...],
    with_core: bool = True,
    timeout: float | None = None,
    prefect_home: Path | None = None,
) -> dict[str, object]:
    """Every figure for one size of workbook; `timeout` bounds each command; `prefect_home` is the
    runs' Prefect home (default a new one per run)."""
    figures: dict[str, object] = {"cells": cells, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-end-to-end-") as scratch:
        home = Path(scratch)
        synthetic = synthetic_workbook(cells, seed)
        figures["cells"] = synthetic.cells
        workbook = home / "big.xlsx"
        if "xlsx" in sources:
            write_xlsx(synthetic.raw, workbook)
        tabs = {title: tab.rows for title, tab in synthetic.raw.tabs.items()}
        del synthetic
        gc.collect()
        if "xlsx" in sources:
            figures["xlsx"] = run_command(
                str(workbook), command_environment(home / "xlsx", prefect_home), home / "xlsx", timeout
            )
        if "sheets" in sources:
            with shared_sheet(tabs, home) as extra:
                url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
                figures["sheets"] = run_command(
                    url, command_environment(home / "sheets", prefect_home, **extra), home / "sheets", timeout
                )
        del tabs
        gc.collect()
    if with_core:
        figures.update(core_only(cells, seed))
    figures["load_after"] = os.getloadavg()[0]
    return figures


def _table(figures: Mapping[str, object], sources: tuple[str, ...]) -> str:
    lines = [f"{figures['cells']:,} cells (load {figures['load_before']:.1f} → {figures['load_after']:.1f})"]
    lines.append(f"  {'stage':<16}" + "".join(f"{source:>10}" for source in sources))
    for stage in (*STAGES, "whole", "peak_rss_mb", "peak_rss_children_mb"):
        row = "".join(f"{figures[source][stage]:>10.3f}" for source in sources)  # type: ignore[index]
        lines.append(f"  {stage:<16}{row}")
    if "core_seconds" in figures:
        lines.append(
            f"  core only (bench.pipeline) {figures['core_seconds']} s, its floor {figures['floor_seconds']} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[1_000_000, 2_500_000, 10_000_000])
    parser.add_argument("--from", dest="sources", nargs="+", choices=["xlsx", "sheets"], default=["xlsx", "sheets"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-core", action="store_true", help="skip the core-only figure (bench.pipeline)")
    parser.add_argument(
        "--first-run", action="store_true", help="a new Prefect home per run: its start creates Prefect's database"
    )
    args = parser.parse_args(argv)
    sources = tuple(args.sources)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-prefect-home-") as scratch:
        prefect_home = None if args.first_run else warmed_prefect_home(Path(scratch))
        for cells in args.cells:
            figures = measure(cells, args.seed, sources, with_core=not args.no_core, prefect_home=prefect_home)
            print(_table(figures, sources), flush=True)
            results.append(figures)
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "prefect_home": "new per run" if args.first_run else "created beforehand",
                "runs": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
