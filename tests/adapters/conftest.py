"""What the adapters' tests share: a PostgreSQL schema of the test's own, for the stores that
COACHING_LEDGER_URL puts there."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, make_url, text


@dataclass(frozen=True)
class StoppablePostgres:
    url: str  # as a run would have it in COACHING_LEDGER_URL, password included
    password: str
    stop: Callable[[], None]  # the database stops answering this user: open sessions end, new ones are refused
    start: Callable[[], None]


@pytest.fixture
def stoppable_postgres(postgres_server: str) -> Iterator[StoppablePostgres]:
    """A user and schema of this test's own, which the test can "stop" and "start" as if the
    server went down and came back, without touching what other tests use."""
    base = make_url(postgres_server)
    role = f"ledger_user_{uuid.uuid4().hex[:12]}"
    password = f"pw-{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def run(*statements: str) -> None:
        with admin.connect() as db:
            for statement in statements:
                db.execute(text(statement))

    run(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'", f"CREATE SCHEMA {role} AUTHORIZATION {role}")
    url = base.set(username=role, password=password, query={"options": f"-csearch_path={role}"})
    yield StoppablePostgres(
        url.render_as_string(hide_password=False),
        password,
        stop=lambda: run(
            f"ALTER ROLE {role} NOLOGIN",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        ),
        start=lambda: run(f"ALTER ROLE {role} LOGIN"),
    )
    run(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        f"DROP SCHEMA {role} CASCADE",
        f"DROP ROLE {role}",
    )
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A schema of this test's own in the tests' PostgreSQL, dropped afterwards."""
    base = postgres_server
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as db:
        db.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as db:
        db.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
