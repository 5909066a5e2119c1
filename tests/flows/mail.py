"""What the flows' tests read back: the emails the outbox mailer wrote."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path


def outbox(folder: Path) -> list[EmailMessage]:
    """Every .eml in `folder/outbox`, parsed, oldest first (file names end in a content hash, so
    their order says nothing about which was written last)."""
    paths = sorted((folder / "outbox").glob("*.eml"), key=lambda path: (path.stat().st_mtime_ns, path.name))
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in paths]
