"""Which Prefect server a command-line run records itself in, chosen before Prefect is imported.

1. PREFECT_API_URL, from the environment or the active Prefect profile: that server, as always
   (a `prefect.toml` or `.env` file is not looked at: set it in the environment or the profile).
2. Else this checkout's own stack (`make stack`), found by what it wrote in its home (PREFECT_HOME,
   else `.prefect/` in the project): the address in `api-url`, while the server process recorded
   in `server.pid` runs. Whatever else answers on a port (another user's stack on 127.0.0.1:4200)
   is never used: it could record our runs and hand us its Variables and Secret blocks.
3. Else a temporary server of our own, started at once so that it comes up while the flow module
   imports (seconds either way), and stopped at the end.

Prefect's own temporary server (what it starts when no server is configured) would do the same
work in series: it imports the server's code into this process (about 2.5 s), starts the server
only when the flow starts. Ours is the very command Prefect runs.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STACK_HOME = PROJECT_ROOT / ".prefect"
STACK_API_FILE = "api-url"  # written by `python -m ops.stack up` in the stack's home
STARTUP_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
# Prefect's default of 20 s is passed on a busy 2-core machine; this one is still an alarm.
STARTUP_TIMEOUT_SECONDS = 90


class PrefectUnavailable(Exception):
    """No Prefect server to record the run in; the message says what to try."""


def answers(api_url: str, timeout: float = 2.0) -> bool:
    """The server at `api_url` is up (with Prefect's basic-auth credentials when they are set). Asked
    only of a server whose process runs, so the wait is short unless the machine is very busy."""
    request = urllib.request.Request(f"{api_url}/health")
    auth = os.environ.get("PREFECT_API_AUTH_STRING") or os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stack_home() -> Path:
    """Where `make stack` keeps this checkout's stack: PREFECT_HOME when set (the test suite sets
    its own), else `.prefect/` in the project."""
    return Path(os.environ["PREFECT_HOME"]).expanduser() if os.environ.get("PREFECT_HOME") else DEFAULT_STACK_HOME


def own_stack_api(home: Path) -> str | None:
    """The API of the stack whose home is `home`, when its server process still runs and answers."""
    try:
        api_url = (home / STACK_API_FILE).read_text(encoding="utf-8").strip()
        pid = int((home / "server.pid").read_text(encoding="utf-8"))
        running = b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return api_url if running and answers(api_url) else None


def _configured_api_url() -> str | None:
    """PREFECT_API_URL as Prefect would read it: the environment, else the active profile."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    return profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None


def _startup_timeout() -> float:
    os.environ.setdefault(STARTUP_TIMEOUT_SETTING, str(STARTUP_TIMEOUT_SECONDS))
    return float(os.environ[STARTUP_TIMEOUT_SETTING])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TemporaryServer:
    """Prefect's temporary server (the same uvicorn command, UI and background services off)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        prefect_dir = Path(find_spec("prefect").origin).parent  # without importing Prefect
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect_dir.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={
                **os.environ,
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            },
            stdin=subprocess.DEVNULL,
        )
        self.ready = False

    def wait_until_ready(self) -> None:
        timeout = _startup_timeout()
        logging.getLogger("prefect").info("Starting temporary server on %s", self.api_url.removesuffix("/api"))
        deadline = time.monotonic() + timeout
        while not answers(self.api_url, timeout=1):
            if self.process.poll() is not None:
                raise PrefectUnavailable(
                    f"the temporary Prefect server stopped while starting (exit code {self.process.returncode}). "
                    "Try again, or start a lasting server with `make stack`."
                )
            if time.monotonic() > deadline:
                raise PrefectUnavailable(
                    f"the temporary Prefect server did not start within {timeout:.0f} s (is the machine busy?). "
                    f"Try again, give it longer with {STARTUP_TIMEOUT_SETTING}=180, "
                    "or start a lasting server with `make stack`."
                )
            time.sleep(0.1)
        self.ready = True

    def stop(self) -> None:
        if "prefect" in sys.modules:  # the run's last logs and events go out first, as Prefect's harness does
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
            EventsWorker.drain_all(timeout=10)
            logging.getLogger("prefect").info("Stopping temporary server on %s", self.api_url.removesuffix("/api"))
        if self.ready:
            self.process.terminate()  # it stops in a fraction of a second
        else:  # still starting: it would heed SIGTERM only once started
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def prefect_api() -> Iterator[TemporaryServer | None]:
    """Point this process at a Prefect server for the duration of the block. Yields the temporary
    server, if one was started: call `wait_until_ready` on it after the heavy imports, before the
    flow runs. Prefect reads PREFECT_API_URL once, when imported: a process that has imported it
    already (a test under Prefect's test harness) keeps the server its settings name."""
    _startup_timeout()  # also for a server Prefect starts itself
    if "prefect" in sys.modules or _configured_api_url() is not None:
        yield None
        return
    own_stack = own_stack_api(stack_home())
    if own_stack is not None:
        with _environment(PREFECT_API_URL=own_stack):
            yield None
        return
    server = TemporaryServer()
    # PREFECT_UI_URL empty: no "View at" link to a UI that is gone when the run ends.
    with _environment(PREFECT_API_URL=server.api_url, PREFECT_UI_URL=""):
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
