"""An email as the core builds it, before any mailer turns it into a wire format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # "image/png", "text/csv"
    content_id: str | None = None  # set for images shown inline (referenced as cid:<id>)

    @property
    def inline(self) -> bool:
        return self.content_id is not None


KIND_NAMES = {
    "quarterly_report": "quarterly report",
    "monthly_nudge": "monthly coaching nudge",
    "data_quality": "data-quality notice",
}


@dataclass(frozen=True)
class OutgoingEmail:
    kind: str  # "quarterly_report", "monthly_nudge", "data_quality"
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
        return KIND_NAMES.get(self.kind, self.kind.replace("_", " "))

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
