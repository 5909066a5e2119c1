"""Flows run against one temporary Prefect server per test session (its PREFECT_HOME is the
session's own: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deadlines import scaled


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=round(scaled(30))):
        yield


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A delivery ledger of the test's own, so that no test sees another's sent emails."""
    folder = tmp_path / "state"
    monkeypatch.setenv("COACHING_STATE_DIR", str(folder))
    return folder
