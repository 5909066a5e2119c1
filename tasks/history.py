"""Reading and keeping the record of delivered reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.report_history import ReportHistory
from coaching.history import History, quarter_record, reconcile
from coaching.scoring import QuarterScores, Targets


@task(name="read-report-history", cache_policy=NO_CACHE, persist_result=False)
def reconcile_history(
    store: ReportHistory, valid: Mapping[str, pd.DataFrame], recomputed: Sequence[QuarterScores], targets: Targets
) -> History:
    """Today's scores beside what the delivered reports of the same quarters said."""
    as_reported = store.as_reported([scores.quarter.label for scores in recomputed])
    return reconcile(valid, recomputed, as_reported, targets)


@task(name="record-delivered-report", cache_policy=NO_CACHE, persist_result=False)
def record_delivery(
    store: ReportHistory, valid: Mapping[str, pd.DataFrame], history: History, content_hash: str
) -> History:
    """Keep what the delivered report said; the history with its quarter now as reported."""
    return history.delivered(store.record(quarter_record(valid, history.current), content_hash))
