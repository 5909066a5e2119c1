"""Delivery through SendGrid's v3 Mail Send API: one call per email, bounded retries, clear refusals.

Exactly-once is the ledger's job (adapters/ledger.py); this class makes one email arrive at most
once per call. Mail Send has no idempotency key, so a call is retried only when SendGrid said no
(429, 5xx) or the request never left (the connection could not be made or the body not sent). Once
the body has left, a lost answer (dropped connection, no complete answer within the deadline) is
`DeliveryUnknown`: SendGrid may have taken the email, and a retry could deliver it twice.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
from collections.abc import Callable
from dataclasses import replace
from http.client import HTTPException

from pydantic import SecretStr
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment as SendGridAttachment
from sendgrid.helpers.mail import Category, CustomArg, Mail, MailSettings, SandBoxMode

from adapters.mailers import DeliveryError, DeliveryUnknown, SentReceipt
from adapters.retry import DeadlineExceeded, GaveUp, RetryRule, is_transient, with_retries
from coaching.email import OutgoingEmail

__all__ = ["DeliveryError", "DeliveryUnknown", "SendGridMailer"]

MAX_MESSAGE_BYTES = 30_000_000  # SendGrid: the whole message "must be less than 30MB"
MAX_CATEGORY_LENGTH = 255  # SendGrid: up to 10 categories per message, each ASCII, at most 255 long
_NOT_RETRIED = {
    400: "SendGrid refused the email as malformed (400)",
    401: "SendGrid rejected the API key (401 Unauthorized)",
    403: "SendGrid rejected the API key (403 Forbidden)",
    413: "SendGrid refused the email as too large (413)",
}
_KEY_ADVICE = (
    ": check SENDGRID_API_KEY (or the Prefect Secret block) holds a current key with the "
    "'Mail Send' permission, and that the sender address is verified in SendGrid"
)


def _never_left(exc: BaseException) -> bool:
    """urllib wraps in URLError only what fails while connecting or sending the request, before
    SendGrid could have the whole body; an error reading the answer comes unwrapped."""
    return isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, SendGridHTTPError):
        return is_transient(exc.status_code)  # SendGrid answered: it did not take the email
    return _never_left(exc)


class SendGridMailer:
    """A `Mailer` that posts each email to SendGrid's `/v3/mail/send`."""

    def __init__(
        self,
        api_key: SecretStr,
        api_url: str = "https://api.sendgrid.com",
        sandbox_mode: bool = False,
        timeout: float = 30,
        retries: RetryRule = RetryRule(),  # noqa: B008 - frozen: one shared default is safe
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`timeout` bounds one call, first byte to last; `retries` the attempts and their waits."""
        self.api_url = api_url.rstrip("/")
        self.sandbox_mode = sandbox_mode
        self.channel = "sendgrid-sandbox" if sandbox_mode else "sendgrid"
        self.rule = replace(retries, call_deadline=timeout)
        self._sleep = sleep
        # python_http_client logs every request's headers (the Authorization bearer key included)
        # at DEBUG: keep that logger above DEBUG whatever the root level is.
        logging.getLogger("python_http_client.client").setLevel(logging.INFO)
        self._client = SendGridAPIClient(api_key.get_secret_value(), host=self.api_url)
        # Per connect and per read; the whole call is bounded by the rule's deadline (`timeout`) on top.
        self._client.client.timeout = self.rule.socket_timeout

    def send(self, email: OutgoingEmail) -> SentReceipt:
        payload = self._payload(email)
        size = len(json.dumps(payload).encode("utf-8"))
        if size >= MAX_MESSAGE_BYTES:
            raise DeliveryError(
                f"Not sent: the {email.kind.replace('_', ' ')} for {email.period} is "
                f"{size / 1e6:.1f} MB once encoded for SendGrid, which accepts less than "
                f"{MAX_MESSAGE_BYTES / 1e6:.0f} MB; make the attachments or charts smaller."
            )
        try:
            response = with_retries(
                lambda: self._client.send(payload),
                self.rule,
                retryable=_retryable,
                retry_after=lambda exc: _header(getattr(exc, "headers", None), "Retry-After"),
                sleep=self._sleep,
            )
        except GaveUp as gave_up:
            raise DeliveryError(
                f"Not sent: SendGrid did not accept the email after {gave_up.attempts} attempts over "
                f"{gave_up.seconds:.0f} s; last problem: {self._problem(gave_up.last)}. Try again later."
            ) from None
        except SendGridHTTPError as exc:
            raise DeliveryError(_refusal(exc, self.api_url)) from None
        except (DeadlineExceeded, OSError, HTTPException) as exc:  # the body left; the answer did not come
            raise DeliveryUnknown(
                f"SendGrid at {self.api_url} received the request but its answer was lost ({_reason(exc)})."
            ) from None
        message_id = _header(response.headers, "X-Message-Id") or "no-message-id"
        return SentReceipt(where=f"{self.channel}:{message_id}")

    def _problem(self, exc: BaseException) -> str:
        if isinstance(exc, SendGridHTTPError):
            return f"{exc.status_code} {exc.reason}"
        return f"could not reach SendGrid at {self.api_url} ({_reason(exc)})"

    def _payload(self, email: OutgoingEmail) -> dict[str, object]:
        """The JSON body of the one API call for this email."""
        mail = Mail(
            from_email=email.sender,
            to_emails=list(email.recipients),  # a list: everyone in one personalization
            subject=email.subject,
            plain_text_content=email.text,
            html_content=email.html,
        )
        # Mail's add_* methods prepend: add in reverse to keep the email's own order.
        for item in reversed(email.attachments):
            mail.add_attachment(
                SendGridAttachment(
                    base64.b64encode(item.content).decode("ascii"),
                    item.filename,
                    item.mime_type,
                    "inline" if item.inline else "attachment",
                    item.content_id,  # referenced from the HTML as cid:<content_id>
                )
            )
        for name in reversed(_categories(email)):
            mail.add_category(Category(name))
        for key, value in reversed(_custom_args(email).items()):
            mail.add_custom_arg(CustomArg(key, value))
        if self.sandbox_mode:
            mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
        payload: dict[str, object] = mail.get()
        return payload


def _categories(email: OutgoingEmail) -> list[str]:
    """Two stable names, since SendGrid keeps statistics per category (and advises against many
    distinct ones): the kind and the period. Per-run values (run id, hash) go in custom args."""
    names = [raw.encode("ascii", "replace").decode("ascii")[:MAX_CATEGORY_LENGTH] for raw in (email.kind, email.period)]
    return list(dict.fromkeys(name for name in names if name))


def _custom_args(email: OutgoingEmail) -> dict[str, str]:
    """Per-message tracking fields, shown in SendGrid's activity feed and event webhooks."""
    return {
        **{str(key): str(value) for key, value in email.tags.items()},
        "kind": email.kind,
        "period": email.period,
        "content_hash": email.content_hash,
    }


def _refusal(exc: SendGridHTTPError, api_url: str) -> str:
    """One line for a refusal that retrying cannot fix, with SendGrid's own explanation."""
    if exc.status_code in (401, 403):  # the body adds nothing an admin can use
        return _NOT_RETRIED[exc.status_code] + _KEY_ADVICE + "."
    lead = _NOT_RETRIED.get(exc.status_code) or (
        f"SendGrid at {api_url} refused the request ({exc.status_code} {exc.reason})"
    )
    details = _error_details(exc.body)
    return f"{lead}: {details}." if details else f"{lead}."


def _error_details(body: bytes | None) -> str:
    """SendGrid's `{"errors": [{"message", "field"}]}` as one line; raw text if it is not that."""
    text = (body or b"").decode("utf-8", "replace").strip()
    try:
        errors = json.loads(text)["errors"]
        parts = [
            f"{error.get('message')}" + (f" (field {error['field']})" if error.get("field") else "") for error in errors
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        parts = [text[:300]]
    return " ".join("; ".join(parts).split())


def _header(headers: object, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    return str(value).strip() if value else None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split()) or type(exc).__name__
