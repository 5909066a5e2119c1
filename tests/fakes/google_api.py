"""A loopback stand-in for Google: the OAuth token endpoint and the Sheets v4 paths gspread uses.

It runs a real HTTP server on 127.0.0.1 (ephemeral port) in a background thread, so the real
gspread and google-auth talk to it over sockets exactly as they would to Google:

- `POST /token` checks the service-account JWT's RS256 signature against the public key of a key
  made by `new_service_account`, and issues a Bearer token carrying the JWT's scopes;
- `GET /v4/spreadsheets/<id>` (with `includeGridData=true`: every cell's userEnteredValue,
  effectiveValue and formattedValue, as `spreadsheets.get` gives them, pruned to the `fields` mask),
  `GET …/values/<range>`, `GET …/values:batchGet` and `POST …/values/<range>:append` answer with
  Google's JSON and error envelopes, trailing blank cells and rows trimmed, in FORMATTED_VALUE or
  UNFORMATTED_VALUE (serial dates or text).

Tests program faults (`fail_next`) and read the call log (`calls`, `sheets_calls`). `reads` counts
the read requests (every GET of the Sheets API, refused ones too); `FakeGoogle(read_quota=N)`
enforces Google's per-user read quota: more than N reads by one user within `quota_window`
seconds (60, as Google counts them) are refused with 429 RESOURCE_EXHAUSTED, Google's envelope.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

READ_SCOPES = {
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive",
}
WRITE_SCOPES = {"https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"}
SHEETS_EPOCH = dt.datetime(1899, 12, 30)
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_A1_BOX = re.compile(r"^([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$")


@dataclass(frozen=True)
class Formula:
    """A cell Sheets computes: what a USER_ENTERED write of text starting with '=' becomes.
    `value` is what it computes (a date, a number, text, a bool); None is the error #NAME?."""

    text: str
    value: object = None


@dataclass(frozen=True)
class Fault:
    """What the next Sheets call gets instead of its answer: an error status, after an optional
    stall; or, with `status=None`, the call is carried out and its answer is spoilt."""

    status: int | None = None  # None: answer normally (after the stall)
    retry_after: str | None = None
    stall: float = 0.0  # seconds to wait before answering (to trip the client's timeout)
    cut: bool = False  # the body stops half-way and the connection closes (ChunkedEncodingError)
    trickle: float = 0.0  # seconds between the bytes of the answer
    dropped: bool = False  # carried out (an append is written), then the connection closes unanswered


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # decoded, without the query
    query: dict[str, list[str]]
    status: int
    at: float  # time.monotonic() when the request arrived


@dataclass
class Spreadsheet:
    title: str
    tabs: dict[str, list[list[object]]]  # tab title -> rows of Python values (None is blank)
    sheet_ids: dict[str, int]
    shared_with: dict[str, str] = field(default_factory=dict)  # client_email -> "reader" | "writer"
    # tab title -> merged ranges as the API gives them: GridRange, 0-based, end exclusive
    merges: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    # For a benchmark whose cells never change: each grid answer is encoded once and kept.
    keep_answers: bool = False
    answers: dict[tuple[str, ...], bytes] = field(default_factory=dict, repr=False)


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(
    private_key: rsa.RSAPrivateKey, client_email: str, token_uri: str, key_id: str = "test-key-1"
) -> dict[str, str]:
    """The JSON of a service-account key, as the Cloud console downloads it."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "coaching-tests",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


def tabs_from_xlsx(path: Path) -> dict[str, list[list[object]]]:
    """Every tab of an `.xlsx` workbook as rows of values, the way Sheets would hold them after an
    import: a date-formatted cell without a time format is a date, otherwise a date-time."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)
    try:
        tabs: dict[str, list[list[object]]] = {}
        for sheet in book.worksheets:
            rows = []
            for row in sheet.iter_rows(min_row=1):
                values = []
                for cell in row:
                    value = cell.value
                    if isinstance(value, dt.datetime) and not _has_time_format(cell.number_format):
                        value = value.date()
                    values.append(value)
                rows.append(values)
            tabs[sheet.title] = rows
        return tabs
    finally:
        book.close()


