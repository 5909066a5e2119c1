"""Shared test set-up: no telemetry, a throw-away PREFECT_HOME, no settings leaking in from the
developer's environment, and a PostgreSQL for the tests that need one."""

import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import certifi
import pytest
from xdist.remote import Producer
from xdist.scheduler.protocol import Scheduling

from tests.deadlines import scaled
from tests.environment import without_pipeline_settings
from tests.postgres import INSTALL_HINT, local_postgres
from tests.prefect_db import migrated_database, seed_home
from tests.scheduling import FlowFilesWhereTheirServersRun

# Before anything imports Prefect (it reads these once, at import; test modules import the flows
# while they are collected). The home holds the database, cached results and transaction records:
# a session's own, so that none survive into the next session or come from the developer's.
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
PREFECT_HOME = os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
# Never a server the suite did not start: not the one the developer's shell names (`make stack`
# prints `export PREFECT_API_URL=…`), nor its profile's; with PREFECT_HOME above, no command run by
# a test finds the checkout's own stack either (flows/prefect_api.py).
for _setting in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILE"):
    os.environ.pop(_setting, None)
# Every Prefect client loads its CA bundle (certifi's: 16 ms a client, about 0.1 CPU s a flow run) even
# for plain HTTP; every Prefect server the suite talks to is plain HTTP on loopback, so a bundle of one
# of certifi's certificates does (0.3 ms). In the environment: the commands, workers and runs the tests
# start use it too.
_BUNDLE, _END = Path(certifi.where()).read_text(encoding="ascii"), "-----END CERTIFICATE-----\n"
_ONE_CERTIFICATE = Path(PREFECT_HOME) / "one-certificate.pem"
_ONE_CERTIFICATE.write_text(_BUNDLE[: _BUNDLE.index(_END) + len(_END)], encoding="ascii")
os.environ["PREFECT_API_SSL_CERT_FILE"] = str(_ONE_CERTIFICATE)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once every test module is imported (Prefect, Great Expectations, pandas: millions of objects
    that live for the whole session), Python's collector stops scanning them: each full collection
    otherwise walks them all again. About 8 % of the CPU of the in-process tests."""
    gc.collect()
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_coaching_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    without_pipeline_settings(monkeypatch)


@pytest.fixture(scope="module", autouse=True)
def _no_prefect_events_client_left_open() -> Iterator[None]:
    """After each file whose flows ran in this process, Prefect's events client is closed. It keeps a
    websocket open to the server and pings it about every 20 s with the global `random` module;
    Hypothesis, in a file that the same process runs next, checks that nothing changes `random` while
    it draws an example, and a ping landing then made it warn (HypothesisDeprecationWarning)."""
    yield
    if "prefect.events.worker" in sys.modules:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=scaled(10), at_exit=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL for the tests: `make test`'s (LEDGER_TEST_POSTGRES_URL), else one that this
    test process starts on first use and stops at its end. Missing PostgreSQL fails the test, never skips it."""
    given = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(local_postgres())
        except RuntimeError:
            pytest.fail(INSTALL_HINT, pytrace=False)
        yield url


@pytest.fixture(scope="session")
def seed_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """Gives a Prefect home (PREFECT_HOME, made if missing) that has no database yet a copy of an empty
    database that Prefect has already migrated, before a server starts there; returns the home. The
    migrated database is made once per run, for every test process (tests/prefect_db.py)."""
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each test process's folder is in the run's
        run_folder = run_folder.parent
    database = migrated_database(run_folder)
    return lambda home: seed_home(home, database)


# The longest test files (a whole local stack; flows against a Prefect server; the properties of the
# reading rules) are collected first, and pytest-xdist hands files out in that order (pyproject.toml:
# --no-loadscope-reorder; by default it starts with the files that hold the most tests), so that with
# three test processes (`make test`: one file per process at a time) the longest ones start at once
# instead of last. The same order in every process, as pytest-xdist requires.
_SLOW_FIRST = ("tests/e2e/", "tests/flows/", "tests/coaching/test_parsing_properties.py", "tests/bench/")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """For `--dist loadfile` (`make test`): flow files stay in the processes whose Prefect test
    server runs already (tests/scheduling.py)."""
    if config.getoption("dist") != "loadfile":
        return None
    return FlowFilesWhereTheirServersRun(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_SLOW_FIRST) if path.startswith(prefix)), len(_SLOW_FIRST))

    items.sort(key=rank)  # stable: the order within each group is kept
