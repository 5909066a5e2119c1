"""What the adapters' tests share: a PostgreSQL schema of the test's own, for the stores that
COACHING_LEDGER_URL puts there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A schema of this test's own in the CI's PostgreSQL, dropped afterwards."""
    base = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide LEDGER_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("no PostgreSQL: set LEDGER_TEST_POSTGRES_URL (ops/ci_postgres.sh start prints one)")
    schema = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as db:
        db.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as db:
        db.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
