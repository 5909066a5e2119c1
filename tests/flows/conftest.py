"""Flows run against one temporary Prefect server per test session, with a throw-away PREFECT_HOME."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    home = tempfile.mkdtemp(prefix="prefect-home-")
    os.environ["PREFECT_HOME"] = home
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A delivery ledger of the test's own, so that no test sees another's sent emails."""
    folder = tmp_path / "state"
    monkeypatch.setenv("COACHING_STATE_DIR", str(folder))
    return folder
