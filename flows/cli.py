"""What every flow's command line shares: one clear line for a problem a person must fix."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from coaching.records import PipelineError


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
