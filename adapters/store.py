"""Where the pipeline keeps what it must remember between runs (the delivery ledger, and any other
record that shares its database): one SQLAlchemy engine per run.

The embedded default is the SQLite file `<state_dir>/deliveries.sqlite3`; a URL
(`COACHING_LEDGER_URL=postgresql+psycopg://user@host/db`) puts it in PostgreSQL, so that workers on
several hosts share it. SQLite transactions start with BEGIN IMMEDIATE: the writer lock is taken at
the start, so a check-then-record inside one transaction cannot interleave with another process's.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text

SQLITE_FILE_NAME = "deliveries.sqlite3"


def open_store(state_dir: Path, url: str | None = None, schema: str | None = None) -> Engine:
    """The engine for `url` when given, else for the SQLite file in `state_dir`. On PostgreSQL,
    `schema` (created when missing) holds the tables, so that several agencies share one database
    without sharing records."""
    if url:
        # pre_ping: a worker that sat idle between runs finds its pooled connections may have closed.
        if not schema:
            return create_engine(url, pool_pre_ping=True)
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": f"-csearch_path={schema}"})
        with engine.begin() as db:
            hold_lock(db, "schema")
            db.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        return engine
    path = Path(state_dir) / SQLITE_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite_engine(path)


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection: object, _record: object) -> None:
        # Turn off the driver's own BEGIN so that the one below is the only one.
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _take_the_write_lock(connection: object) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]

    return engine


def hold_lock(db: Connection, key: str) -> None:
    """Serialise the rest of `db`'s transaction with every other one that holds `key`: SQLite's
    BEGIN IMMEDIATE (above) already holds the writer lock; PostgreSQL takes an advisory lock,
    released at commit, so workers on several hosts take turns."""
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
