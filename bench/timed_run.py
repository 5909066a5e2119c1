"""The quarterly report command, exactly as users run it, with a clock on each stage of the run.

    python -m bench.timed_run MARKS.json -- --source big.xlsx --no-send --quarter 2026-Q3 …

Runs `flows.cli.quarterly_report_command` (what `python -m flows.quarterly_report` runs) and, once
the flow module is imported, wraps the bodies of its tasks and the core's parser in a clock, so
that Prefect's own work stays outside them. Each stage's time is exclusive: the parser runs inside
the validate task, and counts as parse only. When the command ends, MARKS.json gets the seconds per
stage, the wall-clock instants (time.time) when the flow's body started and ended, the process's
peak memory (and its largest child's that has ended) and its exit code; bench/end_to_end.py turns
them into the stage breakdown.
"""

from __future__ import annotations

import functools
import json
import resource
import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

# Stage -> the functions whose time is the stage's: (module, attribute path). "run" is the flow's
# body once its adapters are built: what it spends outside every other stage is Prefect's work
# inside the run (task runs, states, artifacts, logs) and the flow's own glue. (The flow function
# itself cannot be wrapped: Prefect validates its parameters against its own annotations.)
STAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "run": (("flows.quarterly_report", "_report"),),
    "read": (("tasks.records", "extract_records.fn"),),
    "parse": (("coaching.quarterly", "parse_workbook"),),
    "validate": (("tasks.records", "_validate_records.fn"),),
    "score": (
        ("flows.quarterly_report", "score_quarters"),  # plain functions: where the flow looks them up
        ("tasks.history", "reconcile_history.fn"),
        ("flows.quarterly_report", "recommend_actions"),
    ),
    "render": (("flows.quarterly_report", "render_quarterly_report"),),
    "deliver": (
        ("tasks.report", "write_files.fn"),
        ("flows.quarterly_report", "_preview"),
        ("tasks.delivery", "deliver_email.fn"),
    ),
}


class Clock:
    """Exclusive seconds per stage: a stage called inside another counts for itself only."""

    def __init__(self) -> None:
        self.seconds = {stage: 0.0 for stage in STAGES}
        self.run_started: float | None = None
        self.run_ended: float | None = None
        self._inner: list[float] = []  # per open stage, the seconds of the stages inside it

    def timed(self, stage: str, work: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(work)
        def clocked(*args: Any, **kwargs: Any) -> Any:
            if stage == "run":
                self.run_started = time.time()
            start = time.perf_counter()
            self._inner.append(0.0)
            try:
                return work(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[stage] += elapsed - self._inner.pop()
                if self._inner:
                    self._inner[-1] += elapsed
                if stage == "run":
                    self.run_ended = time.time()

        return clocked

    def install(self) -> None:
        for stage, places in STAGES.items():
            for module_name, path in places:
                owner: Any = import_module(module_name)
                *parents, name = path.split(".")
                for parent in parents:
                    owner = getattr(owner, parent)
                setattr(owner, name, self.timed(stage, getattr(owner, name)))


def main(argv: list[str]) -> int:
    marks_path, command_args = Path(argv[0]), argv[argv.index("--") + 1 :]
    import flows.cli

    clock = Clock()
    original_import = flows.cli.import_module

    def import_and_clock(name: str) -> ModuleType:  # the command imports its flow after starting the server
        module = original_import(name)
        clock.install()
        return module

    flows.cli.import_module = import_and_clock  # type: ignore[assignment]

    def command() -> int:
        code = flows.cli.quarterly_report_command(command_args)
        marks_path.write_text(
            json.dumps(
                {
                    "seconds": clock.seconds,
                    "run_started": clock.run_started,
                    "run_ended": clock.run_ended,
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    # the largest child that ended: the read ahead, or the temporary server once stopped
                    "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                    "exit_code": code,
                }
            )
        )
        return code

    flows.cli.run_as_main(command)


if __name__ == "__main__":
    main(sys.argv[1:])
