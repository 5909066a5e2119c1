"""The live Google spreadsheet as a record source, and the write-back of proposals to it.

A read costs one Sheets call whatever the number of tabs, because the Sheets quota counts requests
(60 reads per minute per user), not cells: one `spreadsheets.get` with the grid data, restricted by
a `fields` mask to the tabs' titles, ids and merges and, per cell, the value the parser reads and
the formula when the cell holds one. Every call has a total deadline, and transient faults are retried a bounded number of
times, honouring `Retry-After` and long enough to wait out a one-minute quota window (gspread's own
BackOffHTTPClient never gives up on a persistent fault and ignores `Retry-After`). Reads retry any
transient fault, a cut-off body included; the append of proposals retries only when it provably did
not happen (no connection, a 429), never after an answer was lost.
Every failure becomes one `WorkbookError` sentence an admin can act on.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import google.auth.exceptions
import requests
import urllib3.exceptions
from google.auth.credentials import DEFAULT_UNIVERSE_DOMAIN
from google.auth.crypt import RSASigner
from google.oauth2.service_account import Credentials
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient, ParamsType
from gspread.urls import SPREADSHEET_URL
from gspread.utils import absolute_range_name

from adapters.retry import DeadlineExceeded, GaveUp, RetryRule, is_transient, with_retries
from coaching.contract import IMPROVEMENT_ACTIONS, normalise
from coaching.quality import cell_link  # the pure helper lives in the core; re-exported for callers
from coaching.records import CellRange, RawTab, RawWorkbook, WorkbookError

SHEETS_API_URL = "https://sheets.googleapis.com"
DRIVE_API_URL = "https://www.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
WRITE_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
REQUIRED_KEY_FIELDS = ("client_email", "private_key", "token_uri")
# What identifies a proposal: leadership changes its status, owner and due date when deciding on
# it, and a decided proposal must not come back as a new one on the next run.
# The one read: each tab's title, id and kind, its merged cells (a merge hides values, so the parser
# must know it) and per cell the value (as typed and computed, or as shown) and the formula if any.
GRID_FIELDS = (
    "properties.title,sheets(properties(sheetId,title,sheetType),merges,"
    "data(rowData(values({value},userEnteredValue/formulaValue))))"
)
# What an error value's type (`effectiveValue.errorValue.type`) shows in the sheet.
ERROR_TEXT = {
    "ERROR": "#ERROR!",
    "NULL_VALUE": "#NULL!",
    "DIVIDE_BY_ZERO": "#DIV/0!",
    "VALUE": "#VALUE!",
    "REF": "#REF!",
    "NAME": "#NAME?",
    "NUM": "#NUM!",
    "N_A": "#N/A",
    "LOADING": "Loading...",
}
PROPOSAL_KEY = ("quarter", "program_id", "best_practice", "action")

_KEY_IN_URL = re.compile(r"^https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]{25,}$")  # Sheets keys are 44 characters today

T = TypeVar("T")

__all__ = [
    "GoogleSheetsSource",
    "ServiceAccount",
    "ServiceAccounts",
    "cell_link",
    "load_service_account_info",
    "read_params",
    "spreadsheet_key_from",
    "spreadsheet_url",
]


def spreadsheet_key_from(reference: str) -> str | None:
    """The spreadsheet key in a Sheets URL, or a bare key; None for anything that is a file path."""
    text = reference.strip()
    match = _KEY_IN_URL.match(text)
    if match:
        return match.group(1)
    if _BARE_KEY.match(text) and not text.lower().endswith(".xlsx"):
        return text
    return None


def read_params(value_render: str) -> dict[str, str]:
    """The query of the one read (`spreadsheets.get`): the grid data, restricted to what the parser reads."""
    value = "formattedValue" if value_render == "FORMATTED_VALUE" else "effectiveValue"
    return {"includeGridData": "true", "fields": GRID_FIELDS.format(value=value), "prettyPrint": "false"}


def spreadsheet_url(key: str) -> str:
    return f"https://docs.google.com/spreadsheets/d/{key}/edit"


# --- credentials ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    """A service-account key and where it came from (for messages). The key never shows in a repr.

    Its private key is parsed once (`signer`), and its credentials are made once per scope: the
    sources built with the same ServiceAccount share them, and so share one access token."""

    info: Mapping[str, str] = field(repr=False)
    origin: str  # "the file /etc/coaching/sa.json" or "the Prefect Secret block google-service-account"
    signer: RSASigner = field(repr=False, compare=False)
    _credentials: dict[str, Credentials] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def client_email(self) -> str:
        return self.info["client_email"]

    def credentials(self, scope: str) -> Credentials:
        """The key's credentials for `scope` (the token request goes to the key's token_uri, as
        google-auth's from_service_account_info makes them)."""
        if scope not in self._credentials:
            self._credentials[scope] = Credentials(
                self.signer,
                service_account_email=self.info["client_email"],
                token_uri=self.info["token_uri"],
                scopes=[scope],
                project_id=self.info.get("project_id"),
                universe_domain=self.info.get("universe_domain", DEFAULT_UNIVERSE_DOMAIN),
                trust_boundary=self.info.get("trust_boundary"),
            )
        return self._credentials[scope]


