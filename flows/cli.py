"""The flows' command lines, and what every flow shares: one clear line for a problem a person must
fix, and run names.

A command parses and checks its arguments with the standard library and the light part of the
core (settings, quarter and month labels, the workbook's path), picks the Prefect server, and only
then imports its flow, and with it Prefect and Great Expectations (seconds on a small machine):
`--help` and a wrong argument answer at once, and a temporary server starts while the flow imports.
Each flow module hands its `__main__` to this module before its own imports.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from flows.prefect_api import PrefectUnavailable, prefect_api

if TYPE_CHECKING:
    from config.settings import Settings

SOURCE_HELP = "an .xlsx export, or a Google Sheets URL or key (default: COACHING_SOURCE or the sample workbook)"


class _HideTracebackOfPipelineErrors(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; for a PipelineError the message is
    the whole story (a bad quarter, a missing tab), so the traceback is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            from coaching.records import PipelineError  # loaded already: a run is under way

            fault = record.exc_info[1]
            if isinstance(fault, PipelineError) or (fault is not None and _prefect_api_failed(fault)):
                record.exc_info = None
                record.exc_text = None
        return True


_QUIET = _HideTracebackOfPipelineErrors()


def hide_tracebacks_of_pipeline_errors() -> None:
    """Log a PipelineError as its message alone, here and in the Prefect UI (idempotent)."""
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect"):
        logging.getLogger(name).addFilter(_QUIET)  # adding the same filter twice keeps one


# Python looks for reference cycles after every 700 new objects; reading a big workbook creates
# millions (the rows' lists, their cells) and none of them in cycles, so the default spends about a
# sixth of the read, parse and check on passes that find nothing (0.9 s of 5.4 s CPU at 2.4 M cells).
GC_NEW_OBJECTS_BETWEEN_PASSES = 100_000


def collect_cycles_less_often() -> None:
    """Set this process's garbage collector for runs that hold whole workbooks (idempotent).

    Also, no last pass over the whole heap when the process ends: Python's shutdown walks every
    object left (those of Prefect, Great Expectations and pandas: 1.1 CPU s for each deployed run's
    process, which ends normally), only to find what the ending process frees anyway. Frozen at exit,
    after the run, so a long-lived process (a network part's many agencies) still collects as it goes."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_NEW_OBJECTS_BETWEEN_PASSES, older, oldest)
    atexit.unregister(gc.freeze)  # registered once however many runs the process holds
    atexit.register(gc.freeze)


def run_command(run: Callable[[], object]) -> int:
    """Run a flow from the command line; a PipelineError ends with `error: …` and exit code 2, and
    so does a Prefect server that cannot be started."""
    from coaching.records import PipelineError

    hide_tracebacks_of_pipeline_errors()
    try:
        run()
    except (PipelineError, PrefectUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _prefect_api_failed(exc):
            raise
        _api_gone.append(True)
        print(
            f"error: the Prefect server at {os.environ.get('PREFECT_API_URL') or 'PREFECT_API_URL'} stopped answering "
            f"during the run ({type(exc).__name__}: {_first_line(exc)}). What was sent is in the delivery ledger: "
            "python -m ops.deliveries list; a re-run sends nothing twice.",
            file=sys.stderr,
        )
        return 2
    return 0


def _prefect_api_failed(exc: BaseException) -> bool:
    """The Prefect API could not be reached, or answered with a server error."""
    if "httpx" not in sys.modules:
        return False
    import httpx

    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def check_deployed_run_paths(
    settings: Settings, source: str | None, output_dir: str | None, registry: str | None = None
) -> None:
    """A run started from a deployment takes its `source`, `output_dir` (and a network's `registry`)
    from the Run form, which anyone who reaches the UI can fill in: it reads only the configured
    source (the configured sheet, or a workbook in the configured workbook's folder) and the
    configured registry, and writes only inside `reports_dir`. Every refused field is named at once,
    so one correction of the form is enough. A command-line run is its user's own: not checked."""
    from prefect.runtime import deployment

    from coaching.records import UsageError
    from config.registry import registry_path

    if deployment.id is None:
        return
    refusals = [_source_refusal(settings.source, source)]
    if registry and registry_path(registry).resolve() != registry_path().resolve():
        refusals.append(
            f"registry '{registry}' is refused: a run from the UI reads only the configured registry "
            f"{registry_path().resolve()} (COACHING_REGISTRY). Leave registry empty."
        )
    if output_dir and not _inside(Path(output_dir), settings.reports_dir):
        refusals.append(
            f"output_dir '{output_dir}' is refused: a run from the UI writes only inside "
            f"{settings.reports_dir.resolve()} (reports_dir, COACHING_REPORTS_DIR). Give a folder in it, or none."
        )
    if any(refusals):
        raise UsageError(" ".join(refusal for refusal in refusals if refusal))


def _source_refusal(configured: str, source: str | None) -> str | None:
    """Why a Run form's `source` is refused (see check_deployed_run_paths), if it is."""
    from adapters.google_sheets import spreadsheet_key_from

    if not source or source.strip() == configured.strip():
        return None
    if spreadsheet_key_from(configured) is not None or spreadsheet_key_from(source) is not None:
        if spreadsheet_key_from(source) == spreadsheet_key_from(configured):
            return None
        return (
            f"source '{source}' is refused: a run from the UI reads only the configured sheet "
            "(COACHING_SOURCE or source in config/settings.yaml). Leave source empty."
        )
    if _inside(Path(source), Path(configured).parent) and Path(source).suffix.lower() == ".xlsx":
        return None
    return (
        f"source '{source}' is refused: a run from the UI reads only .xlsx workbooks in "
        f"{Path(configured).parent.resolve()} (the folder of the configured workbook). Leave source empty."
    )


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def run_name(prefix: str, parameter: str, resolve: Callable[[object], object]) -> str:
    """Runs are named after what they do ("quarterly-2026-Q3"): `resolve` turns the run's
    parameter into the period it covers. A value it refuses names the run "<prefix>-invalid-<value>";
    the run itself then fails at once, saying why."""
    from prefect.runtime import flow_run

    from coaching.records import UsageError

    asked = flow_run.parameters.get(parameter)
    try:
        return f"{prefix}-{resolve(asked)}"
    except UsageError:
        return f"{prefix}-invalid-{asked}"


_exit_code: list[int] = []
_api_gone: list[bool] = []  # the Prefect server stopped answering: nothing left to report to it


def _end_without_teardown() -> None:
    if _exit_code:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_code[0])


def run_as_main(command: Callable[[], int]) -> NoReturn:
    """`python -m flows.<name>`: run the command, and once the other exit handlers have run (Prefect's
    among them), end the process without tearing down each loaded module one by one (about a
    second with pandas, Great Expectations and Prefect loaded). Registered before Prefect is
    imported, the handler runs last. When the Prefect server stopped answering, the process ends
    at once (the `error:` line said so)."""
    atexit.register(_end_without_teardown)
    code = command()  # argparse's exits and any traceback take the usual way out
    _exit_code.append(code)
    if _api_gone:  # Prefect's exit handlers would retry the gone server for a minute, logging each try
        _end_without_teardown()
    raise SystemExit(code)


# --- the three commands ---------------------------------------------------------------------------


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"python -m flows.{command}", description=description)


