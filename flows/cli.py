"""What every flow shares: one clear line for a problem a person must fix, and run names."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from coaching.records import PipelineError, UsageError


class _HideTracebackOfPipelineErrors(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; for a PipelineError the message is
    the whole story (a bad quarter, a missing tab), so the traceback is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PipelineError):
            record.exc_info = None
            record.exc_text = None
        return True


_QUIET = _HideTracebackOfPipelineErrors()


def hide_tracebacks_of_pipeline_errors() -> None:
    """Log a PipelineError as its message alone, here and in the Prefect UI (idempotent)."""
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect"):
        logging.getLogger(name).addFilter(_QUIET)  # adding the same filter twice keeps one


def run_command(run: Callable[[], object]) -> int:
    """Run a flow from the command line; a PipelineError ends with `error: …` and exit code 2."""
    hide_tracebacks_of_pipeline_errors()
    try:
        run()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_name(prefix: str, parameter: str, resolve: Callable[[object], object]) -> str:
    """Runs are named after what they do ("quarterly-2026-Q3"): `resolve` turns the run's
    parameter into the period it covers. A value it refuses names the run "<prefix>-invalid-<value>";
    the run itself then fails at once, saying why."""
    from prefect.runtime import flow_run

    asked = flow_run.parameters.get(parameter)
    try:
        return f"{prefix}-{resolve(asked)}"
    except UsageError:
        return f"{prefix}-invalid-{asked}"
