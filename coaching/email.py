"""An email as the core builds it, before any mailer turns it into a wire format."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # "image/png", "text/csv"
    content_id: str | None = None  # set for images shown inline (referenced as cid:<id>)

    @property
    def inline(self) -> bool:
        return self.content_id is not None


def file_attachments(files: Mapping[str, bytes]) -> tuple[Attachment, ...]:
    """Files attached by name, each with the MIME type its extension says ("scorecard.csv" → text/csv)."""
    return tuple(
        Attachment(name, content, mimetypes.guess_type(name)[0] or "application/octet-stream")
        for name, content in files.items()
    )


class EmailKind(StrEnum):
    """What an email is: part of its key in the delivery ledger (and of the entries admins list
    with `python -m ops.deliveries list --kind`), so each value is stored as it is written here."""

    QUARTERLY_REPORT = "quarterly_report"
    MONTHLY_NUDGE = "monthly_nudge"
    DATA_QUALITY = "data_quality"
    ADMIN_ALERT = "admin_alert"
    NETWORK_REPORT = "network_report"

    @property
    def words(self) -> str:
        """The kind in words: "quarterly report", "data-quality notice"."""
        return _KIND_WORDS[self]


_KIND_WORDS = {
    EmailKind.QUARTERLY_REPORT: "quarterly report",
    EmailKind.MONTHLY_NUDGE: "monthly coaching nudge",
    EmailKind.DATA_QUALITY: "data-quality notice",
    EmailKind.ADMIN_ALERT: "admin alert",
    EmailKind.NETWORK_REPORT: "network roll-up",
}


@dataclass(frozen=True)
class OutgoingEmail:
    kind: EmailKind
    period: str  # what it is about: "2026-Q3", "2026-10"
    sender: str
    recipients: tuple[str, ...]
    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    # Tags a mailer may pass on (SendGrid categories / custom args); never secrets.
    tags: dict[str, str] = field(default_factory=dict)
    # What makes two emails the same for the delivery ledger; by default everything in them. A
    # report sets it to its data, so that the day it was generated on does not make a re-run new.
    identity: bytes | None = None

    @property
    def kind_name(self) -> str:
        """The kind in words: "quarterly report", "data-quality notice"."""
        return EmailKind(self.kind).words

    @property
    def content_hash(self) -> str:
        """Same subject and content give the same hash: a re-run of unchanged data."""
        digest = hashlib.sha256(self.subject.encode("utf-8") + b"\0")
        if self.identity is not None:
            digest.update(self.identity)
            return digest.hexdigest()
        for part in (self.html, self.text):
            digest.update(part.encode("utf-8") + b"\0")
        for item in self.attachments:
            digest.update(item.filename.encode("utf-8") + b"\0" + item.content + b"\0")
        return digest.hexdigest()
