"""What the adapters' tests share: a PostgreSQL schema of the test's own, for the stores that
COACHING_LEDGER_URL puts there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, make_url, text


def _postgres_base() -> str:
    base = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide LEDGER_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("no PostgreSQL: set LEDGER_TEST_POSTGRES_URL (ops/ci_postgres.sh start prints one)")
    return base


@dataclass(frozen=True)
class StoppablePostgres:
    url: str  # as a run would have it in COACHING_LEDGER_URL, password included
    password: str
    stop: Callable[[], None]  # the database stops answering this user: open sessions end, new ones are refused
    start: Callable[[], None]


@pytest.fixture
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    """A user and schema of this test's own, which the test can "stop" and "start" as if the
    server went down and came back, without touching what other tests use."""
    base = make_url(_postgres_base())
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
        url.render_as_string(hide_password=False), password,
        stop=lambda: run(
            f"ALTER ROLE {role} NOLOGIN",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        ),
        start=lambda: run(f"ALTER ROLE {role} LOGIN"),
    )
    run(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        f"DROP SCHEMA {role} CASCADE", f"DROP ROLE {role}",
    )
    admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A schema of this test's own in the CI's PostgreSQL, dropped afterwards."""
    base = _postgres_base()
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as db:
        db.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as db:
        db.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
