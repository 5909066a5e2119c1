"""How emails leave: the outbox folder (embedded default) or SendGrid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from coaching.email import OutgoingEmail
from coaching.records import PipelineError


@dataclass(frozen=True)
class SentReceipt:
    where: str  # a file path or a provider's message id, for the ledger and the run's artifacts


class DeliveryError(PipelineError):
    """The email was not delivered; the message is one line an admin can act on (never the key)."""


class DeliveryUnknown(DeliveryError):
    """The request left but its answer was lost (dropped, timed out): the email may have arrived.
    Never retried, never re-sent by a later run unless an admin forces it."""


class Mailer(Protocol):
    # Where emails go ("outbox", "sendgrid", "sendgrid-sandbox"): the ledger keeps deliveries
    # per channel, so a file in the outbox never stands in for a real send.
    channel: str

    def send(self, email: OutgoingEmail) -> SentReceipt:
        """Deliver one email to all its recipients; raise DeliveryError (or DeliveryUnknown)."""
        ...


def build_mime_message(email: OutgoingEmail) -> EmailMessage:
    """A complete RFC 5322 message: text and HTML alternatives, inline images, attachments."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = email.subject
    message["From"] = email.sender
    message["To"] = ", ".join(email.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=email.sender.rpartition("@")[2] or None)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None, "the HTML alternative was added above"
    for item in email.attachments:
        maintype, _, subtype = item.mime_type.partition("/")
        if item.inline:
            html_part.add_related(
                item.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{item.content_id}>",
                filename=item.filename,
                disposition="inline",
            )
    for item in email.attachments:
        maintype, _, subtype = item.mime_type.partition("/")
        if not item.inline:
            message.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    return message


class OutboxMailer:
    """Writes each email as an `.eml` file that any mail program opens."""

    channel = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, email: OutgoingEmail) -> SentReceipt:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{email.kind}-{email.period}")
        path = self.folder / f"{stem}-{email.content_hash[:10]}.eml"
        copy = 1
        while path.exists():  # a forced re-send is a second email, so a second file
            copy += 1
            path = self.folder / f"{stem}-{email.content_hash[:10]}-{copy}.eml"
        path.write_bytes(bytes(build_mime_message(email)))
        return SentReceipt(where=str(path))
