"""What GX's public API would cost in validation: `ValidationDefinition.run` against GX's own
`Validator` class built directly (not public API), which is what coaching/validation.py uses.

    python -m bench.gx_api [--cells 1000000] [--repeats 3]

Validates the same parsed synthetic workbook (bench/synthetic.py) both ways, alternating, and prints
each run's wall and CPU seconds (CPU time is what to compare on a busy machine: it leaves out the
waits for a core), then the medians and the difference as a share of the validation time, and as its
last line one JSON object. Both ways must find the same issues. No Prefect, no network, no files.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuite, ExpectationSuiteValidationResult

from bench.synthetic import RUN_DATE, synthetic_workbook
from coaching import validation
from coaching.parsing import parse_workbook
from coaching.records import CheckedRecords, ParsedWorkbook


def public_runner() -> validation.SuiteRunner:
    """`validation.suite_runner` through GX's public API: the same context and settings, a validation
    definition of the suite on the frame (GX stores the suite, the definition and the result)."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    source = context.data_sources.add_pandas("coaching_records")

    def run(checked: pd.DataFrame, parameters: dict[str, object]) -> validation.FrameCheck:
        def check(suite: ExpectationSuite, result_format: dict[str, object]) -> ExpectationSuiteValidationResult:
            batch_definition = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("all rows")
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=context.suites.add(suite))
            )
            return definition.run(
                batch_parameters={"dataframe": checked},
                expectation_parameters=parameters,
                result_format=result_format,
            )

        return check

    return run


@contextmanager
def _runner(make: Callable[[], validation.SuiteRunner]) -> Iterator[None]:
    """Validate with `make`'s runner for the duration (the one call the two ways differ in)."""
    used = validation.suite_runner
    validation.suite_runner = make
    try:
        yield
    finally:
        validation.suite_runner = used


def _timed(parsed: ParsedWorkbook, make: Callable[[], validation.SuiteRunner]) -> tuple[float, float, CheckedRecords]:
    """(wall seconds, CPU seconds of this process, what validation found)."""
    with _runner(make):
        wall, cpu = time.perf_counter(), time.process_time()
        checked = validation.validate_records(parsed, RUN_DATE)
        return time.perf_counter() - wall, time.process_time() - cpu, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    parsed = parse_workbook(synthetic_workbook(args.cells).raw, {}, "M/D/YYYY")
    _timed(parsed, validation.suite_runner)  # warm-up: imports, GX's caches
    seconds: dict[str, list[float]] = {"public": [], "internal": []}
    cpu_seconds: dict[str, list[float]] = {"public": [], "internal": []}
    found: dict[str, CheckedRecords] = {}
    for _ in range(args.repeats):
        for name, make in (("public", public_runner), ("internal", validation.suite_runner)):
            wall, cpu, found[name] = _timed(parsed, make)
            seconds[name].append(round(wall, 3))
            cpu_seconds[name].append(round(cpu, 3))
            print(f"{name:9} {wall:7.3f} s wall {cpu:7.3f} s CPU")
    if found["public"].issues != found["internal"].issues:
        print("error: the two ways found different issues", file=sys.stderr)
        return 1
    public, internal = statistics.median(seconds["public"]), statistics.median(seconds["internal"])
    share = (public - internal) / internal
    public_cpu, internal_cpu = statistics.median(cpu_seconds["public"]), statistics.median(cpu_seconds["internal"])
    cpu_share = (public_cpu - internal_cpu) / internal_cpu
    print(f"median wall: ValidationDefinition.run {public:.3f} s, Validator {internal:.3f} s: {share:+.1%}")
    print(f"median CPU:  ValidationDefinition.run {public_cpu:.3f} s, Validator {internal_cpu:.3f} s: {cpu_share:+.1%}")
    print(
        json.dumps(
            {
                "cells": args.cells,
                "issues": len(found["public"].issues),
                "seconds_public": seconds["public"],
                "seconds_internal": seconds["internal"],
                "median_public": public,
                "median_internal": internal,
                "public_over_internal": round(share, 4),
                "cpu_seconds_public": cpu_seconds["public"],
                "cpu_seconds_internal": cpu_seconds["internal"],
                "cpu_public_over_internal": round(cpu_share, 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