def _has_time_format(number_format: str) -> bool:
    return bool(re.search(r"[hs]", re.sub(r'"[^"]*"', "", number_format.lower())))


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


class BadRequest(ValueError):
    """Answered 400 INVALID_ARGUMENT with this message."""


def _bad_range(text: str) -> BadRequest:
    return BadRequest(f"Unable to parse range: {text}")


def split_range(text: str) -> tuple[str, str]:
    """`'My Tab'!A1:C` → ("My Tab", "A1:C"); `Staff` → ("Staff", "")."""
    if text.startswith("'"):
        index, title = 1, []
        while index < len(text):
            char = text[index]
            if char == "'":
                if text[index + 1 : index + 2] == "'":
                    title.append("'")
                    index += 2
                    continue
                rest = text[index + 1 :]
                if rest and not rest.startswith("!"):
                    raise _bad_range(text)
                return "".join(title), rest[1:]
            title.append(char)
            index += 1
        raise _bad_range(text)
    title, _, box = text.partition("!")
    return title, box


def render(value: object, value_render: str, date_render: str) -> object:
    """One cell as the Sheets API returns it."""
    if value is None:
        return ""
    if isinstance(value, Formula):
        if value_render == "FORMULA":
            return value.text
        return "#NAME?" if value.value is None else render(value.value, value_render, date_render)
    formatted = value_render == "FORMATTED_VALUE"
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if formatted else value
    if isinstance(value, dt.datetime):
        if formatted or date_render == "FORMATTED_STRING":
            return f"{value.month}/{value.day}/{value.year} {value.hour}:{value:%M:%S}"
        return (value - SHEETS_EPOCH).total_seconds() / 86400
    if isinstance(value, dt.date):
        if formatted or date_render == "FORMATTED_STRING":
            return f"{value.month}/{value.day}/{value.year}"
        return (value - SHEETS_EPOCH.date()).days
    if isinstance(value, (int, float)):
        number = int(value) if float(value).is_integer() else float(value)
        return str(number) if formatted else number
    return str(value)


def _is_blank(value: object) -> bool:
    return value == ""