class ServiceAccounts:
    """The service-account keys a process has read and checked, by where each came from and what
    it holds: a process that reads many spreadsheets with one key (a network's part, one agency
    after another) parses it once and keeps one access token, and a key changed on disk or in its
    Secret block is read again. Kept in memory only."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], ServiceAccount] = {}

    def load(
        self,
        path: Path | str | None = None,
        *,
        text: str | Mapping[str, Any] | None = None,
        block_name: str = "google-service-account",
    ) -> ServiceAccount:
        """As load_service_account_info, once for each key."""
        try:
            content = Path(path).read_text(encoding="utf-8") if path is not None else text
        except (OSError, UnicodeDecodeError):
            content = None  # load_service_account_info says what is wrong with the file
        if content is None:
            return load_service_account_info(path, text=text, block_name=block_name)
        known = (f"file {path}" if path is not None else f"block {block_name}", _canonical(content))
        if known not in self._known:
            self._known[known] = load_service_account_info(path, text=text, block_name=block_name)
        return self._known[known]


def _canonical(content: str | Mapping[str, Any]) -> str:
    return content if isinstance(content, str) else json.dumps(content, sort_keys=True, default=str)


def load_service_account_info(
    path: Path | str | None = None,
    *,
    text: str | Mapping[str, Any] | None = None,
    block_name: str = "google-service-account",
) -> ServiceAccount:
    """The service-account key from a JSON file (`path`), else from the value of the Prefect Secret
    block `block_name` (`text`: its JSON, or the mapping a Secret[dict] holds; None when there is
    no such block).

    Raises WorkbookError naming the file or block and what is wrong with it; the message never
    contains any of the key's material.
    """
    if path is not None and text is not None:
        raise ValueError("give either a credentials file or a Secret block's value, not both")
    if path is not None:
        file = Path(path)
        origin = f"the file {file}"
        if not file.is_file():
            raise WorkbookError(f"Google credentials: {origin} does not exist")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkbookError(f"Google credentials: cannot read {origin} ({type(exc).__name__})") from None
    else:
        origin = f"the Prefect Secret block {block_name}"
        if text is None or (isinstance(text, str) and not text.strip()):
            raise WorkbookError(
                f"Google credentials: {origin} does not exist or is empty; save the service "
                "account's JSON key in it, or set GOOGLE_APPLICATION_CREDENTIALS to the key file"
            )
    if isinstance(text, str):
        try:
            info = json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only: the decoder's message never quotes the document.
            raise WorkbookError(
                f"Google credentials: {origin} is not JSON ({exc.msg} at line {exc.lineno} "
                f"column {exc.colno}); download the service account's key as JSON again"
            ) from None
    else:
        info = dict(text)
    if not isinstance(info, dict):
        raise WorkbookError(f"Google credentials: {origin} is not a service-account key (not a JSON object)")
    if info.get("type") != "service_account":
        kind = info.get("type")
        what = f"a '{kind}' credential" if isinstance(kind, str) else "not a Google credential"
        raise WorkbookError(
            f"Google credentials: {origin} is {what}, not a service-account key; create a key for "
            "the service account (Keys > Add key > JSON)"
        )
    missing = [name for name in REQUIRED_KEY_FIELDS if not str(info.get(name) or "").strip()]
    if missing:
        raise WorkbookError(f"Google credentials: {origin} has no {', '.join(missing)}")
    try:
        signer = RSASigner.from_service_account_info(info)
    except (ValueError, TypeError):
        raise WorkbookError(f"Google credentials: the private_key in {origin} is not a readable private key") from None
    return ServiceAccount(info=info, origin=origin, signer=signer)


# --- bounded retries ---------------------------------------------------------------------------


def _is_key_refusal(exc: BaseException) -> bool:
    """Only `invalid_grant` means the token endpoint refused the key itself; any other
    RefreshError (a 503 google-auth already retried, say) is the endpoint being unwell."""
    return isinstance(exc, google.auth.exceptions.RefreshError) and "invalid_grant" in str(exc)


def _at_token_endpoint(exc: BaseException) -> bool:
    return isinstance(exc, (google.auth.exceptions.TransportError, google.auth.exceptions.RefreshError))


def _retryable_read(exc: BaseException) -> bool:
    """A read is idempotent: any transient fault is retried, a cut-off body included."""
    if isinstance(exc, APIError):
        return is_transient(exc.response.status_code)
    if _at_token_endpoint(exc):
        return not _is_key_refusal(exc)
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, DeadlineExceeded)
    )


def _never_left(exc: BaseException) -> bool:
    """The connection could not be made: nothing was sent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _retryable_write(exc: BaseException) -> bool:
    """An append is not idempotent: retried only when it provably did not happen."""
    if isinstance(exc, APIError):
        return exc.response.status_code == 429  # a quota refusal: nothing was written
    if _at_token_endpoint(exc):  # the token comes before the request
        return not _is_key_refusal(exc)
    return _never_left(exc)


