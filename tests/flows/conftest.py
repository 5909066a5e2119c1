"""Flows run against one temporary Prefect server per test session, on a database of its own (a
copy of the run's migrated one: tests/prefect_db.py). Only this process's Prefect settings name it:
a command run by a test starts a temporary server of its own on the database of the session's
PREFECT_HOME (tests/conftest.py), which starts migrated too."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.prefect_api import STARTUP_TIMEOUT_SETTING, TemporaryServer
from tests.deadlines import scaled


@pytest.fixture(scope="session", autouse=True)
def prefect_server(
    tmp_path_factory: pytest.TempPathFactory, seed_prefect_home: Callable[[Path], Path]
) -> Iterator[None]:
    from prefect.context import refresh_global_settings_context

    seed_prefect_home(Path(os.environ["PREFECT_HOME"]))
    server_home = tmp_path_factory.mktemp("prefect-test-server")
    seed_prefect_home(server_home)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PREFECT_HOME", str(server_home))  # read once, as the server starts
        server = TemporaryServer()
    try:
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv(STARTUP_TIMEOUT_SETTING, str(scaled(30)))
            server.wait_until_ready()
        # Prefect's settings in every thread of this process name the server (a thread that did not
        # see them would start Prefect's own temporary server); the environment does not.
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv("PREFECT_API_URL", server.api_url)
            refresh_global_settings_context()
        yield
    finally:
        server.stop()  # the runs' last logs and events go out first, while the settings name it
        refresh_global_settings_context()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A delivery ledger of the test's own, so that no test sees another's sent emails."""
    folder = tmp_path / "state"
    monkeypatch.setenv("COACHING_STATE_DIR", str(folder))
    return folder
