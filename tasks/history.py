"""Reading and keeping the record of delivered reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.mailers import build_mime_message
from adapters.report_history import ReportHistory
from coaching.email import OutgoingEmail
from coaching.history import History, history_frame, quarter_record, reconcile
from coaching.outputs import csv_bytes
from coaching.scoring import QuarterScores, Targets


@task(name="read-report-history", cache_policy=NO_CACHE)
def reconcile_history(
    store: ReportHistory, valid: Mapping[str, pd.DataFrame], recomputed: Sequence[QuarterScores], targets: Targets
) -> History:
    """Today's scores beside what the delivered reports of the same quarters said."""
    as_reported = store.as_reported([scores.quarter.label for scores in recomputed])
    return reconcile(valid, recomputed, as_reported, targets)


@task(name="record-delivered-report", cache_policy=NO_CACHE)
def record_delivery(
    store: ReportHistory, valid: Mapping[str, pd.DataFrame], history: History, content_hash: str
) -> History:
    """Keep what the delivered report said; the history with its quarter now as reported."""
    return history.delivered(store.record(quarter_record(valid, history.current), content_hash))


@task(name="write-history-csv", cache_policy=NO_CACHE)
def write_history_csv(folder: Path, history: History) -> Path:
    path = folder / "history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(history_frame(history)))
    return path


@task(name="write-preview", cache_policy=NO_CACHE)
def write_preview(folder: Path, email: OutgoingEmail) -> Path:
    """The email that would go, as an .eml file beside the report: nothing is sent or recorded."""
    path = folder / f"preview-{email.kind}-{email.period}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(build_mime_message(email)))
    return path
