"""Reading and checking the records."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import opaque

from adapters.sources import RecordSource
from coaching.quarterly import check_records
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, RawWorkbook
from config.settings import Settings


# No Prefect retries here: the Sheets adapter retries 408/429/5xx itself, bounded and honouring
# Retry-After, and never retries a 4xx; a second layer of retries would multiply the waits.
# Tasks that take or return the records keep them in memory only: no cache key (hashing millions of
# cells), no result persisted (serialising them).
@task(name="extract", cache_policy=NO_CACHE, persist_result=False)
def extract_records(source: RecordSource) -> RawWorkbook:
    return source.read()


def validate_records(raw: RawWorkbook, settings: Settings, quarter: Quarter, run_date: dt.date) -> CheckedRecords:
    """The validate task, given the workbook as `opaque`: Prefect still links the task to the extract
    that made the workbook (the run's graph in the UI), but does not walk its cells looking for
    futures, twice per task run (about 10 s each per 2.4 million cells, idle)."""
    return _validate_records(opaque(raw), settings, quarter, run_date)  # type: ignore[arg-type]


@task(name="validate", cache_policy=NO_CACHE, persist_result=False)
def _validate_records(raw: RawWorkbook, settings: Settings, quarter: Quarter, run_date: dt.date) -> CheckedRecords:
    reading = settings.reading_options()
    return check_records(
        raw,
        reading.titles,
        date_format=reading.date_format,
        run_date=run_date,
        quarter=quarter,
        max_error_share=settings.quality.max_error_share,
        min_log_volume_ratio=settings.quality.min_log_volume_ratio,
        columns=reading.columns,
    )
