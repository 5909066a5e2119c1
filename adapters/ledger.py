"""The delivery ledger: every email is sent once, whatever re-runs, retries or races happen.

A SQLite file in the state folder. An intent is recorded (and committed) before the mailer is
called and the result after it, under one write lock, so:
- a re-run of the same email (same kind, period, recipients and content) sends nothing;
- two runs at the same time: the second finds the first's intent and sends nothing;
- a run that died between the call and the record leaves a `pending` entry that is never resent
  automatically: nobody knows whether it arrived, so an admin decides (`--force-resend`);
- a failed send is recorded as `failed`, which does not count as sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from adapters.mailers import Mailer
from coaching.email import OutgoingEmail

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    recipients TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    forced INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    receipt TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (delivery_key, status);
"""


class Outcome(str, Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # a re-run: nothing sent
    UNKNOWN = "unknown"  # an earlier attempt has no recorded result: nothing sent


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    message: str  # one sentence for the log and the run's artifact
    where: str = ""

    @property
    def sentence(self) -> str:
        """The message, and where the email went when known (a file, a provider's message id)."""
        return f"{self.message} ({self.where})" if self.where else self.message


def delivery_key(email: OutgoingEmail) -> str:
    recipients = ",".join(sorted(address.lower() for address in email.recipients))
    return f"{email.kind}|{email.period}|{recipients}|{email.content_hash}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DeliveryLedger:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "deliveries.sqlite3"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are opened explicitly with BEGIN IMMEDIATE.
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        connection.executescript(_SCHEMA)
        return connection

    def send_once(self, mailer: Mailer, email: OutgoingEmail, force: bool = False) -> DeliveryResult:
        key = delivery_key(email)
        to_whom = ", ".join(email.recipients)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: the check and the intent are atomic
            earlier = db.execute(
                "SELECT status, started_at, finished_at, receipt FROM deliveries"
                " WHERE delivery_key = ? AND status IN ('sent', 'pending')"
                " ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if earlier and not force:
                db.execute("COMMIT")
                status, started_at, finished_at, receipt = earlier
                if status == "sent":
                    return DeliveryResult(
                        Outcome.ALREADY_SENT,
                        f"Not sent again: this {email.kind_name} for {email.period} "
                        f"was already sent to {to_whom} at {finished_at} (use --force-resend to send it again).",
                        receipt or "",
                    )
                return DeliveryResult(
                    Outcome.UNKNOWN,
                    f"Not sent: an attempt to send this {email.kind_name} for "
                    f"{email.period} to {to_whom} started at {started_at} and its result was never "
                    "recorded (another run may be sending it, or a run stopped mid-send). Check "
                    "whether it arrived; use --force-resend to send it anyway.",
                )
            cursor = db.execute(
                "INSERT INTO deliveries (delivery_key, kind, period, recipients, content_hash,"
                " status, forced, started_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (key, email.kind, email.period, to_whom, email.content_hash, int(force), _now()),
            )
            entry = cursor.lastrowid
            db.execute("COMMIT")
            try:
                receipt = mailer.send(email)
            except Exception as exc:
                # Not BaseException: an interrupt or a cancellation may land after the provider
                # accepted the email, so that entry stays pending ("unknown"), never resent unasked.
                db.execute(
                    "UPDATE deliveries SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                    (_now(), type(exc).__name__, entry),
                )
                raise
            db.execute(
                "UPDATE deliveries SET status = 'sent', finished_at = ?, receipt = ? WHERE id = ?",
                (_now(), receipt.where, entry),
            )
        return DeliveryResult(
            Outcome.SENT,
            f"Sent the {email.kind_name} for {email.period} to {to_whom}"
            + (" (forced re-send)." if force else "."),
            receipt.where,
        )

    def history(self, kind: str | None = None) -> list[dict[str, object]]:
        """Every recorded delivery, newest first (for reports and tests)."""
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM deliveries WHERE (? IS NULL OR kind = ?) ORDER BY id DESC",
                (kind, kind),
            ).fetchall()
        return [dict(row) for row in rows]

    def last_sent(self, kind: str, recipients: Sequence[str]) -> dict[str, object] | None:
        """The newest delivery of this kind recorded as sent to exactly these recipients (in any
        order or case), or None: what "unchanged since the last notice" is measured against."""
        wanted = sorted(address.strip().lower() for address in recipients)
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM deliveries WHERE kind = ? AND status = 'sent' ORDER BY id DESC", (kind,)
            )
            for row in rows:
                if sorted(address.strip().lower() for address in row["recipients"].split(",")) == wanted:
                    return dict(row)
        return None