def _sending_options(parser: argparse.ArgumentParser, output_dir: str, no_send: str, force_resend: str) -> None:
    parser.add_argument("--output-dir", help=output_dir)
    parser.add_argument("--no-send", action="store_true", help=no_send)
    parser.add_argument("--force-resend", action="store_true", help=force_resend)


def _sending_parameters(args: argparse.Namespace) -> dict[str, object]:
    """The flow parameters every command has."""
    return {
        "source": args.source,
        "send": not args.no_send,
        "force_resend": args.force_resend,
        "output_dir": args.output_dir,
    }


def _check_source(source: str | None, settings: Settings) -> None:
    """The workbook to read (`source` or the configured one) must be a readable file; a Google
    Sheets reference is checked when the run reads it."""
    from adapters.google_sheets import spreadsheet_key_from
    from adapters.sources import check_readable_workbook

    reference = source or settings.source
    if spreadsheet_key_from(reference) is None:
        check_readable_workbook(Path(reference))


@contextmanager
def _flow(name: str, read_ahead: AbstractContextManager[None] | None = None) -> Iterator[Callable[..., Any]]:
    """The flow `name` of `flows.<name>`, with a Prefect server to record its run in; `read_ahead`
    (config.wiring.reading_ahead) starts reading the run's source once the server is starting, so
    that both go on while the flow imports."""
    collect_cycles_less_often()  # before a read ahead forks: the child reads the workbook
    with prefect_api() as temporary_server, read_ahead or nullcontext():
        flow = getattr(import_module(f"flows.{name}"), name)
        if temporary_server is None:
            yield flow
            return
        temporary_server.wait_until_ready()
        with without_heartbeats():  # a temporary server ends with this process: nothing would read them
            yield flow


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started inside the block send no heartbeats. A heartbeat lets a lasting server mark
    a run whose process died as crashed; but each run's end waits up to a second for its heartbeat
    thread (Prefect 3.9's sleeps in one-second steps), for every run, subflows included."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _run_flow(
    name: str,
    args: argparse.Namespace,
    show: Callable[[Any], None],
    check_period: Callable[[Settings], None] = lambda settings: None,
    **parameters: object,
) -> int:
    """Check the period and the source, then run the flow `name` with the command's parameters and
    show its result; a problem a person must fix ends with one `error:` line (run_command)."""

    def run() -> None:
        from config.settings import load_settings

        settings = load_settings()
        check_period(settings)
        _check_source(args.source, settings)
        from config.wiring import reading_ahead

        with _flow(name, reading_ahead(settings, args.source)) as flow:
            show(flow(**parameters, **_sending_parameters(args)))

    return run_command(run)


def _check_quarter(asked: str | None) -> Callable[[Settings], None]:
    def check(settings: Settings) -> None:
        from coaching.quarters import Quarter
        from coaching.records import UsageError

        if asked and asked.strip():  # as the flow will read it (resolve_quarter)
            try:
                Quarter.parse(asked, settings.fiscal_year_start_month)
            except ValueError as exc:
                raise UsageError(str(exc)) from None

    return check


