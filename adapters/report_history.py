"""The record of what each delivered quarterly report said, beside the delivery ledger.

SQLAlchemy Core with portable types only, so the same tables live in the ledger's SQLite file or in
PostgreSQL. Rows are only ever inserted: a delivered version never changes, and a forced re-send
of changed figures adds the next version of the quarter. A report whose content is the quarter's
latest version already (two runs that delivered it at the same time, a re-send of the same figures)
is kept once. The schema carries its version in `report_history_schema`;
`MIGRATIONS` are applied in order, each in the same transaction as the version it brings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.store import database_answering, hold_lock
from coaching.history import PLAN_COLUMNS, QuarterRecord, ReportedVersion
from coaching.scoring import EVIDENCE_COLUMNS, SCORECARD_COLUMNS

metadata = sa.MetaData()

schema_version = sa.Table(
    "report_history_schema",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)
versions = sa.Table(
    "report_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quarter", sa.String(7), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("delivered_at", sa.String(32), nullable=False),  # ISO 8601 UTC: the same text on every database
    sa.UniqueConstraint("quarter", "version", name="report_versions_quarter_version"),
)


def _reported(name: str, *columns: sa.Column[Any]) -> sa.Table:
    """A table of one part of a delivered version: its rows point at the version they belong to."""
    version_id = sa.Column("version_id", sa.Integer, sa.ForeignKey("report_versions.id"), nullable=False, index=True)
    return sa.Table(name, metadata, version_id, *columns)


scores = _reported(
    "reported_scores",
    sa.Column("program_id", sa.Text, nullable=False),
    sa.Column("program_name", sa.Text, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in SCORECARD_COLUMNS[2:7]),
    sa.Column("percent", sa.Float, nullable=False),
    sa.Column("monthly_coverage", sa.Float),
    sa.Column("multi_source_rate", sa.Float),
    *(sa.Column(name, sa.Integer, nullable=False) for name in SCORECARD_COLUMNS[10:]),
    sa.Column("evidence", sa.Text, nullable=False),  # the scorecard's further columns, as JSON
)
plan_rows = _reported(
    "reported_plan_rows",
    sa.Column("program_id", sa.Text, nullable=False),
    sa.Column("component", sa.Text, nullable=False),
    sa.Column("documented", sa.Boolean, nullable=False),
    sa.Column("document_url", sa.Text),
    sa.Column("last_reviewed", sa.String(10)),
)
log_rows = _reported(
    "reported_log_rows",
    sa.Column("program_id", sa.Text, nullable=False),
    sa.Column("session_id", sa.Text, nullable=False),
    sa.Column("staff_id", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(16), nullable=False),
)
inputs = _reported(
    "reported_inputs",
    sa.Column("tab", sa.Text, nullable=False),
    sa.Column("program_id", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(16), nullable=False),
)
_EVIDENCE = [c for c in EVIDENCE_COLUMNS if c != "program_name"]


def _create_version_1(connection: Connection) -> None:
    metadata.create_all(connection, tables=[versions, scores, plan_rows, log_rows, inputs])


# Append only: a released migration is never edited, the next one follows it.
MIGRATIONS: list[Callable[[Connection], None]] = [_create_version_1]


class ReportHistory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._migrated = False

    def migrate(self) -> int:
        """Bring the tables to the newest schema; the schema version reached."""
        with database_answering(self.engine, lambda: "Nothing was sent."), self.engine.begin() as connection:
            hold_lock(connection, "report-history-schema")  # workers starting together migrate once
            metadata.create_all(connection, tables=[schema_version])
            current = connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(connection)
                connection.execute(schema_version.delete())
                connection.execute(schema_version.insert().values(version=number))
        self._migrated = True
        return len(MIGRATIONS)

    def _ready(self) -> None:
        if not self._migrated:
            self.migrate()

    def record(self, record: QuarterRecord, content_hash: str, delivered_at: datetime | None = None) -> ReportedVersion:
        """Keep a delivered report: the quarter's next version, in one transaction; the latest version
        itself when it has the same content (`content_hash`)."""
        self._ready()
        when = (delivered_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        unkept = (
            f"The report for {record.quarter} was delivered (the delivery ledger has it), but what it said was not "
            "kept in the record of reported quarters: the next run of the quarter keeps it."
        )
        with database_answering(self.engine, lambda: unkept), self.engine.begin() as connection:
            hold_lock(connection, f"report-history-{record.quarter}")  # two deliveries: versions 1 and 2
            newest = connection.execute(
                sa.select(versions)
                .where(versions.c.quarter == record.quarter)
                .order_by(versions.c.version.desc())
                .limit(1)
            ).first()
            if newest is not None and newest.content_hash == content_hash:
                return self._load(connection, newest)
            latest = newest.version if newest is not None else 0
            version_id = connection.execute(
                versions.insert()
                .values(quarter=record.quarter, version=latest + 1, content_hash=content_hash, delivered_at=when)
                .returning(versions.c.id)
            ).scalar_one()
            card = record.scorecard[SCORECARD_COLUMNS[1:] + ["program_name"]].assign(
                evidence=[
                    json.dumps({c: _json(v) for c, v in row.items()})
                    for row in record.scorecard[_EVIDENCE].to_dict("records")
                ]
            )
            self._insert(connection, scores, version_id, card)
            self._insert(
                connection,
                plan_rows,
                version_id,
                record.plan.assign(
                    documented=record.plan["documented"].astype(bool),
                    last_reviewed=record.plan["last_reviewed"].map(lambda d: None if pd.isna(d) else f"{d:%Y-%m-%d}"),
                ),
            )
            self._insert(connection, log_rows, version_id, record.log_rows)
            self._insert(connection, inputs, version_id, record.inputs)
        return ReportedVersion(record, latest + 1, when, content_hash)

    @staticmethod
    def _insert(connection: Connection, table: sa.Table, version_id: int, frame: pd.DataFrame) -> None:
        if len(frame):
            rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            connection.execute(
                table.insert(), [{"version_id": version_id, **{str(k): v for k, v in row.items()}} for row in rows]
            )

    def versions(self, quarter: str) -> list[ReportedVersion]:
        """Every delivered version of a quarter's report, oldest first."""
        self._ready()
        with database_answering(self.engine, lambda: ""), self.engine.connect() as connection:
            found = connection.execute(
                sa.select(versions).where(versions.c.quarter == quarter).order_by(versions.c.version)
            ).all()
            return [self._load(connection, row) for row in found]

    def as_reported(self, quarters: Sequence[str]) -> dict[str, ReportedVersion]:
        """The latest delivered version of each of `quarters` that was ever delivered."""
        self._ready()
        latest = (
            sa.select(versions.c.quarter, sa.func.max(versions.c.version).label("version"))
            .where(versions.c.quarter.in_(list(quarters)))
            .group_by(versions.c.quarter)
            .subquery()
        )
        with database_answering(self.engine, lambda: "Nothing was sent."), self.engine.connect() as connection:
            found = connection.execute(
                sa.select(versions).join(
                    latest, sa.and_(versions.c.quarter == latest.c.quarter, versions.c.version == latest.c.version)
                )
            ).all()
            return {row.quarter: self._load(connection, row) for row in found}

    @staticmethod
    def _frame(connection: Connection, table: sa.Table, version_id: int) -> pd.DataFrame:
        columns = [c for c in table.columns if c.name != "version_id"]
        rows = connection.execute(sa.select(*columns).where(table.c.version_id == version_id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in columns])

    def _load(self, connection: Connection, row: sa.Row[Any]) -> ReportedVersion:
        card = self._frame(connection, scores, row.id)
        evidence = pd.DataFrame([json.loads(text) for text in card.pop("evidence")], columns=_EVIDENCE)
        card = pd.concat([card, evidence], axis=1)
        card.insert(0, "quarter", row.quarter)
        for column in ("monthly_coverage", "multi_source_rate"):
            card[column] = card[column].astype(float)
        plan = self._frame(connection, plan_rows, row.id)
        plan["documented"] = plan["documented"].astype(bool)
        plan["last_reviewed"] = pd.to_datetime(plan["last_reviewed"])
        record = QuarterRecord(
            quarter=row.quarter,
            scorecard=card[SCORECARD_COLUMNS + EVIDENCE_COLUMNS],
            plan=plan[PLAN_COLUMNS],
            log_rows=self._frame(connection, log_rows, row.id),
            inputs=self._frame(connection, inputs, row.id),
        )
        return ReportedVersion(record, row.version, row.delivered_at, row.content_hash)


def _json(value: Any) -> object:
    """A scorecard cell as JSON: blanks as null, numpy numbers as Python ones."""
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