def _extended(value: object) -> dict[str, object]:
    """An ExtendedValue, as `spreadsheets.get` gives a cell's userEnteredValue or effectiveValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float, dt.date)):
        return {"numberValue": render(value, "UNFORMATTED_VALUE", "SERIAL_NUMBER")}
    return {"stringValue": str(value)}


def cell_data(value: object, parts: dict[str, dict] | None = None) -> dict[str, object]:
    """A CellData (a blank cell is `{}`) with the parts a `fields` mask asks for (`parts`: the tree
    under `values`; None or {} for all three values)."""
    if value is None or value == "":
        return {}
    parts = parts or {"userEnteredValue": {}, "effectiveValue": {}, "formattedValue": {}}
    cell: dict[str, object] = {}
    if "userEnteredValue" in parts:
        entered = {"formulaValue": value.text} if isinstance(value, Formula) else _extended(value)
        if parts["userEnteredValue"]:
            entered = {k: v for k, v in entered.items() if k in parts["userEnteredValue"]}
        if entered:
            cell["userEnteredValue"] = entered
    if "effectiveValue" in parts:
        computed = value.value if isinstance(value, Formula) else value
        cell["effectiveValue"] = (
            {"errorValue": {"type": "NAME", "message": "Unknown function."}}
            if computed is None
            else _extended(computed)
        )
    if "formattedValue" in parts:
        cell["formattedValue"] = render(value, "FORMATTED_VALUE", "FORMATTED_STRING")
    return cell


def grid_json(rows: list[list[object]], parts: dict[str, dict] | None, separators: tuple[str, str]) -> str:
    """A tab's GridData from A1 as JSON, encoded a row at a time: rowData with trailing blank cells
    and rows left out, a blank row `{}`; `parts` as for cell_data."""
    encoded = []
    for row in rows:
        cells = [cell_data(v, parts) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        encoded.append(json.dumps({"values": cells}, separators=separators) if cells else "{}")
    while encoded and encoded[-1] == "{}":
        encoded.pop()
    comma, colon = separators
    return f'{{"rowData"{colon}[' + comma.join(encoded) + "]}" if encoded else "{}"


def parse_fields(mask: str) -> dict[str, dict]:
    """A `fields` mask (`a.b,c(d,e/f)`) as a tree: name -> the tree of its sub-fields ({} = all)."""
    tree: dict[str, dict] = {}
    position = _parse_fields(mask.replace(" ", ""), 0, tree)
    if position != len(mask.replace(" ", "")):
        raise BadRequest(f"Invalid field selection {mask}")
    return tree


def _parse_fields(mask: str, position: int, tree: dict[str, dict]) -> int:
    while position < len(mask):
        match = re.compile(r"[A-Za-z_]+(?:[./][A-Za-z_]+)*").match(mask, position)
        if match is None:
            raise BadRequest(f"Invalid field selection {mask}")
        node = tree
        for name in re.split(r"[./]", match.group()):
            node = node.setdefault(name, {})
        position = match.end()
        if mask[position : position + 1] == "(":
            position = _parse_fields(mask, position + 1, node)
            if mask[position : position + 1] != ")":
                raise BadRequest(f"Invalid field selection {mask}")
            position += 1
        if mask[position : position + 1] == ",":
            position += 1
        elif mask[position : position + 1] == ")":
            return position
    return position


def pruned(answer: object, tree: dict[str, dict]) -> object:
    """The part of `answer` the mask asks for; an object left empty stays `{}` (a blank cell)."""
    if not tree:
        return answer
    if isinstance(answer, list):
        return [pruned(item, tree) for item in answer]
    if isinstance(answer, dict):
        kept = {key: pruned(value, tree[key]) for key, value in answer.items() if key in tree}
        # A member whose asked-for parts are all absent is left out (a number's userEnteredValue
        # under `userEnteredValue/formulaValue`).
        return {key: value for key, value in kept.items() if value != {} or answer[key] == {}}
    return answer


class FakeGoogle:
    """Google's token endpoint and Sheets v4 API on 127.0.0.1. Use as a context manager."""

    def __init__(self, read_quota: int | None = None, quota_window: float = 60.0) -> None:
        """`read_quota`: read requests allowed per user in each `quota_window` seconds (Google: 60
        a minute per user); None enforces none."""
        self.read_quota = read_quota
        self.quota_window = quota_window
        self.reads = 0  # read requests received (GET), whatever their answer
        self._read_windows: dict[str, tuple[float, int]] = {}  # user -> (window start, reads in it)
        self._lock = threading.Lock()
        self._public_keys: dict[str, rsa.RSAPublicKey] = {}
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}  # token -> (email, scopes)
        self._faults: deque[Fault] = deque()
        self._token_faults: deque[int] = deque()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.calls: list[Call] = []
        self.granted_scopes: list[frozenset[str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeGoogle:
        fake = self

        class Handler(_Handler):
            google = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeGoogle as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    # --- programming it --------------------------------------------------------------------
    def new_service_account(self, client_email: str, key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        """The JSON of a key for `client_email` (fresh unless given) whose public half this fake trusts."""
        key = key or new_private_key()
        with self._lock:
            self._public_keys[client_email] = key.public_key()
        return service_account_json(key, client_email, self.token_uri)

    def add_spreadsheet(
        self,
        key: str,
        title: str,
        tabs: dict[str, list[list[object]]],
        shared_with: dict[str, str] | None = None,
        keep_answers: bool = False,
    ) -> Spreadsheet:
        """`keep_answers`: the cells will not change (a benchmark), so each grid answer is encoded
        once and served again as it is."""
        # Sheets gives the first tab gid 0 and the others large arbitrary ids.
        sheet_ids = {name: 0 if i == 0 else 100_000_000 + 7919 * i for i, name in enumerate(tabs)}
        sheet = Spreadsheet(
            title,
            {k: [list(r) for r in v] for k, v in tabs.items()},
            sheet_ids,
            dict(shared_with or {}),
            keep_answers=keep_answers,
        )
        with self._lock:
            self.spreadsheets[key] = sheet
        return sheet

    def fail_next(self, *faults: int | Fault) -> None:
        """Queue faults for the next Sheets calls: a status code, or a `Fault`."""
        with self._lock:
            self._faults.extend(f if isinstance(f, Fault) else Fault(status=f) for f in faults)

    def fail_token_next(self, *statuses: int) -> None:
        """The next token requests get these HTTP statuses (an outage at the token endpoint)."""
        with self._lock:
            self._token_faults.extend(statuses)

    def take_token_fault(self) -> int | None:
        with self._lock:
            return self._token_faults.popleft() if self._token_faults else None

    @property
    def sheets_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/v4/")]

    @property
    def token_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/token"]

    # --- the token endpoint ----------------------------------------------------------------
    def issue_token(self, form: dict[str, list[str]]) -> tuple[int, dict]:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            header_b64, claims_b64, signature_b64 = form["assertion"][0].split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(claims_b64))
        except (KeyError, ValueError):
            return 400, {"error": "invalid_request", "error_description": "Invalid JWT."}
        with self._lock:
            public_key = self._public_keys.get(claims.get("iss", ""))
        if public_key is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}
        if header.get("alg") != "RS256":
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        try:
            public_key.verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        # google-auth always names Google's own endpoint as the audience, wherever it posts.
        if claims.get("aud") not in (self.token_uri, GOOGLE_TOKEN_AUDIENCE):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Bad audience."}
        if not claims.get("iat", 0) - 300 <= time.time() <= claims.get("exp", 0):
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: Token must be a short-lived token.",
            }
        scopes = frozenset(str(claims.get("scope", "")).split())
        token = "ya29.fake-" + secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = (claims["iss"], scopes)
            self.granted_scopes.append(scopes)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    # --- Sheets v4 -------------------------------------------------------------------------
    def take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def over_read_quota(self, email: str) -> bool:
        """Count a read by `email`; True when it is over the quota of its window (not counted there)."""
        with self._lock:
            self.reads += 1
            if self.read_quota is None:
                return False
            now = time.monotonic()
            start, count = self._read_windows.get(email, (now, 0))
            if now - start >= self.quota_window:
                start, count = now, 0
            if count >= self.read_quota:
                self._read_windows[email] = (start, count)
                return True
            self._read_windows[email] = (start, count + 1)
            return False

    def caller(self, authorization: str | None) -> tuple[str, frozenset[str]] | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            return self._tokens.get(authorization.removeprefix("Bearer "))

    def values(self, sheet: Spreadsheet, range_text: str, query: dict[str, list[str]]) -> dict:
        value_render = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        date_render = query.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
        title, box = split_range(range_text)
        match = _A1_BOX.match(box)
        if title not in sheet.tabs or match is None:
            raise _bad_range(range_text)
        col1, row1, col2, row2 = match.groups()
        first_col = _column_number(col1) if col1 else 1
        first_row = int(row1) if row1 else 1
        last_col = _column_number(col2) if col2 else (first_col if box and ":" not in box else None)
        last_row = int(row2) if row2 else (first_row if box and ":" not in box and row1 else None)
        with self._lock:
            grid = [list(row) for row in sheet.tabs[title]]
        rows = []
        for row in grid[first_row - 1 : last_row]:
            cells = [render(v, value_render, date_render) for v in row[first_col - 1 : last_col]]
            while cells and _is_blank(cells[-1]):
                cells.pop()
            rows.append(cells)
        while rows and not rows[-1]:
            rows.pop()
        width = max((len(r) for r in rows), default=0)
        end = f"{_column_letters(first_col + max(width, 1) - 1)}{first_row + max(len(rows), 1) - 1}"
        answer: dict = {
            "range": f"{quote_title(title)}!{_column_letters(first_col)}{first_row}:{end}",
            "majorDimension": "ROWS",
        }
        if rows:
            answer["values"] = rows
        return answer

    def append(self, sheet: Spreadsheet, range_text: str, query: dict, body: dict) -> dict:
        option = query.get("valueInputOption", [None])[0]
        if option not in ("RAW", "USER_ENTERED"):
            raise BadRequest("'valueInputOption' is required but not specified")
        title, _ = split_range(range_text)
        if title not in sheet.tabs:
            raise _bad_range(range_text)
        new_rows = [[_as_entered(v) if option == "USER_ENTERED" else v for v in row] for row in body.get("values", [])]
        with self._lock:
            grid = sheet.tabs[title]
            # Appended after the last row that has data (rows are inserted, nothing is overwritten).
            while grid and all(v is None or v == "" for v in grid[-1]):
                grid.pop()
            start = len(grid) + 1
            grid.extend(new_rows)
        width = max((len(r) for r in new_rows), default=0)
        return {
            "spreadsheetId": "",
            "tableRange": f"{quote_title(title)}!A1:{_column_letters(max(width, 1))}{start - 1}",
            "updates": {
                "updatedRange": f"{quote_title(title)}!A{start}:{_column_letters(max(width, 1))}{start + len(new_rows) - 1}",
                "updatedRows": len(new_rows),
                "updatedColumns": width,
                "updatedCells": sum(len(r) for r in new_rows),
            },
        }

    def spreadsheet(self, key: str, sheet: Spreadsheet, query: dict[str, list[str]]) -> bytes:
        """`spreadsheets.get`: the metadata, and with includeGridData=true every tab's cells; pruned
        to the `fields` mask as Google does. Encoded JSON (kept when the spreadsheet keeps answers)."""
        grid = query.get("includeGridData", ["false"])[0] == "true"
        fields = query.get("fields", [""])[0]
        # Google indents its JSON unless asked not to (prettyPrint=false): here, spaces or none.
        separators = (",", ":") if query.get("prettyPrint", ["true"])[0] == "false" else (", ", ": ")
        remembered = (str(grid), fields, separators[0])
        if grid and sheet.keep_answers and remembered in sheet.answers:
            return sheet.answers[remembered]
        tree = parse_fields(fields) if fields else {}
        answer: dict = self.metadata(key, sheet)
        data_tree = tree.get("sheets", {}).get("data") if tree else {}
        grids: list[str] = []
        if grid and data_tree is not None:
            parts = data_tree.get("rowData", {}).get("values") if data_tree else None
            with self._lock:
                tabs = {title: [list(row) for row in rows] for title, rows in sheet.tabs.items()}
            for entry in answer["sheets"]:
                entry["data"] = [f"@grid{len(grids)}@"]  # a placeholder for the JSON of its cells
                grids.append(grid_json(tabs[entry["properties"]["title"]], parts if data_tree else None, separators))
        if tree:
            answer = pruned(answer, {**tree, "sheets": {**tree["sheets"], "data": {}}} if grids else tree)  # type: ignore[assignment]
        pieces, rest = [], json.dumps(answer, separators=separators)
        for index, encoded in enumerate(grids):
            before, _, rest = rest.partition(f'"@grid{index}@"')
            pieces += [before, encoded]
        body = "".join([*pieces, rest]).encode()
        if grid and sheet.keep_answers:
            sheet.answers[remembered] = body
        return body

    def metadata(self, key: str, sheet: Spreadsheet) -> dict:
        """The spreadsheet's properties and every sheet's properties and merges (a mask prunes them)."""
        answer = {
            "spreadsheetId": key,
            "properties": {"title": sheet.title, "locale": "en_US", "timeZone": "America/New_York"},
            "sheets": [
                {
                    "properties": {
                        "sheetId": sheet.sheet_ids[name],
                        "title": name,
                        "index": index,
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": max(len(rows), 1000),
                            "columnCount": max((len(r) for r in rows), default=26),
                        },
                    }
                }
                for index, (name, rows) in enumerate(sheet.tabs.items())
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{key}/edit",
        }
        for entry in answer["sheets"]:
            merges = sheet.merges.get(entry["properties"]["title"])
            if merges:
                entry["merges"] = [{"sheetId": entry["properties"]["sheetId"], **grid} for grid in merges]
        return answer


