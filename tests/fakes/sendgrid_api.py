"""A loopback stand-in for SendGrid's v3 Mail Send API, driven by the real `sendgrid` client.

`POST /v3/mail/send` answers like SendGrid: 401 with SendGrid's body for a wrong key, 400 with
`{"errors": [{"message", "field", "help"}]}` for a malformed message, 202 with an empty body and an
`X-Message-Id` header when accepted (200 without a message id in sandbox mode, which delivers
nothing). Tests queue faults (a status with an optional Retry-After, a dropped connection, an
answer that trickles, and each of these after SendGrid has taken the email), reject given
addresses, and read back what was accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coaching.email import Attachment, EmailKind, OutgoingEmail

TEST_API_KEY = "SG.fake-key-for-tests.not-a-secret"
UNAUTHORIZED_BODY = {
    "errors": [
        {
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "field": None,
            "help": None,
        }
    ]
}
MAX_BODY_BYTES = 30_000_000
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."


@dataclass(frozen=True)
class Fault:
    """One planned answer instead of the normal one: `status=None` drops the connection unanswered.

    `accepted=True`: SendGrid takes the email first (it will be delivered), then the answer is
    lost or late: the "accept-then-drop" and "accept-then-hang" of a real network.
    """

    status: int | None
    retry_after: str | None = None
    body: bytes | None = None  # None: SendGrid's error shape with the status phrase
    delay: float = 0.0  # seconds before answering (or dropping)
    accepted: bool = False
    trickle: float = 0.0  # seconds between the bytes of the answer (a reply that never ends)


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when the request arrived
    answer: str  # "202", "429", "dropped", ...


class FakeSendGrid:
    """Start with `with FakeSendGrid() as fake:` (or the `fake_sendgrid` fixture); point the mailer
    at `fake.url`."""

    def __init__(self, api_key: str = TEST_API_KEY, response_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.response_delay = response_delay  # before answering an accepted (already recorded) email
        self.after_accepting: Callable[[], object] | None = None  # e.g. stop a database once an email is taken
        self.messages: list[dict[str, Any]] = []  # accepted for delivery
        self.message_ids: list[str] = []  # the X-Message-Id given for each of `messages`
        self.sandboxed: list[dict[str, Any]] = []  # validated in sandbox mode, not delivered
        self.requests: list[Request] = []  # every POST /v3/mail/send, as answered
        self.rejected_addresses: set[str] = set()  # answered 400, like an address SendGrid refuses
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, *faults: Fault) -> None:
        """The next requests get these answers, in order; later ones are handled normally."""
        with self._lock:
            self._faults.extend(faults)

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"the fake got {len(self.messages)} of {count} emails"
            time.sleep(0.01)

    def start(self) -> FakeSendGrid:
        fake = self

        class Handler(_MailSendHandler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a handler sleeping on a slow answer must not block stop()
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _accept(self, message: dict[str, Any]) -> str:
        """Keep an email for delivery (or for validation only, in sandbox mode); its message id."""
        message_id = uuid.uuid4().hex[:22]
        with self._lock:
            if message.get("mail_settings", {}).get("sandbox_mode", {}).get("enable"):
                self.sandboxed.append(message)
            else:
                self.messages.append(message)
                self.message_ids.append(message_id)
        if self.after_accepting is not None:
            self.after_accepting()
        return message_id

    def recipients(self) -> list[str]:
        """The address of every accepted email, in order of arrival."""
        return [to["email"] for message in self.messages for p in message["personalizations"] for to in p["to"]]

    def _note(self, at: float, answer: str) -> None:
        with self._lock:
            self.requests.append(Request(at, answer))


class _MailSendHandler(BaseHTTPRequestHandler):
    owner: FakeSendGrid

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        fake = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.rstrip("/") != "/v3/mail/send":
            self._answer(arrived, 404, _errors([("Not Found", None)]))
            return
        if length > MAX_BODY_BYTES:
            self._answer(arrived, 413, _errors([("Request Entity Too Large", None)]))
            return
        raw = self.rfile.read(length)
        if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            self._answer(arrived, 401, UNAUTHORIZED_BODY)
            return
        fault = fake._next_fault()
        if fault is not None and fault.accepted:
            message_id = fake._accept(json.loads(raw))
            if fault.status is None:
                fake._note(arrived, "accepted-then-dropped")
                time.sleep(fault.delay)
                self.close_connection = True
                return
            time.sleep(fault.delay)
            self._answer(arrived, fault.status, b"", {"X-Message-Id": message_id}, trickle=fault.trickle)
            return
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status is None:
                fake._note(arrived, "dropped")
                self.close_connection = True  # no status line: the client sees the connection die
                return
            body = fault.body if fault.body is not None else _errors([(HTTPStatus(fault.status).phrase, None)])
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._answer(arrived, fault.status, body, headers)
            return
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._answer(arrived, 400, _errors([("Bad Request", None)]))
            return
        problems = _validate(message) + [
            ("Does not contain a valid address.", f"personalizations.{i}.to.{j}.email")
            for i, personalization in enumerate(message.get("personalizations") or [])
            for j, to in enumerate(personalization.get("to") or [])
            if str(to.get("email", "")).lower() in fake.rejected_addresses
        ]
        if problems:
            self._answer(arrived, 400, _errors(problems))
            return
        sandbox = bool(message.get("mail_settings", {}).get("sandbox_mode", {}).get("enable"))
        delay = fake.response_delay  # as it was when the email came: a test may change it once it sees the email
        message_id = fake._accept(message)
        time.sleep(delay)  # accepted already: a slow answer, not a lost email
        if sandbox:
            self._answer(arrived, 200, b"")
        else:
            self._answer(arrived, 202, b"", {"X-Message-Id": message_id})

    def _answer(
        self,
        arrived: float,
        status: int,
        body: bytes | dict[str, Any],
        headers: dict[str, str] | None = None,
        trickle: float = 0.0,
    ) -> None:
        self.owner._note(arrived, f"{status}-trickled" if trickle else str(status))
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if not trickle:
            self.end_headers()
            self.wfile.write(data)
            return
        self._headers_buffer.append(b"\r\n")  # what end_headers adds, sent a byte at a time
        answer = b"".join(self._headers_buffer) + data
        self._headers_buffer = []
        try:
            for byte in answer:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:  # the client gave up
            pass


def _errors(problems: list[tuple[str, str | None]]) -> dict[str, Any]:
    return {
        "errors": [
            {"message": message, "field": where, "help": _HELP + where if where else None}
            for message, where in problems
        ]
    }


def _validate(message: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Roughly SendGrid's checks of a Mail Send body: (message, field) for each problem."""
    problems: list[tuple[str, str | None]] = []
    personalizations = message.get("personalizations") or []
    if not personalizations:
        problems.append(
            (
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
            )
        )
    for index, personalization in enumerate(personalizations):
        addresses = [str(to.get("email", "")) for to in personalization.get("to") or [{}]]
        if not all("@" in address for address in addresses):
            problems.append(
                (
                    "The to array is required for all personalization objects, and must have at "
                    "least one email object with a valid email address.",
                    f"personalizations.{index}.to",
                )
            )
    if "@" not in str((message.get("from") or {}).get("email", "")):
        problems.append(
            (
                "The from object must be provided for every email send. It is an object that "
                'requires the email parameter, but may also contain a name parameter.  e.g. {"email" '
                ': "example@example.com"}',
                "from.email",
            )
        )
    if not message.get("subject"):
        problems.append(
            (
                "The subject is required. You can get around this requirement if you use a template "
                "with a subject defined or if every personalization has a subject defined.",
                "subject",
            )
        )
    contents = message.get("content") or []
    if not any(content.get("value") for content in contents):
        problems.append(
            (
                "Unless a valid template_id is provided, the content parameter is required. There "
                "must be at least one defined content block.",
                "content",
            )
        )
    elif contents[0].get("type") != "text/plain" and any(c.get("type") == "text/plain" for c in contents):
        problems.append(("If present, text/plain must be first, followed by text/html.", "content"))
    for index, attachment in enumerate(message.get("attachments") or []):
        try:
            base64.b64decode(attachment.get("content", ""), validate=True)
        except (binascii.Error, TypeError):
            problems.append(("The attachment content must be base64 encoded.", f"attachments.{index}.content"))
        if not attachment.get("filename"):
            problems.append(("The attachment filename parameter is required.", f"attachments.{index}.filename"))
        if attachment.get("disposition") == "inline" and not attachment.get("content_id"):
            problems.append(
                (
                    "The content_id parameter is required if your attachment disposition is inline.",
                    f"attachments.{index}.content_id",
                )
            )
    categories = message.get("categories") or []
    if len(categories) > 10 or any(len(c) > 255 or not c.isascii() for c in categories):
        problems.append(("Categories: at most 10, each ASCII and at most 255 characters.", "categories"))
    for key, value in (message.get("custom_args") or {}).items():
        if not isinstance(value, str):
            problems.append((f"Invalid type. Expected: string, given: {type(value).__name__}.", f"custom_args.{key}"))
    return problems


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


