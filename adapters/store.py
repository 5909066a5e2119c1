"""Where the pipeline keeps what it must remember between runs (the delivery ledger, and any other
record that shares its database): one SQLAlchemy engine per run.

The embedded default is the SQLite file `<state_dir>/deliveries.sqlite3`; a URL
(`COACHING_LEDGER_URL=postgresql+psycopg://user@host/db`) puts it in PostgreSQL, so that workers on
several hosts share it. SQLite transactions start with BEGIN IMMEDIATE: the writer lock is taken at
the start, so a check-then-record inside one transaction cannot interleave with another process's.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from coaching.records import PipelineError

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


class StoreUnavailable(PipelineError):
    """The database stopped answering; the message names it and says what is known of the emails."""


def database_name(engine: Engine) -> str:
    """The database as an admin recognises it, never with its password."""
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def database_answering(engine: Engine, known: Callable[[], str]) -> Iterator[None]:
    """Turn the database going away (stopped, unreachable, refusing logins) into one
    StoreUnavailable naming it and saying `known()`: what is known of the emails so far."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        cause = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        raise StoreUnavailable(
            f"The delivery ledger's database ({database_name(engine)}) is not answering: {cause}. {known()}"
        ) from None


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than the caller would wait."""


@contextmanager
def held_until_done(engine: Engine, key: str, wait_seconds: float, on_wait: Callable[[], object]) -> Iterator[None]:
    """Hold a lock on `key` for the duration of the block, across transactions; `on_wait()` is
    called once when another process holds it, and LockTimeout raised after `wait_seconds`.

    The lock cannot outlive its holder: on PostgreSQL it is a session advisory lock on a
    connection of its own (the server drops it when the connection ends, a killed process
    included); on SQLite an exclusive `flock` on a file beside the database (the kernel drops it
    when the process ends)."""
    with _postgres_lock(engine, key) if engine.dialect.name == "postgresql" else _file_lock(engine, key) as try_lock:
        deadline = time.monotonic() + wait_seconds
        if not try_lock():
            on_wait()
            while not try_lock():
                if time.monotonic() > deadline:
                    raise LockTimeout(f"held by another process for over {wait_seconds:g} s")
                time.sleep(0.2)
        yield


@contextmanager
def _postgres_lock(engine: Engine, key: str) -> Iterator[Callable[[], bool]]:
    with engine.connect() as db:
        db.execution_options(isolation_level="AUTOCOMMIT")  # no transaction left open while the lock is held
        taken = False

        def try_lock() -> bool:
            nonlocal taken
            taken = bool(
                db.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), {"key": key}).scalar()
            )
            return taken

        try:
            yield try_lock
        finally:
            if taken:
                with suppress(SQLAlchemyError):  # the connection is gone: so is the lock
                    db.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": key})


@contextmanager
def _file_lock(engine: Engine, key: str) -> Iterator[Callable[[], bool]]:
    folder = Path(str(engine.url.database)).parent / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.lock"
    with path.open("a+b") as handle:

        def try_lock() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        yield try_lock  # closing the file releases the lock