def _as_entered(value: object) -> object:
    """What Sheets makes of a value typed by a user (USER_ENTERED): formulas, numbers, booleans."""
    if not isinstance(value, str):
        return value
    if value.startswith(("=", "+", "-", "@")) and len(value) > 1 and not _is_number(value):
        return Formula(value)
    if _is_number(value):
        return float(value) if "." in value else int(value)
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    return value


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+(\.\d+)?", text) is not None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        # A client that gave up (timeout test) leaves a broken pipe behind: not a failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    google: FakeGoogle

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        arrived = time.monotonic()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.google.take_fault() if parts.path.startswith("/v4/spreadsheets/") else None
        status, payload, extra = self._answer(method, parts.path, query, body, fault)
        with self.google._lock:
            self.google.calls.append(Call(method, unquote(parts.path), query, status, arrived))
        if fault is not None and fault.dropped:
            self.close_connection = True
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        if fault is not None and fault.cut:
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        if fault is not None and fault.trickle:
            self._headers_buffer.append(b"\r\n")
            answer = b"".join(self._headers_buffer) + data
            self._headers_buffer = []
            for byte in answer:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(fault.trickle)
            return
        self.end_headers()
        self.wfile.write(data)

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, fault: Fault | None
    ) -> tuple[int, dict | bytes, dict[str, str]]:
        google = self.google
        if path == "/token" and method == "POST":
            outage = google.take_token_fault()
            if outage is not None:
                return outage, {"error": "temporarily_unavailable", "error_description": "Try again later."}, {}
            status, payload = google.issue_token(parse_qs(body.decode()))
            return status, payload, {}
        if not path.startswith("/v4/spreadsheets/"):
            return _error(404, "Not Found")
        if fault is not None:
            time.sleep(fault.stall)
            if fault.status is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                status, payload, _ = _error(fault.status, "The service is currently unavailable.")
                return status, payload, extra
        caller = google.caller(self.headers.get("Authorization"))
        if caller is None:
            return _error(401, "Request is missing required authentication credential.")
        email, scopes = caller
        # Split the raw path before decoding: a tab title may hold an encoded '/'.
        key, _, tail = path.removeprefix("/v4/spreadsheets/").partition("/")
        sheet = google.spreadsheets.get(key)
        if sheet is None:
            return _error(404, "Requested entity was not found.")
        writing = method == "POST"
        if not scopes & (WRITE_SCOPES if writing else READ_SCOPES):
            return _error(403, "Request had insufficient authentication scopes.")
        role = sheet.shared_with.get(email)
        if role is None or (writing and role != "writer"):
            return _error(403, "The caller does not have permission")
        if not writing and google.over_read_quota(email):
            return _quota_exceeded()
        try:
            if method == "GET" and tail == "":
                return 200, google.spreadsheet(key, sheet, query), {}
            if method == "GET" and tail == "values:batchGet":
                ranges = [google.values(sheet, r, query) for r in query.get("ranges", [])]
                return 200, {"spreadsheetId": key, "valueRanges": ranges}, {}
            if method == "GET" and tail.startswith("values/"):
                return 200, google.values(sheet, unquote(tail.removeprefix("values/")), query), {}
            if method == "POST" and tail.startswith("values/") and tail.endswith(":append"):
                range_text = unquote(tail.removeprefix("values/").removesuffix(":append"))
                return 200, google.append(sheet, range_text, query, json.loads(body or b"{}")), {}
        except BadRequest as exc:
            return _error(400, str(exc))
        return _error(404, "Not Found")


def _error(code: int, message: str) -> tuple[int, dict, dict[str, str]]:
    status = _STATUS_NAMES.get(code, "UNKNOWN")
    return code, {"error": {"code": code, "message": message, "status": status}}, {}


def _quota_exceeded() -> tuple[int, dict, dict[str, str]]:
    """Google's answer to a read over the per-user quota (no Retry-After: it does not say when)."""
    quota = "Read requests per minute per user"
    code, payload, headers = _error(
        429,
        f"Quota exceeded for quota metric 'Read requests' and limit '{quota}' of service "
        "'sheets.googleapis.com' for consumer 'project_number:100000000001'.",
    )
    payload["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "quota_limit": "ReadRequestsPerMinutePerUser",
                "quota_metric": "sheets.googleapis.com/read_requests",
                "quota_limit_value": "60",
                "quota_location": "global",
                "service": "sheets.googleapis.com",
                "consumer": "projects/100000000001",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                }
            ],
        },
    ]
    return code, payload, headers
