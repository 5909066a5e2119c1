"""Who may receive an email: plain addresses, each at an allowed domain when domains are configured.

Domains match exactly (case-insensitively): `example.org` admits `a@example.org` but not
`a@mail.example.org`; list a subdomain to admit it. Exact matching means a subdomain run by
someone else (a hosted service, a partner) never receives the data by accident.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from coaching.contract import EMAIL_PATTERN
from coaching.records import PipelineError

# Deliberately plain (the contract's one definition of a valid address): anything unusual is
# refused, not guessed.
_ADDRESS = re.compile(EMAIL_PATTERN)


def address_problem(address: str) -> str | None:
    """Why `address` cannot receive email, or None: the one test of an address before anything is
    sent. The contract's plain pattern (what a Staff email must look like), then email-validator's
    checks of the standard's limits that a pattern does not see (lengths of parts: `strict`, or the
    64-character local part goes unchecked; no DNS lookup)."""
    if not _ADDRESS.fullmatch(address):
        return "not a plain email address (name@domain, no display name)"
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


class RecipientError(PipelineError, ValueError):
    """An address that may not receive email (a fix in configuration); `offending` lists each one."""

    def __init__(self, message: str, offending: tuple[str, ...]) -> None:
        super().__init__(message)
        self.offending = offending


def _normalise_domains(domains: Sequence[str]) -> tuple[str, ...]:
    """Lower-case, without a leading "@" or a trailing dot, blanks dropped."""
    cleaned = (domain.strip().lstrip("@").rstrip(".").lower() for domain in domains)
    return tuple(dict.fromkeys(domain for domain in cleaned if domain))


def check_recipients(
    addresses: Sequence[str], allowed_domains: Sequence[str], setting: str = "the recipients"
) -> tuple[str, ...]:
    """The addresses trimmed and de-duplicated (case-insensitively, first spelling and order kept).

    Raises RecipientError naming every address that is not a plain email address or (when
    `allowed_domains` is not empty) is not at one of those domains, or when none is left; `setting`
    says where an admin configures them.
    """
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.strip().lower(), address.strip())
    unique.pop("", None)
    kept = tuple(unique.values())
    if not kept:
        raise RecipientError(f"No recipients: configure at least one email address in {setting}.", ())

    malformed = tuple(address for address in kept if address_problem(address))
    allowed = _normalise_domains(allowed_domains)
    outside = tuple(
        address
        for address in kept
        if allowed and address not in malformed and address.rpartition("@")[2].lower() not in allowed
    )
    problems = []
    if malformed:
        problems.append("not a plain email address (name@domain, no display name): " + ", ".join(map(repr, malformed)))
    if outside:
        problems.append(
            f"outside the allowed recipient domains ({', '.join(allowed)}; exact match, "
            "subdomains must be listed): " + ", ".join(outside)
        )
    if problems:
        raise RecipientError("Not sending: " + "; ".join(problems) + ".", malformed + outside)
    return kept
