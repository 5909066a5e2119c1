"""What the flows' tests read back: the emails the outbox mailer wrote."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path


def outbox(folder: Path) -> list[EmailMessage]:
    """Every .eml in `folder/outbox`, parsed, in file-name order."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((folder / "outbox").glob("*.eml"))
    ]