class _OutcomeUnknown(Exception):
    """A write's request left and its answer was lost."""


class _GaveUp(Exception):
    """A transient fault outlasted the retry rule; `last` says what it was, in words."""

    def __init__(self, last: str, attempts: int, seconds: float, at_token_endpoint: bool) -> None:
        super().__init__(last)
        self.last, self.attempts, self.seconds = last, attempts, seconds
        self.at_token_endpoint = at_token_endpoint


class _BoundedHTTPClient(HTTPClient):
    """gspread's HTTP client with a total deadline per call, bounded retries by rule and a
    configurable API base URL.

    gspread builds its request URLs from constants imported by name, so the base URL is replaced
    here, on each request, rather than by patching `gspread.urls`.
    """

    def __init__(self, auth: Credentials, api_url: str, rule: RetryRule, sleep: Callable[[float], None]) -> None:
        super().__init__(auth)
        self.set_timeout(rule.socket_timeout)  # per connect and read; the rule's deadline bounds the whole call
        self.rule = rule
        self._sleep = sleep
        base = api_url.rstrip("/")
        self._rebase = {SHEETS_API_URL: base, DRIVE_API_URL: base} if base != SHEETS_API_URL else {}

    def _redirect(self, url: str) -> str:
        for real, replacement in self._rebase.items():
            if url.startswith(real + "/"):
                return replacement + url[len(real) :]
        return url

    def request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = self._redirect(endpoint)
        writing = method.upper() not in ("GET", "HEAD")
        try:
            return with_retries(
                lambda: super(_BoundedHTTPClient, self).request(method, url, **kwargs),
                self.rule,
                retryable=_retryable_write if writing else _retryable_read,
                retry_after=lambda exc: exc.response.headers.get("Retry-After") if isinstance(exc, APIError) else None,
                sleep=self._sleep,
            )
        except GaveUp as gave_up:
            raise _GaveUp(
                _transport_problem(gave_up.last, url, self.rule.call_deadline),
                gave_up.attempts,
                gave_up.seconds,
                _at_token_endpoint(gave_up.last),
            ) from None
        except Exception as exc:
            if writing and _retryable_read(exc):  # transient, but the request may have been applied
                raise _OutcomeUnknown(_transport_problem(exc, url, self.rule.call_deadline)) from exc
            raise


