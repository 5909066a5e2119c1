"""The delivery ledger: every email reaches each recipient once, whatever re-runs, retries or races.

One entry per recipient and channel (outbox, sendgrid, sendgrid-sandbox), in the store's database
(adapters/store.py: a SQLite file by default, PostgreSQL for several hosts). An intent is recorded
(and committed) before the mailer is called and the result after it; the check and the intent are
one transaction under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock on the email's
key), so:
- a re-run of the same email (same kind, period, recipient, content and channel) sends nothing;
- two runs at the same time, on any hosts sharing the store: the second finds the first's intent;
- an answer lost after the request left (dropped connection, time-out) is recorded `unknown`, and
  a run that died mid-send leaves `pending`: both are never re-sent automatically, because nobody
  knows whether the email arrived; an admin checks and resolves it (`python -m ops.deliveries`);
- a refused send is `failed`, which does not count as sent;
- an email written to the outbox does not count as sent through SendGrid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from adapters.mailers import DeliveryError, DeliveryUnknown, Mailer
from adapters.store import hold_lock
from coaching.email import OutgoingEmail

RESOLVE_COMMAND = "python -m ops.deliveries"
STATUSES = ("pending", "sent", "failed", "unknown")

metadata = MetaData()
deliveries = Table(
    "email_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_key", String(600), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("period", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("status", String(10), nullable=False),  # one of STATUSES
    Column("forced", Integer, nullable=False, default=0),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("receipt", Text),
    Column("error", Text),
)


class Outcome(str, Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # a re-run: nothing sent
    UNKNOWN = "unknown"  # the answer was lost, or an earlier attempt has no result: a person decides
    FAILED = "failed"  # refused (bad address, key, ...): not delivered


# What a run with several outcomes says it did: the one that most needs a person first.
WORST_FIRST = (Outcome.UNKNOWN, Outcome.FAILED, Outcome.SENT, Outcome.ALREADY_SENT)


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one recipient's copy."""

    recipient: str
    outcome: Outcome
    message: str  # one sentence for the log and the run's artifact
    where: str = ""
    entry: int | None = None  # the ledger entry, for `python -m ops.deliveries`

    @property
    def sentence(self) -> str:
        """The message, and where the email went when known (a file, a provider's message id)."""
        return f"{self.message} ({self.where})" if self.where else self.message


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to an email, recipient by recipient."""

    results: tuple[DeliveryResult, ...]

    def of(self, outcome: Outcome) -> list[DeliveryResult]:
        return [result for result in self.results if result.outcome is outcome]

    @property
    def outcome(self) -> Outcome:
        """The worst of the recipients' outcomes (WORST_FIRST); already sent when there were none."""
        return next((outcome for outcome in WORST_FIRST if self.of(outcome)), Outcome.ALREADY_SENT)

    @property
    def needs_a_person(self) -> bool:
        return self.outcome in (Outcome.UNKNOWN, Outcome.FAILED)

    @property
    def missed(self) -> list[str]:
        """Who did not (or may not have) get it."""
        return [r.recipient for r in self.results if r.outcome in (Outcome.UNKNOWN, Outcome.FAILED)]

    @property
    def sentence(self) -> str:
        return " ".join(result.sentence for result in self.results)


def delivery_key(kind: str, period: str, recipient: str, content_hash: str, channel: str) -> str:
    return f"{kind}|{period}|{recipient.strip().lower()}|{content_hash}|{channel}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def unknown_advice(entry: int | None, force_hint: str) -> str:
    """What an admin does about an email whose outcome is unknown."""
    return (
        "Check SendGrid's Activity Feed (Email Activity: search the recipient and the subject); if it "
        f"arrived, record it with `{RESOLVE_COMMAND} mark-sent {entry}`, otherwise re-send with "
        f"{force_hint} (or `{RESOLVE_COMMAND} mark-failed {entry}` so the next run sends it)."
    )


class DeliveryLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as db:  # workers starting together create the table once
            hold_lock(db, "schema")
            metadata.create_all(db)
        _adopt_legacy_sqlite_ledger(engine)

    def send_once(
        self, mailer: Mailer, email: OutgoingEmail, force: bool = False, force_hint: str = "--force-resend"
    ) -> DeliveryReport:
        """Send `email` to each recipient separately, once each; a refusal or a lost answer for one
        recipient does not stop the others. `force_hint` names how to force a re-send (the CLI
        flag, or the deployment's parameter) in the messages."""
        return DeliveryReport(
            tuple(
                self._send_to(mailer, replace(email, recipients=(recipient,)), force, force_hint)
                for recipient in dict.fromkeys(email.recipients)
            )
        )

    def _send_to(self, mailer: Mailer, email: OutgoingEmail, force: bool, force_hint: str) -> DeliveryResult:
        [recipient] = email.recipients
        key = delivery_key(email.kind, email.period, recipient, email.content_hash, mailer.channel)
        what = f"the {email.kind_name} for {email.period} to {recipient}"
        with self.engine.begin() as db:
            hold_lock(db, key)
            earlier = db.execute(
                select(deliveries)
                .where(deliveries.c.delivery_key == key, deliveries.c.status.in_(("sent", "pending", "unknown")))
                .order_by(deliveries.c.id.desc())
                .limit(1)
            ).mappings().first()
            if earlier is not None and not force:
                return _earlier_result(earlier, what, mailer.channel, force_hint)
            entry = db.execute(
                insert(deliveries).values(
                    delivery_key=key, kind=email.kind, period=email.period, recipient=recipient,
                    channel=mailer.channel, content_hash=email.content_hash, subject=email.subject,
                    status="pending", forced=int(force), started_at=_now(),
                ).returning(deliveries.c.id)
            ).scalar_one()
        try:
            receipt = mailer.send(email)
        except DeliveryUnknown as exc:
            self._finish(entry, "unknown", error=str(exc))
            return DeliveryResult(
                recipient, Outcome.UNKNOWN,
                f"Unknown whether {what} arrived: {exc} It was not sent again, to avoid a duplicate. "
                + unknown_advice(entry, force_hint),
                entry=entry,
            )
        except DeliveryError as exc:
            self._finish(entry, "failed", error=str(exc))
            return DeliveryResult(recipient, Outcome.FAILED, f"Not sent {what}: {exc}", entry=entry)
        except BaseException as exc:
            # An interrupt, a cancellation or a bug may land after the provider accepted the email.
            self._finish(entry, "unknown", error=type(exc).__name__)
            raise
        self._finish(entry, "sent", receipt=receipt.where)
        return DeliveryResult(
            recipient, Outcome.SENT,
            f"Sent {what}" + (" (forced re-send)." if force else "."),
            receipt.where, entry,
        )

    def _finish(self, entry: int, status: str, *, receipt: str | None = None, error: str | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(
                update(deliveries)
                .where(deliveries.c.id == entry)
                .values(status=status, finished_at=_now(), receipt=receipt, error=error)
            )

    def history(
        self, kind: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[dict[str, object]]:
        """The recorded deliveries, newest first (the `limit` newest when given)."""
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(deliveries.c.kind == kind)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as db:
            return [dict(row) for row in db.execute(query).mappings()]

    def resolve(self, entry: int, status: str, note: str) -> dict[str, object]:
        """An admin's decision on an unknown (or pending) entry: `sent` (it arrived) or `failed`
        (it did not: the next run sends it). Returns the entry as it now is. An entry that is
        missing or already has a result is refused (LookupError) and left as it is, checked in
        the same transaction as the change so that no run's result is overwritten."""
        if status not in ("sent", "failed"):
            raise ValueError("an entry is resolved as sent or failed")
        with self.engine.begin() as db:
            row = db.execute(select(deliveries).where(deliveries.c.id == entry)).mappings().first()
            if row is None:
                raise LookupError(f"there is no delivery entry {entry}")
            if row["status"] not in ("unknown", "pending"):
                raise LookupError(f"entry {entry} is '{row['status']}', not unknown or pending: nothing to resolve")
            db.execute(
                update(deliveries)
                .where(deliveries.c.id == entry)
                .values(status=status, finished_at=_now(), error=f"{row['error'] or ''} [{note}]".strip())
            )
            return dict(db.execute(select(deliveries).where(deliveries.c.id == entry)).mappings().one())

    def unchanged_since(
        self, kind: str, recipients: Sequence[str], content_hash: str, channel: str
    ) -> dict[str, object] | None:
        """The newest entry of this kind sent through `channel` when every one of `recipients` last
        received this very content that way; None otherwise (what "unchanged since the last notice"
        is measured against)."""
        newest: dict[str, object] | None = None
        with self.engine.connect() as db:
            for recipient in recipients:
                row = db.execute(
                    select(deliveries)
                    .where(
                        deliveries.c.kind == kind, deliveries.c.channel == channel,
                        deliveries.c.status == "sent",
                        func.lower(deliveries.c.recipient) == recipient.strip().lower(),
                    )
                    .order_by(deliveries.c.id.desc())
                    .limit(1)
                ).mappings().first()
                if row is None or row["content_hash"] != content_hash:
                    return None
                if newest is None or row["id"] > newest["id"]:
                    newest = dict(row)
        return newest


def _earlier_result(row: RowMapping, what: str, channel: str, force_hint: str) -> DeliveryResult:
    recipient = str(row["recipient"])
    if row["status"] == "sent":
        return DeliveryResult(
            recipient, Outcome.ALREADY_SENT,
            f"Not sent again: {what} was already sent ({channel}) at {row['finished_at']} "
            f"(use {force_hint} to send it again).",
            str(row["receipt"] or ""), int(row["id"]),
        )
    cause = (
        "its answer was lost" if row["status"] == "unknown"
        else "its result was never recorded (another run may be sending it, or a run stopped mid-send)"
    )
    return DeliveryResult(
        recipient, Outcome.UNKNOWN,
        f"Not sent: an attempt to send {what} started at {row['started_at']} and {cause}. "
        + unknown_advice(int(row["id"]), force_hint),
        entry=int(row["id"]),
    )


def _adopt_legacy_sqlite_ledger(engine: Engine) -> None:
    """Copy a ledger written before deliveries were kept per recipient and channel (the table
    `deliveries`), once, so that what it records as sent is still not re-sent."""
    if engine.dialect.name != "sqlite" or "deliveries" not in inspect(engine).get_table_names():
        return
    with engine.begin() as db:
        if db.execute(select(func.count()).select_from(deliveries)).scalar():
            return
        entries = list(_legacy_entries(db.execute(text("SELECT * FROM deliveries ORDER BY id")).mappings()))
        if entries:
            db.execute(insert(deliveries), entries)


def _legacy_entries(rows: Iterable[RowMapping]) -> Iterable[dict[str, object]]:
    for row in rows:
        receipt = str(row.get("receipt") or "")
        # Without a receipt the channel is unknown: assume SendGrid, so it blocks the real send.
        channel = "outbox" if receipt and not receipt.startswith("sendgrid") else (
            "sendgrid-sandbox" if receipt.startswith("sendgrid-sandbox") else "sendgrid"
        )
        status = "unknown" if row["status"] == "pending" else row["status"]
        for recipient in str(row["recipients"]).split(","):
            recipient = recipient.strip()
            yield {
                "delivery_key": delivery_key(row["kind"], row["period"], recipient, row["content_hash"], channel),
                "kind": row["kind"], "period": row["period"], "recipient": recipient, "channel": channel,
                "content_hash": row["content_hash"], "subject": "", "status": status,
                "forced": row["forced"], "started_at": row["started_at"], "finished_at": row["finished_at"],
                "receipt": row["receipt"], "error": row["error"],
            }
