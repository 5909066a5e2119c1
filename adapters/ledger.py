"""The delivery ledger: every email reaches each recipient once, whatever re-runs, retries or races.

One entry per recipient and channel (outbox, sendgrid, sendgrid-sandbox), in the store's database
(adapters/store.py: a SQLite file by default, PostgreSQL for several hosts). An intent is recorded
(and committed) before the mailer is called and the result after it; the check and the intent are
one transaction under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock on the email's
key), and one run at a time sends a given email (kind, period, channel): the others wait for it
(saying so), then find what it sent. That lock dies with its holder (store.held_until_done), so a
killed run never leaves it taken. So:
- a re-run of the same email (same kind, period, recipient, content and channel) sends nothing;
- two runs at the same time, on any hosts sharing the store: the second finds the first's intent;
- an answer lost after the request left (dropped connection, time-out) is recorded `unknown`, and
  a run that died mid-send leaves `pending`: both are never re-sent automatically, because nobody
  knows whether the email arrived; an admin checks and resolves it (`python -m ops.deliveries`);
- a refused send is `failed`, which does not count as sent;
- an email written to the outbox does not count as sent through SendGrid.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from sqlalchemy import (
    Column,
    Connection,
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
from sqlalchemy.exc import InterfaceError, OperationalError

from adapters.mailers import DeliveryError, DeliveryUnknown, Mailer
from adapters.store import LockTimeout, database_answering, held_until_done, hold_lock
from coaching.email import Attachment, EmailKind, OutgoingEmail
from coaching.records import PipelineError

RESOLVE_COMMAND = "python -m ops.deliveries"
STATUSES = ("pending", "sent", "failed", "unknown")
UNRESOLVED = ("pending", "unknown")
# How long a run waits for another run sending the same email before it gives up (sending to a
# few recipients takes seconds; SendGrid's retries, at worst, a few minutes).
SENDING_WAIT_SECONDS = 600.0

metadata = MetaData()
deliveries = Table(
    "email_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_key", String(600), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("period", Text, nullable=False),  # an admin alert's names the run: "cancelled run <its id>"
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
# What each email said (one row per content, whoever it went to), so that an admin can re-send
# one recipient's copy (`python -m ops.deliveries resend ENTRY`) without running the flow again.
contents = Table(
    "email_contents",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("email", Text, nullable=False),  # JSON: the OutgoingEmail without its recipients
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


def unknown_advice(entry: int | None) -> str:
    """What an admin does about an email whose outcome is unknown: decide first, then re-send that
    copy alone (a forced re-send would go to every recipient again)."""
    return (
        "Check SendGrid's Activity Feed (Email Activity: search the recipient and the subject); if it "
        f"arrived, record it with `{RESOLVE_COMMAND} mark-sent {entry}`; if it did not, "
        f"`{RESOLVE_COMMAND} resend {entry}` sends this copy alone (or `{RESOLVE_COMMAND} mark-failed {entry}`, "
        "and the next run sends it)."
    )


class DeliveryBusy(PipelineError):
    """Another run was still sending the same email after the wait: this run sent nothing."""


class _Unrecorded(Exception):
    """The mailer's answer is known but the database went away before it was recorded."""

    def __init__(self, result: DeliveryResult, cause: OperationalError | InterfaceError) -> None:
        super().__init__(result.message)
        self.result, self.cause = result, cause