def _google_message(err: APIError) -> str:
    """Google's own sentence from its error envelope, without any request detail."""
    message = err.error.get("message") if isinstance(err.error, Mapping) else None
    if not isinstance(message, str) or err.error.get("code") == -1:
        return ""  # not Google's JSON envelope (a proxy's HTML page, for instance)
    return f"({message.strip().splitlines()[0][:200]})" if message.strip() else ""


def _transport_problem(exc: BaseException, url: str, deadline: float) -> str:
    if isinstance(exc, APIError):
        return f"HTTP {exc.response.status_code} {_google_message(exc)}".rstrip()
    if isinstance(exc, google.auth.exceptions.TransportError):
        return "no answer from the token endpoint"
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return f"the token endpoint failed ({_first_line(exc)})"
    host = re.sub(r"^(https?://[^/]+).*$", r"\1", url)
    if isinstance(exc, (requests.Timeout, DeadlineExceeded)):
        return f"no complete answer from {host} within {deadline:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the answer from {host} was cut off"
    if _never_left(exc):
        return f"cannot connect to {host}"
    return f"the connection to {host} dropped"


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return " ".join(text.split())[:200]


# --- the source -------------------------------------------------------------------------------


class GoogleSheetsSource:
    """One Google spreadsheet, read with a service account (read-only scope unless write_back)."""

    def __init__(
        self,
        key: str,
        service_account: ServiceAccount,
        api_url: str = SHEETS_API_URL,
        timeout: float = 30.0,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 65.0,
        budget: float = 180.0,
        sleep: Callable[[float], None] = time.sleep,
        value_render: Literal["UNFORMATTED_VALUE", "FORMATTED_VALUE"] = "UNFORMATTED_VALUE",
        write_back: bool = False,
    ) -> None:
        if value_render not in ("UNFORMATTED_VALUE", "FORMATTED_VALUE"):
            raise ValueError(f"value_render must be UNFORMATTED_VALUE or FORMATTED_VALUE, not {value_render!r}")
        self.key = key
        self.url = spreadsheet_url(key)
        self.account = service_account
        self.value_render = value_render
        self.write_back = write_back
        credentials = service_account.credentials(WRITE_SCOPE if write_back else READ_SCOPE)
        # Eight attempts with waits doubling from 1 s (each drawn from the upper half of its
        # ceiling, so at least 63 s in all) outlast the 60-second window of the Sheets per-minute
        # quota; `timeout` bounds each call from its first byte to its last.
        rule = RetryRule(timeout, max(1, max_attempts), base_delay, max_delay, budget)
        self._http = _BoundedHTTPClient(credentials, api_url, rule, sleep)

    def __repr__(self) -> str:
        return f"GoogleSheetsSource({self.key!r}, {self.account.client_email!r})"

    def read(self) -> RawWorkbook:
        params = read_params(self.value_render)
        value = "formattedValue" if self.value_render == "FORMATTED_VALUE" else "effectiveValue"
        body = self._call(
            "reading the spreadsheet's tabs and cells",
            lambda: self._http.request("get", SPREADSHEET_URL % self.key, params=params).content,
        )
        try:
            meta, grids = _decoded(body.decode("utf-8"), value)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise WorkbookError(
                f"Google Sheets answered something that is not a spreadsheet for {self.url} ({exc})"
            ) from None
        tabs = {}
        for sheet in meta.get("sheets", []):
            properties = sheet["properties"]
            if properties.get("sheetType", "GRID") != "GRID":  # charts have no cells
                continue
            rows, formulas = grids[properties["title"]]
            tabs[properties["title"]] = RawTab(
                properties["title"],
                rows,
                sheet_id=properties.get("sheetId", 0),
                merges=tuple(map(_cell_range, sheet.get("merges", []))),
                formulas=formulas,
            )
        title = meta.get("properties", {}).get("title") or self.key
        return RawWorkbook(tabs=tabs, label=f"Google Sheet {title}", url=self.url)

    def append_proposals(self, tab_title: str, proposals: Sequence[Mapping[str, object]]) -> int:
        """Append proposals to the Improvement Actions tab; returns how many rows were added.

        Each proposal maps contract column names (quarter, program_id, best_practice, action,
        owner, status, due_date) to values; they are placed under the tab's own headers, in its
        column order. A proposal whose quarter, program, best practice and action are already in the
        tab (whatever its status now) is skipped, so a re-run adds nothing. Values are written RAW:
        Sheets stores text that starts with =, +, - or @ as text, never as a formula.
        """
        if not self.write_back:
            raise WorkbookError("write-back is off: this source was opened with the read-only scope")
        doing = f"reading the tab '{tab_title}' before adding proposals"
        tab_range = absolute_range_name(tab_title)
        current = self._call(
            doing,
            lambda: self._http.values_get(self.key, tab_range, {"valueRenderOption": "FORMATTED_VALUE"}),
            writing=True,
        ).get("values", [])
        header = [normalise(str(cell)) for cell in current[0]] if current else []
        rows: list[list[object]] = []
        if not header:  # an empty tab gets the contract's header first
            header = IMPROVEMENT_ACTIONS.column_names
            rows.append(list(header))
        required = [c.name for c in IMPROVEMENT_ACTIONS.columns if c.in_header]
        missing = [name for name in required if name not in header]
        if missing:
            raise WorkbookError(f"cannot add proposals: the tab '{tab_title}' has no column {', '.join(missing)}")
        key_positions = [header.index(name) for name in PROPOSAL_KEY if name in header]
        seen = {_proposal_key(row, key_positions) for row in current[1:]}
        for proposal in proposals:
            row = [_raw_value(proposal.get(name)) for name in header]
            key = _proposal_key(row, key_positions)
            if key not in seen:
                seen.add(key)
                rows.append(row)
        appended = len(rows) - (0 if current else 1)
        if appended:
            params: ParamsType = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
            self._call(
                f"adding proposals to the tab '{tab_title}'",
                lambda: self._http.values_append(self.key, tab_range, params, {"values": rows}),
                writing=True,
            )
        return appended

    def _call(self, doing: str, call: Callable[[], T], writing: bool = False) -> T:
        try:
            return call()
        except (_GaveUp, _OutcomeUnknown, google.auth.exceptions.RefreshError, APIError) as exc:
            raise WorkbookError(self._explain(exc, doing, writing)) from None

    def _explain(self, exc: Exception, doing: str, writing: bool) -> str:
        """One sentence for the person running the pipeline: what failed and what to do."""
        account = self.account
        if isinstance(exc, _GaveUp) and exc.at_token_endpoint:
            return (
                f"Google credentials: no answer from the token endpoint {account.info['token_uri']} "
                f"named in {account.origin} ({exc.last}), {exc.attempts} attempts over {exc.seconds:.0f} s; "
                "the key itself was not refused: check the key's token_uri and the network, or try "
                "again later"
            )
        if isinstance(exc, _OutcomeUnknown):
            return (
                f"Google Sheets: unknown whether {doing} happened ({exc}); it was not repeated, so "
                "that no row is added twice. Look at the tab; the next run reads it first and adds "
                "only the proposals that are missing"
            )
        if isinstance(exc, _GaveUp):
            return (
                f"Google Sheets failed while {doing}: {exc.last}, {exc.attempts} attempts over "
                f"{exc.seconds:.0f} s; try again later"
            )
        if isinstance(exc, google.auth.exceptions.RefreshError):
            reason = str(exc.args[0]) if exc.args else type(exc).__name__
            return (
                f"Google credentials: the token endpoint {account.info['token_uri']} refused the "
                f"service account {account.client_email} from {account.origin} ({reason}); the key "
                "may have been deleted or the account disabled: create a new key"
            )
        assert isinstance(exc, APIError)
        return self._api_problem(exc, doing, writing)

    def _api_problem(self, exc: APIError, doing: str, writing: bool) -> str:
        status = exc.response.status_code
        message = _google_message(exc)
        email_address = self.account.client_email
        if status == 403 and re.search(r"has not been used|is disabled|SERVICE_DISABLED", str(exc.error)):
            return (
                "the Google Sheets API is not enabled in the service account's Cloud project; "
                f"enable it and re-run {message}".rstrip()
            )
        if status == 403 and writing:
            return (
                f"the spreadsheet {self.url} is not shared with {email_address} as Editor, so proposals cannot "
                "be written back; share it as Editor, or turn write-back off, and re-run"
            )
        if status == 403:
            return f"the spreadsheet {self.url} is not shared with {email_address}; share it as Viewer and re-run"
        if status == 404:
            return (
                f"there is no Google spreadsheet with the key {self.key} that the service account "
                f"{email_address} can open; check the source URL"
            )
        if status == 401:
            return (
                f"Google did not accept the access token of {email_address} from "
                f"{self.account.origin} {message}".rstrip()
            )
        return f"Google Sheets refused {doing}: HTTP {status} {message}".rstrip()


