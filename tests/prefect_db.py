"""Prefect servers that the tests start on a new SQLite database start from a copy of one that is
already migrated.

A Prefect server's first start on a new SQLite file runs Prefect's migrations: about 4.4 of the
8.8 CPU s its start costs on the 2-core machine. The suite migrates one empty database once per run
(the first test process that asks for it, while the others wait on a lock) and copies it into the
home (PREFECT_HOME) of each server it starts; the server finds the newest revision and migrates
nothing. Each server gets a copy of its own: two servers never share a database.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.deadlines import scaled

DATABASE_NAME = "prefect.db"  # Prefect's database in its home, unless a connection URL says otherwise
_CREATE_DB = (
    "import asyncio\n"
    "from prefect.server.database import provide_database_interface\n"
    "asyncio.run(provide_database_interface().create_db())\n"
)


def migrated_database(folder: Path) -> Path:
    """An empty Prefect database at the newest of Prefect's migrations, in `folder`: made by Prefect
    itself (what a server runs when it starts) by the first process that asks, reused by the rest."""
    database = folder / "migrated-prefect.db"
    with open(folder / "migrated-prefect.db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if not database.exists():
            building = folder / "migrating-prefect.db"  # only a finished database takes the name
            done = subprocess.run(
                [sys.executable, "-c", _CREATE_DB],
                env={**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{building}"},
                capture_output=True,
                text=True,
                timeout=scaled(120),
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"Prefect's migrations of a new database failed:\n{done.stderr[-3000:]}")
            with closing(sqlite3.connect(building)) as connection:  # everything in the one file, to copy
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            building.rename(database)
    return database


def seed_home(home: Path, database: Path) -> Path:
    """Give a Prefect home that has no database yet a copy of `database` (no server has it open);
    returns the home."""
    home.mkdir(parents=True, exist_ok=True)
    with database.open("rb") as source, (home / DATABASE_NAME).open("xb") as copy:  # never over one in use
        shutil.copyfileobj(source, copy)
    return home