class DeliveryLedger:
    def __init__(self, engine: Engine, wait_seconds: float = SENDING_WAIT_SECONDS) -> None:
        self.engine = engine
        self.wait_seconds = wait_seconds
        with database_answering(engine, lambda: "Nothing was sent."):
            with engine.begin() as db:  # workers starting together create the table once
                hold_lock(db, "schema")
                metadata.create_all(db)
                _widen_short_periods(db)
            _adopt_legacy_sqlite_ledger(engine)

    def send_once(
        self,
        mailer: Mailer,
        email: OutgoingEmail,
        force: bool = False,
        force_hint: str = "--force-resend",
        on_wait: Callable[[str], object] = lambda _said: None,
    ) -> DeliveryReport:
        """Send `email` to each recipient separately, once each; a refusal or a lost answer for one
        recipient does not stop the others. `force_hint` names how to force a re-send (the CLI
        flag, or the deployment's parameter) in the messages. While another run sends the same
        email, this one waits (`on_wait` is told what for, once) and then finds what it sent."""
        what = f"the {email.kind_name} for {email.period}"
        recipients = list(dict.fromkeys(email.recipients))
        done: list[DeliveryResult] = []

        def known() -> str:
            said = [result.sentence for result in done]
            left = recipients[len(done) :]
            if left:
                said.append(f"Not sent to {', '.join(left)} (this run stopped before them).")
            return "What is known of each email: " + " ".join(said)

        try:
            with (
                database_answering(self.engine, known),
                held_until_done(
                    self.engine,
                    f"sending|{email.kind}|{email.period}|{mailer.channel}",
                    self.wait_seconds,
                    lambda: on_wait(
                        f"Waiting for another run that is sending {what} ({mailer.channel}) to finish "
                        f"(up to {self.wait_seconds:g} s) ..."
                    ),
                ),
            ):
                self._keep_content(email)
                for recipient in recipients:
                    try:
                        done.append(self._send_to(mailer, replace(email, recipients=(recipient,)), force, force_hint))
                    except _Unrecorded as unrecorded:
                        done.append(unrecorded.result)
                        raise unrecorded.cause from None
        except LockTimeout:
            raise DeliveryBusy(
                f"Not sent {what}: another run has been sending it for over {self.wait_seconds:g} s. Nothing "
                f"was sent by this run; see `{RESOLVE_COMMAND} list` and run it again once the other run ended."
            ) from None
        return DeliveryReport(tuple(done))

    def _keep_content(self, email: OutgoingEmail) -> None:
        with self.engine.begin() as db:
            hold_lock(db, f"content|{email.content_hash}")
            kept = db.execute(select(contents.c.content_hash).where(contents.c.content_hash == email.content_hash))
            if kept.first() is None:
                db.execute(insert(contents).values(content_hash=email.content_hash, email=_email_json(email)))

    def resend(self, mailer: Mailer, entry: int) -> DeliveryResult:
        """Send entry `entry`'s email again to its one recipient, an admin's decision: an entry of
        unknown outcome (or pending) is first resolved as failed (it did not arrive). Refused
        (LookupError) for an entry that was sent, whose content was not kept, or that went
        through another channel than `mailer`'s."""
        with database_answering(self.engine, lambda: "Nothing was sent."), self.engine.connect() as db:
            row = db.execute(select(deliveries).where(deliveries.c.id == entry)).mappings().first()
            kept = (
                None
                if row is None
                else db.execute(select(contents.c.email).where(contents.c.content_hash == row["content_hash"])).scalar()
            )
        if row is None:
            raise LookupError(f"there is no delivery entry {entry}")
        if row["status"] == "sent":
            raise LookupError(f"entry {entry} is 'sent': it arrived, nothing to re-send")
        if row["channel"] != mailer.channel:
            raise LookupError(
                f"entry {entry} went through {row['channel']}, but these settings send through {mailer.channel}: "
                "re-send it with the settings of the run that sent it (SENDGRID_API_KEY, COACHING_… variables)"
            )
        if kept is None:
            raise LookupError(
                f"the content of entry {entry} was not kept (it was sent before re-sends were possible): "
                f"`{RESOLVE_COMMAND} mark-failed {entry}`, then run the flow again: it sends to {row['recipient']} only"
            )
        if row["status"] in UNRESOLVED:
            self.resolve(entry, "failed", f"re-sent by an admin ({RESOLVE_COMMAND} resend)")
        email = replace(_email_from_json(str(kept)), recipients=(str(row["recipient"]),))
        return self.send_once(mailer, email).results[0]

    def _send_to(self, mailer: Mailer, email: OutgoingEmail, force: bool, force_hint: str) -> DeliveryResult:
        [recipient] = email.recipients
        key = delivery_key(email.kind, email.period, recipient, email.content_hash, mailer.channel)
        what = f"the {email.kind_name} for {email.period} to {recipient}"
        with self.engine.begin() as db:
            hold_lock(db, key)
            earlier = (
                db.execute(
                    select(deliveries)
                    .where(deliveries.c.delivery_key == key, deliveries.c.status.in_(("sent", "pending", "unknown")))
                    .order_by(deliveries.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if earlier is not None and not force:
                return _earlier_result(earlier, what, mailer.channel, force_hint)
            entry = db.execute(
                insert(deliveries)
                .values(
                    delivery_key=key,
                    kind=email.kind,
                    period=email.period,
                    recipient=recipient,
                    channel=mailer.channel,
                    content_hash=email.content_hash,
                    subject=email.subject,
                    status="pending",
                    forced=int(force),
                    started_at=_now(),
                )
                .returning(deliveries.c.id)
            ).scalar_one()
        try:
            receipt = mailer.send(email)
        except DeliveryUnknown as exc:
            return self._finish(
                entry,
                "unknown",
                DeliveryResult(
                    recipient,
                    Outcome.UNKNOWN,
                    f"Unknown whether {what} arrived: {exc} It was not sent again, to avoid a duplicate. "
                    + unknown_advice(entry),
                    entry=entry,
                ),
                error=str(exc),
            )
        except DeliveryError as exc:
            return self._finish(
                entry,
                "failed",
                DeliveryResult(recipient, Outcome.FAILED, f"Not sent {what}: {exc}", entry=entry),
                error=str(exc),
            )
        except BaseException as exc:
            # An interrupt, a cancellation or a bug may land after the provider accepted the email.
            with suppress(Exception):  # the database may be what failed: the entry then stays pending
                self._finish(entry, "unknown", DeliveryResult(recipient, Outcome.UNKNOWN, ""), error=type(exc).__name__)
            raise
        return self._finish(
            entry,
            "sent",
            DeliveryResult(
                recipient,
                Outcome.SENT,
                f"Sent {what}" + (" (forced re-send)." if force else "."),
                receipt.where,
                entry,
            ),
            receipt=receipt.where,
        )

    def _finish(
        self, entry: int, status: str, result: DeliveryResult, *, receipt: str | None = None, error: str | None = None
    ) -> DeliveryResult:
        """Record the result of entry `entry`; `result` is what it says. Should the database be gone, the
        result is still known: the entry stays `pending`, so that no run sends it again."""
        try:
            with self.engine.begin() as db:
                db.execute(
                    update(deliveries)
                    .where(deliveries.c.id == entry)
                    .values(status=status, finished_at=_now(), receipt=receipt, error=error)
                )
        except (OperationalError, InterfaceError) as exc:
            unrecorded = replace(
                result,
                message=(
                    f"{result.message} The ledger could not record it: entry {entry} stays pending, so that no run "
                    f"sends it again; once the database is back, `{RESOLVE_COMMAND} mark-{'sent' if status == 'sent' else 'failed'} "
                    f"{entry}` records it."
                ),
            )
            raise _Unrecorded(unrecorded, exc) from None
        return result

    def history(
        self, kind: str | None = None, status: str | tuple[str, ...] | None = None, limit: int | None = None
    ) -> list[dict[str, object]]:
        """The recorded deliveries, newest first (the `limit` newest when given); `status` may name
        several (UNRESOLVED: what waits for an admin's decision)."""
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(deliveries.c.kind == kind)
        if status is not None:
            query = query.where(
                deliveries.c.status.in_(status) if isinstance(status, tuple) else deliveries.c.status == status
            )
        with database_answering(self.engine, lambda: ""), self.engine.connect() as db:
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
        self, kind: EmailKind, recipients: Sequence[str], content_hash: str, channel: str
    ) -> dict[str, object] | None:
        """The newest entry of this kind sent through `channel` when every one of `recipients` last
        received this very content that way; None otherwise (what "unchanged since the last notice"
        is measured against)."""
        newest: dict[str, object] | None = None
        with database_answering(self.engine, lambda: "Nothing was sent."), self.engine.connect() as db:
            for recipient in recipients:
                row = (
                    db.execute(
                        select(deliveries)
                        .where(
                            deliveries.c.kind == kind,
                            deliveries.c.channel == channel,
                            deliveries.c.status == "sent",
                            func.lower(deliveries.c.recipient) == recipient.strip().lower(),
                        )
                        .order_by(deliveries.c.id.desc())
                        .limit(1)
                    )
                    .mappings()
                    .first()
                )
                if row is None or row["content_hash"] != content_hash:
                    return None
                if newest is None or row["id"] > newest["id"]:
                    newest = dict(row)
        return newest


def _email_json(email: OutgoingEmail) -> str:
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data).decode("ascii")

    return json.dumps(
        {
            "kind": email.kind,
            "period": email.period,
            "sender": email.sender,
            "subject": email.subject,
            "html": email.html,
            "text": email.text,
            "tags": email.tags,
            "identity": b64(email.identity),
            "attachments": [
                {
                    "filename": a.filename,
                    "content": b64(a.content),
                    "mime_type": a.mime_type,
                    "content_id": a.content_id,
                }
                for a in email.attachments
            ],
        }
    )


def _email_from_json(text: str) -> OutgoingEmail:
    kept = json.loads(text)
    kind, identity = kept.pop("kind"), kept.pop("identity")
    attachments = tuple(
        Attachment(a["filename"], base64.b64decode(a["content"]), a["mime_type"], a["content_id"])
        for a in kept.pop("attachments")
    )
    return OutgoingEmail(
        **kept,
        kind=EmailKind(kind),
        recipients=(),
        attachments=attachments,
        identity=None if identity is None else base64.b64decode(identity),
    )


def unresolved_lines(ledger: DeliveryLedger) -> list[str]:
    """Each email of unknown outcome (or a send a run never finished) that waits for an admin's
    decision, one sentence each with what to do."""
    return [
        f"Unresolved delivery {row['id']}: the {row['kind']} for {row['period']} to {row['recipient']} "
        f"({row['channel']}, {row['status']} since {row['started_at']}). " + unknown_advice(int(str(row["id"])))
        for row in ledger.history(status=UNRESOLVED)
    ]


def _earlier_result(row: RowMapping, what: str, channel: str, force_hint: str) -> DeliveryResult:
    recipient = str(row["recipient"])
    if row["status"] == "sent":
        return DeliveryResult(
            recipient,
            Outcome.ALREADY_SENT,
            f"Not sent again: {what} was already sent ({channel}) at {row['finished_at']} "
            f"(use {force_hint} to send it again).",
            str(row["receipt"] or ""),
            int(row["id"]),
        )
    cause = (
        "its answer was lost"
        if row["status"] == "unknown"
        else "its result was never recorded (a run stopped mid-send, or the database went away)"
    )
    return DeliveryResult(
        recipient,
        Outcome.UNKNOWN,
        f"Not sent: an attempt to send {what} started at {row['started_at']} and {cause}. "
        + unknown_advice(int(row["id"])),
        entry=int(row["id"]),
    )


def _widen_short_periods(db: Connection) -> None:
    """A PostgreSQL ledger made when `period` held at most 40 characters takes an admin alert's
    longer one from now on (SQLite never enforced the length)."""
    if db.dialect.name != "postgresql":
        return
    (period,) = [column for column in inspect(db).get_columns(deliveries.name) if column["name"] == "period"]
    if getattr(period["type"], "length", None) is not None:
        db.execute(text(f"ALTER TABLE {deliveries.name} ALTER COLUMN period TYPE TEXT"))


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
        channel = (
            "outbox"
            if receipt and not receipt.startswith("sendgrid")
            else ("sendgrid-sandbox" if receipt.startswith("sendgrid-sandbox") else "sendgrid")
        )
        status = "unknown" if row["status"] == "pending" else row["status"]
        for recipient in str(row["recipients"]).split(","):
            recipient = recipient.strip()
            yield {
                "delivery_key": delivery_key(row["kind"], row["period"], recipient, row["content_hash"], channel),
                "kind": row["kind"],
                "period": row["period"],
                "recipient": recipient,
                "channel": channel,
                "content_hash": row["content_hash"],
                "subject": "",
                "status": status,
                "forced": row["forced"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "receipt": row["receipt"],
                "error": row["error"],
            }
