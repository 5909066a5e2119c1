"""Reading and checking the records."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.sources import RecordSource
from coaching.quarterly import check_records
from coaching.quarters import Quarter
from coaching.records import CheckedRecords, RawWorkbook
from config.settings import Settings


# No Prefect retries here: the Sheets adapter retries 408/429/5xx itself, bounded and honouring
# Retry-After, and never retries a 4xx; a second layer of retries would multiply the waits.
@task(name="extract", cache_policy=NO_CACHE)
def extract_records(source: RecordSource) -> RawWorkbook:
    return source.read()


@task(name="validate", cache_policy=NO_CACHE)
def validate_records(
    raw: RawWorkbook, settings: Settings, quarter: Quarter, run_date: dt.date
) -> CheckedRecords:
    return check_records(
        raw,
        settings.tabs.model_dump(),
        date_format=settings.date_format,
        run_date=run_date,
        quarter=quarter,
        max_error_share=settings.quality.max_error_share,
        min_log_volume_ratio=settings.quality.min_log_volume_ratio,
        columns=settings.columns,
    )
