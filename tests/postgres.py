"""A throw-away PostgreSQL on 127.0.0.1 for the tests of the PostgreSQL ledger: a cluster of its own
in a temporary folder, on a free port, removed when done; never the machine's own server.

`make test` runs the suite inside one (`python -m tests.postgres -- COMMAND…` exports its URL as
LEDGER_TEST_POSTGRES_URL); a plain `pytest` starts one itself when a test needs it (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from flows.prefect_api import free_port

INSTALL_HINT = "PostgreSQL is needed for the ledger's tests: apt-get install -y postgresql (make test does it as root)"
_DATABASE = "coaching_test"


def _bin_dir() -> Path:
    """The newest installed server's programs (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise RuntimeError(INSTALL_HINT)


def _as_owner(folder: Path) -> Callable[[list[str]], None]:
    """Run a server program as the folder's owner: PostgreSQL refuses to run as root."""
    root = os.geteuid() == 0
    if root:
        shutil.chown(folder, "postgres", "postgres")

    def run(command: list[str]) -> None:
        if root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    return run


@contextmanager
def local_postgres() -> Iterator[str]:
    """Start a cluster, yield its SQLAlchemy URL, stop and remove it."""
    bin_dir = _bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="coaching-test-postgres-"))
    folder.chmod(0o700)
    run = _as_owner(folder)
    data, port = folder / "data", free_port()
    try:
        run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "server.log"),
                "-w",
                "-t",
                "120",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off",
                "start",
            ]
        )
        try:
            run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", _DATABASE])
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{_DATABASE}"
        finally:
            run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    """`python -m tests.postgres -- COMMAND…`: COMMAND with LEDGER_TEST_POSTGRES_URL set, then stop."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m tests.postgres -- COMMAND…", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        try:
            url = stack.enter_context(local_postgres())
        except (RuntimeError, subprocess.CalledProcessError) as error:
            detail = error.stderr.strip() if isinstance(error, subprocess.CalledProcessError) else str(error)
            print(f"error: could not start PostgreSQL for the tests: {detail}", file=sys.stderr)
            return 2
        return subprocess.run(command, env={**os.environ, "LEDGER_TEST_POSTGRES_URL": url}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
