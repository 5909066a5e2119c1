"""The record of delivered reports (adapters/report_history.py), in the embedded SQLite file and in
PostgreSQL (COACHING_LEDGER_URL), through the same engine the ledger uses."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from adapters import report_history
from adapters.report_history import ReportHistory
from coaching.history import quarter_record
from coaching.quarters import Quarter
from coaching.scoring import Targets, score_quarter
from config.settings import load_settings
from config.wiring import build_store_engine
from tests.coaching.report_fixtures import small_tabs, valid_frames


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[ReportHistory]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    engine = build_store_engine(load_settings(state_dir=tmp_path, ledger_url=SecretStr(url) if url else None))
    yield ReportHistory(engine)
    engine.dispose()


def record_of(tabs, quarter: str = "2026-Q3"):
    valid = valid_frames(tabs)
    return quarter_record(valid, score_quarter(valid, Quarter.parse(quarter), Targets()))


def test_what_a_delivered_report_said_reads_back_the_same(store):
    record = record_of(small_tabs())
    store.record(record, "hash-1")
    back = store.as_reported(["2026-Q2", "2026-Q3"])
    assert list(back) == ["2026-Q3"]
    kept = back["2026-Q3"].record
    pd.testing.assert_frame_equal(kept.scorecard, record.scorecard, check_dtype=False)
    pd.testing.assert_frame_equal(kept.log_rows, record.log_rows, check_dtype=False)
    pd.testing.assert_frame_equal(kept.inputs, record.inputs, check_dtype=False)
    assert kept.plan[["program_id", "component", "documented"]].values.tolist() == (
        record.plan[["program_id", "component", "documented"]].values.tolist()
    )
    assert back["2026-Q3"].content_hash == "hash-1" and back["2026-Q3"].version == 1


def test_a_forced_re_send_adds_a_version_and_the_first_one_never_changes(store):
    first = record_of(small_tabs())
    store.record(first, "hash-1")
    tabs = small_tabs()
    del tabs["Coaching Log"][2]
    store.record(record_of(tabs), "hash-2")
    versions = store.versions("2026-Q3")
    assert [(v.version, v.content_hash) for v in versions] == [(1, "hash-1"), (2, "hash-2")]
    pd.testing.assert_frame_equal(versions[0].record.scorecard, first.scorecard, check_dtype=False)
    assert store.as_reported(["2026-Q3"])["2026-Q3"].version == 2  # as reported: the figures last sent


def test_the_schema_is_versioned_and_a_later_migration_runs_once_keeping_the_rows(store, monkeypatch):
    assert store.migrate() == 1
    store.record(record_of(small_tabs()), "hash-1")
    ran = []

    def add_note_column(connection: sa.Connection) -> None:
        ran.append(True)
        connection.execute(sa.text("ALTER TABLE report_versions ADD COLUMN note TEXT"))

    monkeypatch.setattr(report_history, "MIGRATIONS", [*report_history.MIGRATIONS, add_note_column])
    again = ReportHistory(store.engine)
    assert again.migrate() == 2 and again.migrate() == 2 and ran == [True]
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version FROM report_history_schema")).scalar() == 2
    assert again.as_reported(["2026-Q3"])["2026-Q3"].content_hash == "hash-1"