def _check_month(asked: str | None) -> Callable[[Settings], None]:
    def check(settings: Settings) -> None:
        from coaching.nudges import resolve_month

        resolve_month(asked, settings.today())

    return check


def quarterly_report_command(argv: list[str] | None = None) -> int:
    parser = _parser("quarterly_report", "Build and send the quarterly coaching-effectiveness report.")
    parser.add_argument("--source", help=SOURCE_HELP)
    parser.add_argument("--quarter", help="YYYY-Qn (default: the last completed quarter)")
    _sending_options(
        parser,
        output_dir="where to write the files (default: reports/<quarter>/; reports/ is COACHING_REPORTS_DIR when set)",
        no_send="write the files and a preview .eml, but send and record nothing",
        force_resend="send even if this report was already sent",
    )
    args = parser.parse_args(argv)

    def show(result: Any) -> None:
        print(f"{result.quarter}: report written to {result.output_dir / 'report.html'}")
        print(result.delivery)

    return _run_flow("quarterly_report", args, show, _check_quarter(args.quarter), quarter=args.quarter)


def monthly_nudge_command(argv: list[str] | None = None) -> int:
    parser = _parser(
        "monthly_nudge", "Email each program's coaching lead a short nudge about the last month's coaching."
    )
    parser.add_argument("--month", help="YYYY-MM (default: the last completed month)")
    parser.add_argument("--source", help=SOURCE_HELP)
    _sending_options(
        parser,
        output_dir="where the outbox goes (default: reports/nudges/<month>/; reports/ is COACHING_REPORTS_DIR when set)",
        no_send="write each nudge that would go as a preview .eml, but send and record nothing",
        force_resend="send even if a nudge was already sent",
    )
    args = parser.parse_args(argv)

    def show(result: Any) -> None:
        print(result.summary)
        for outcome in result.outcomes:
            print(outcome.line)

    return _run_flow("monthly_nudge", args, show, _check_month(args.month), month=args.month)


def data_quality_command(argv: list[str] | None = None) -> int:
    parser = _parser("data_quality", "Check the coaching records and email the data stewards what to fix.")
    parser.add_argument("--source", help=SOURCE_HELP)
    _sending_options(
        parser,
        output_dir="where to write data_quality.csv (default: reports/data-quality/<run date>/; reports/ is COACHING_REPORTS_DIR when set)",
        no_send="write data_quality.csv and a preview .eml of the notice, but send and record nothing",
        force_resend="send even if nothing changed since the last notice",
    )
    args = parser.parse_args(argv)

    def show(result: Any) -> None:
        print(
            f"{result.run_date}: {result.errors} errors and {result.warnings} warnings; "
            f"{result.output_dir / 'data_quality.csv'} written"
        )
        print(result.delivery)

    return _run_flow("data_quality", args, show)


def network_report_command(argv: list[str] | None = None) -> int:
    """Exit 0 when every agency's report was delivered (or already had been, or sending was off);
    1 with one line per agency that needs a person; 2 for a problem with the command itself."""
    parser = _parser("network_report", "Every agency's quarterly report, then the network's roll-up for the centre.")
    parser.add_argument(
        "--registry", help="the registry of agencies (default: COACHING_REGISTRY or config/agencies.yaml)"
    )
    parser.add_argument("--quarter", help="YYYY-Qn (default: the last completed quarter)")
    parser.add_argument("--agencies", help="ID,ID,… run these agencies only (default: every agency)")
    _sending_options(
        parser,
        output_dir="where to write the files (default: reports/network/<quarter>/, a folder per agency in it; reports/ is COACHING_REPORTS_DIR when set)",
        no_send="write the files and preview .eml files, but send and record nothing",
        force_resend="send even what was already sent (with --agencies, to those agencies alone)",
    )
    args = parser.parse_args(argv)
    agencies = [part.strip() for part in (args.agencies or "").split(",") if part.strip()] or None
    needing: list[str] = []

    def run() -> None:
        from config.registry import load_registry, registry_path
        from config.settings import load_settings

        settings = load_settings()
        _check_quarter(args.quarter)(settings)
        load_registry(registry_path(args.registry), settings).select(agencies)  # refused before any server starts
        with _flow("network_report") as flow:
            state = flow(
                quarter=args.quarter,
                registry=args.registry,
                agencies=agencies,
                send=not args.no_send,
                force_resend=args.force_resend,
                output_dir=args.output_dir,
                return_state=True,
            )
        result = state.result(raise_on_failure=False)
        if not hasattr(result, "runs"):  # the network run itself failed: its own error
            state.result()
        for run in result.runs:
            print(f"{run.agency_id}: {run.outcome.value}")
        print(f"Roll-up: {result.output_dir / 'network_report.html'}. {result.delivery}")
        for run in result.needing_a_person:
            needing.append(f"needs a person: {run.agency_name} ({run.agency_id}): {run.outcome.value}. {run.detail}")

    code = run_command(run)
    for line in needing:
        print(line, file=sys.stderr)
    return code or (1 if needing else 0)