_JSON_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_JSON_TOKEN = r'[^{}\[\]",\s]+'  # a number, true or false
# A cell holding one plain value and nothing else: {"effectiveValue":{"numberValue":7}} or
# {"formattedValue":"7"}. Replaced by the value itself before the JSON is parsed, so that the
# millions of plain cells never become Python dicts; formulas, errors and blanks keep their object.
_PLAIN_CELL = {
    "effectiveValue": re.compile(
        r'\{\s*"effectiveValue"\s*:\s*\{\s*"(?:numberValue|stringValue|boolValue)"\s*:\s*('
        + _JSON_STRING
        + "|"
        + _JSON_TOKEN
        + r")\s*\}\s*\}"
    ),
    "formattedValue": re.compile(r'\{\s*"formattedValue"\s*:\s*(' + _JSON_STRING + r")\s*\}"),
}
_ROW_DATA = re.compile(r'"rowData"\s*:\s*\[')
_AFTER_ROWS = re.compile(r'"(?:rowMetadata|columnMetadata|startRow|startColumn|properties|merges|data)"\s*:')
_SPACE = re.compile(r"\s*")
_SLICE = 1 << 24  # characters of rows read at a time
Grid = tuple[list[list[object]], dict[tuple[int, int], str]]


def _decoded(text: str, value: str) -> tuple[dict[str, Any], dict[str, Grid]]:
    """The answer of `spreadsheets.get` with grid data: its metadata and, by sheet title, the rows
    of values and the formulas.

    Each tab's rows are cut out of the text and read a slice of rows at a time (so the answer never
    exists as millions of objects at once); in each slice, every plain cell is reduced to its value
    in the text itself (`split` and `join`, in C) before the slice is parsed (in C). Python looks
    only at the rows that still hold an object: a formula, an error value or a blank cell.
    """
    skeleton: list[str] = []
    grids: list[Grid] = []
    position = 0
    while found := _ROW_DATA.search(text, position):
        skeleton.append(text[position : found.end()])
        end = _rows_end(text, found.end())
        grids.append(_rows_read(text, found.end(), end, value))
        position = end
    skeleton.append(text[position:])
    document = json.loads("".join(skeleton))
    by_title: dict[str, Grid] = {}
    remaining = iter(grids)
    for sheet in document.get("sheets", []):
        has_rows = any("rowData" in data for data in sheet.get("data", []))
        by_title[sheet["properties"]["title"]] = next(remaining) if has_rows else ([], {})
    return document, by_title