# A 1×1 PNG: enough for a mail client (and the parsers in the tests) to treat it as an image.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def report_email(recipients: tuple[str, ...] = ("ceo@example.org", "cfo@example.org"), **changes: Any) -> OutgoingEmail:
    """A quarterly report email shaped like the pipeline's: an inline chart and the three CSVs."""
    fields: dict[str, Any] = {
        "kind": EmailKind.QUARTERLY_REPORT,
        "period": "2026-Q3",
        "sender": "coaching-reports@example.org",
        "recipients": recipients,
        "subject": "Coaching effectiveness, 2026-Q3",
        "html": '<h1>Coaching, 2026-Q3</h1><img src="cid:coverage-chart" alt="Monthly coverage">',
        "text": "Coaching, 2026-Q3\nMonthly coverage: 87% (target 90%).",
        "attachments": (
            Attachment("coverage.png", TINY_PNG, "image/png", content_id="coverage-chart"),
            Attachment("scorecard.csv", b"program,coverage\nHome Visiting,0.87\n", "text/csv"),
            Attachment("recommendations.csv", b"program,priority,step\nHome Visiting,1,Observe\n", "text/csv"),
            Attachment("data_quality.csv", "tab,row,issue\nStaff,4,Café \u2013 no email\n".encode(), "text/csv"),
        ),
        "tags": {"run_id": "run-1234"},
    }
    fields.update(changes)
    return OutgoingEmail(**fields)
