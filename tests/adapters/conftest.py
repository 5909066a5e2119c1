"""What the adapters' tests share: a PostgreSQL schema of the test's own, for the stores that
COACHING_LEDGER_URL puts there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text


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