def _rows_end(text: str, start: int) -> int:
    """Where the rowData array that starts at `start` closes (at its "]")."""
    # A row is {"values":[...]} or {}; the array ends at the first "]" after a row's end that is
    # not followed by another row. A JSON key cannot occur unescaped inside a string, so each
    # '{"values"' found is a row; the last row's end is found by parsing that row alone.
    last = text.rfind('{"values"', start, _next_key(text, start))
    position = start if last < 0 else json.JSONDecoder().raw_decode(text, last)[1]
    position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
    while text[position] != "]":  # blank rows ({}) after the last row with values
        position = _SPACE.match(text, text.index("}", position) + 1).end()  # type: ignore[union-attr]
        if text[position] == ",":
            position = _SPACE.match(text, position + 1).end()  # type: ignore[union-attr]
    return position


def _next_key(text: str, start: int) -> int:
    """Where the JSON after a rowData array goes on: its sheet's next member, or the next sheet."""
    found = _AFTER_ROWS.search(text, start)
    return found.start() if found else len(text)


def _rows_read(text: str, start: int, end: int, value: str) -> Grid:
    rows: list[list[object]] = []
    formulas: dict[tuple[int, int], str] = {}
    plain = _PLAIN_CELL[value]
    while start < end:
        cut = text.find('{"values"', min(start + _SLICE, end), end)
        stop = end if cut < 0 else cut
        piece = text[start:stop].rstrip().rstrip(",")
        for row in json.loads("[" + "".join(plain.split(piece)) + "]"):
            cells = row.get("values", [])
            if dict in map(type, cells):
                cells = _objects_read(cells, value, len(rows) + 1, formulas)
            rows.append(cells)
        start = stop
    return rows, formulas


def _objects_read(cells: list[Any], value: str, row: int, formulas: dict[tuple[int, int], str]) -> list[object]:
    """A row's cells that are still objects: a blank cell is None, a formula's value the one it
    computed (its formula noted in `formulas`), an error value the text the sheet shows."""
    read: list[object] = []
    for column, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            read.append(cell)
            continue
        formula = cell.get("userEnteredValue", {}).get("formulaValue")
        if formula is not None:
            formulas[(row, column)] = formula
        shown = cell.get(value)
        if isinstance(shown, dict):  # an effectiveValue: {"errorValue": {"type": "REF", …}}, or another kind
            error = shown.get("errorValue")
            shown = (
                ERROR_TEXT.get(str(error.get("type")), "#ERROR!")
                if isinstance(error, dict)
                else next(iter(shown.values()), None)
            )
        read.append(shown)
    return read


def _cell_range(grid_range: Mapping[str, int]) -> CellRange:
    """A GridRange (0-based, end exclusive; a 0 index may be left out of the JSON) in sheet coordinates."""
    return CellRange(
        grid_range.get("startRowIndex", 0) + 1,
        grid_range.get("endRowIndex", 0),
        grid_range.get("startColumnIndex", 0) + 1,
        grid_range.get("endColumnIndex", 0),
    )


def _raw_value(value: object) -> object:
    """A JSON value for a RAW write: blanks (None, NaN) as empty text, numbers and text as they are."""
    if value is None:
        return ""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):  # numpy integers too
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        return int(number) if number.is_integer() else number  # 2.0 is shown as 2, like Sheets
    return str(value)


def _proposal_key(row: Sequence[object], positions: Sequence[int]) -> tuple[str, ...]:
    """The identifying cells as text the sheet shows, whitespace and case folded."""
    return tuple(" ".join(str(row[i] if i < len(row) else "").split()).casefold() for i in positions)
