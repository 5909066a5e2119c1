"""The Google Sheets source and write-back, with the real gspread and google-auth against a loopback
stand-in of Google (tests/fakes/google_api.py)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from adapters.google_sheets import (
    GoogleSheetsSource,
    ServiceAccount,
    ServiceAccounts,
    cell_link,
    load_service_account_info,
    spreadsheet_key_from,
)
from adapters.sources import XlsxSource
from coaching.parsing import parse_workbook
from coaching.records import RawWorkbook, WorkbookError
from tests.coaching.workbooks import HEADERS
from tests.deadlines import scaled
from tests.fakes.google_api import (
    FakeGoogle,
    Fault,
    Formula,
    new_private_key,
    service_account_json,
    tabs_from_xlsx,
)

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
READER = "coaching-reader@agency-data.iam.gserviceaccount.com"
TITLES: dict[str, str] = {}  # the contract's default tab titles
SHEETS_EPOCH = dt.datetime(1899, 12, 30)
ACTIONS_HEADER = ["Program ID", "Quarter", "Action", "Best Practice", "Status", "Owner", "Due Date"]


@pytest.fixture(scope="module")
def reader_key():
    return new_private_key()


@pytest.fixture(scope="module")
def workbook_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small contract-shaped workbook: ids with leading zeros, date and date-time cells, booleans
    as cells and as words, a blank row in the middle, a bad date, and a tab the contract ignores."""
    book = openpyxl.Workbook()
    sheets = {
        "Instructions": [["Keep one row per session."]],
        "Programs": [
            HEADERS["Programs"],
            ["00123", "Home Visiting", "S1"],
            [7, "Family Support", None],
        ],
        "Staff": [
            HEADERS["Staff"],
            ["S1", "Ana Diaz", "ana@example.org", "00123", "coach", False, dt.date(2024, 3, 1), None],
            ["S2", "Ben Ode", "ben@example.org", "00123", "practitioner", True, dt.date(2025, 9, 15), None],
            [None, None, None, None, None, None, None, None],
            ["S3", "Cy Park", "not-an-email", 7, "practitioner", "yes", dt.date(2026, 1, 5), dt.date(2026, 2, 27)],
        ],
        "Coaching Log": [
            HEADERS["Coaching Log"],
            ["L1", dt.date(2026, 1, 12), "00123", "S1", "S2", 45, True, True, False, False, "ok"],
            ["L2", dt.date(2026, 2, 9), "00123", "S1", "S2", 42.5, "x", None, "y", None, None],
            ["L3", "8/32/2026", "00123", "S1", "S2", 30, False, False, False, False, "typo"],
        ],
        "Satisfaction Survey": [
            ["Timestamp", "Program ID", "Coach ID", "Satisfaction", "Comments"],
            [dt.datetime(2026, 1, 20, 14, 30, 5), "00123", "S1", 5, "<b>great</b>"],
        ],
        "Improvement Actions": [ACTIONS_HEADER],
    }
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path_factory.mktemp("book") / "records.xlsx"
    book.save(path)
    return path


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def account(google: FakeGoogle, reader_key) -> ServiceAccount:
    return load_service_account_info(text=json.dumps(google.new_service_account(READER, reader_key)))


def shared_sheet(google: FakeGoogle, workbook_file: Path, role: str = "reader") -> None:
    google.add_spreadsheet(KEY, "Coaching records", tabs_from_xlsx(workbook_file), {READER: role})


def source(google: FakeGoogle, account: ServiceAccount, **options) -> GoogleSheetsSource:
    quick = {"base_delay": 0.01, "max_delay": 0.05, "max_attempts": 3, "timeout": 5.0}
    return GoogleSheetsSource(KEY, account, api_url=google.url, **(quick | options))


def read_failure(google: FakeGoogle, account: ServiceAccount, **options) -> str:
    """The one sentence a read that must fail ends with."""
    with pytest.raises(WorkbookError) as failure:
        source(google, account, **options).read()
    return str(failure.value)


def padded(rows: list[list[object]], width: int, height: int) -> list[list[object]]:
    return [list(r) + [None] * (width - len(r)) for r in rows] + [[None] * width] * (height - len(rows))


def test_a_sheets_url_or_a_bare_key_names_a_spreadsheet_and_a_workbook_path_does_not() -> None:
    assert spreadsheet_key_from(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0") == KEY
    assert spreadsheet_key_from(f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/view") == KEY
    assert spreadsheet_key_from(f"  {KEY} ") == KEY
    assert spreadsheet_key_from("data/sample_workbook.xlsx") is None
    assert spreadsheet_key_from("/srv/exports/Coaching_Records_Export_2026_Q1.xlsx") is None
    assert spreadsheet_key_from("Coaching_Records_Export_2026_Q1_final.xlsx") is None


def test_the_sheet_gives_the_same_cells_as_its_xlsx_export(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    from_sheets = source(google, account).read()
    from_xlsx = XlsxSource(workbook_file).read()

    assert list(from_sheets.tabs) == list(from_xlsx.tabs)
    for title, xlsx_tab in from_xlsx.tabs.items():
        width = max(len(r) for r in xlsx_tab.rows)
        sheet_rows = padded(from_sheets.tabs[title].rows, width, len(xlsx_tab.rows))
        for xlsx_row, sheet_row in zip(padded(xlsx_tab.rows, width, len(xlsx_tab.rows)), sheet_rows):
            for expected, got in zip(xlsx_row, sheet_row):
                if expected is None:
                    assert got in (None, ""), (title, xlsx_row)
                elif isinstance(expected, dt.date):  # a serial day number, as Sheets counts days
                    stamp = expected if isinstance(expected, dt.datetime) else dt.datetime.combine(expected, dt.time())
                    assert SHEETS_EPOCH + dt.timedelta(days=got) == pytest.approx(stamp, abs=dt.timedelta(seconds=1))
                else:
                    assert (got, type(got)) == (expected, type(expected)), (title, xlsx_row)
    assert from_sheets.label == "Google Sheet Coaching records"
    assert from_sheets.url == f"https://docs.google.com/spreadsheets/d/{KEY}/edit"


def test_formatted_values_arrive_as_the_text_the_sheet_shows(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    staff = source(google, account, value_render="FORMATTED_VALUE").read().tabs["Staff"].rows

    assert staff[1] == ["S1", "Ana Diaz", "ana@example.org", "00123", "coach", "FALSE", "3/1/2024"]
    assert staff[3] == []  # the blank row in the middle keeps its place
    assert staff[4][3] == "7"


@pytest.mark.parametrize("value_render", ["UNFORMATTED_VALUE", "FORMATTED_VALUE"])
def test_the_sheet_and_its_xlsx_export_parse_to_the_same_records(google, account, workbook_file, value_render) -> None:
    shared_sheet(google, workbook_file)
    from_sheets = parse_workbook(source(google, account, value_render=value_render).read(), TITLES)
    from_xlsx = parse_workbook(XlsxSource(workbook_file).read(), TITLES)

    for key, parsed in from_xlsx.tabs.items():
        pd.testing.assert_frame_equal(from_sheets.tabs[key].frame, parsed.frame, obj=key)
    problems = [(i.tab, i.row, i.column, i.value, i.severity) for i in from_xlsx.issues]
    assert [(i.tab, i.row, i.column, i.value, i.severity) for i in from_sheets.issues] == problems
    assert ("Coaching Log", 4, "Session Date", "8/32/2026") in [p[:4] for p in problems]


@pytest.mark.parametrize("value_render", ["UNFORMATTED_VALUE", "FORMATTED_VALUE"])
def test_the_sample_workbook_reads_the_same_from_sheets_as_from_its_xlsx(google, account, value_render) -> None:
    sample = Path(__file__).resolve().parents[2] / "data" / "sample_workbook.xlsx"
    google.add_spreadsheet(KEY, "Sample", tabs_from_xlsx(sample), {READER: "reader"})

    from_sheets = parse_workbook(source(google, account, value_render=value_render).read(), TITLES)
    from_xlsx = parse_workbook(XlsxSource(sample).read(), TITLES)

    for key, parsed in from_xlsx.tabs.items():
        assert len(parsed.frame) > 0, key
        pd.testing.assert_frame_equal(from_sheets.tabs[key].frame, parsed.frame, obj=key)
    issues = [(i.tab, i.row, i.column, i.severity) for i in from_xlsx.issues]
    assert [(i.tab, i.row, i.column, i.severity) for i in from_sheets.issues] == issues


def test_a_read_costs_one_token_and_one_sheets_call_with_the_read_only_scope(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    workbook = source(google, account).read()

    assert len(workbook.tabs) == 6
    (call,) = google.sheets_calls
    assert (call.method, call.path, google.reads) == ("GET", f"/v4/spreadsheets/{KEY}", 1)
    assert call.query["includeGridData"] == ["true"]
    assert "effectiveValue" in call.query["fields"][0] and "formattedValue" not in call.query["fields"][0]
    assert len(google.token_calls) == 1
    assert google.granted_scopes == [{"https://www.googleapis.com/auth/spreadsheets.readonly"}]


def test_spreadsheets_read_one_after_another_with_one_key_ask_for_one_token_until_the_key_changes(
    google, reader_key, workbook_file, tmp_path
) -> None:
    shared_sheet(google, workbook_file)
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(google.new_service_account(READER, reader_key)))
    accounts = ServiceAccounts()  # as a network's part holds it for its agencies

    for _ in range(3):
        source(google, accounts.load(key_file)).read()
    assert (len(google.sheets_calls), len(google.token_calls)) == (3, 1)

    key_file.write_text(json.dumps(google.new_service_account(READER, new_private_key())))  # the key rotated
    source(google, accounts.load(key_file)).read()
    assert (len(google.sheets_calls), len(google.token_calls)) == (4, 2)


def test_a_429_then_a_503_are_retried_and_the_read_succeeds(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(429, 503)

    workbook = source(google, account).read()

    assert workbook.tabs["Programs"].rows[1][0] == "00123"
    assert [c.status for c in google.sheets_calls] == [429, 503, 200]


def test_a_persistent_503_fails_after_the_last_attempt_with_one_line(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(*[503] * 10)

    message = read_failure(google, account, max_attempts=4)

    assert len(google.sheets_calls) == 4
    assert "\n" not in message
    assert "HTTP 503" in message and "4 attempts" in message and "reading the spreadsheet's tabs and cells" in message


def test_retry_after_is_honoured_up_to_the_cap_on_a_wait(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(Fault(429, retry_after="1"), Fault(429, retry_after="120"))

    source(google, account, base_delay=0.001, max_delay=1.5).read()

    first, second, third = (c.at for c in google.sheets_calls[:3])
    assert 1.0 <= second - first < 1.0 + scaled(0.5)  # as asked, not the 1 ms backoff
    assert 1.5 <= third - second < 1.5 + scaled(1.5)  # 120 s asked, capped at 1.5 s


def test_an_answer_that_stalls_past_the_timeout_is_retried(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(Fault(stall=3.0))

    started = time.monotonic()
    workbook = source(google, account, timeout=0.3).read()

    assert "Staff" in workbook.tabs
    # Waited for the stalled answer about the timeout (the socket's clock may fire a few ms early), then asked again.
    assert 0.25 <= time.monotonic() - started < scaled(2.0)


def test_an_unreachable_sheets_api_fails_within_the_bound_naming_it(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    closed = FakeGoogle()
    with closed:
        dead_url = closed.url

    with pytest.raises(WorkbookError, match=rf"cannot connect to {dead_url}, 3 attempts"):
        GoogleSheetsSource(KEY, account, api_url=dead_url, base_delay=0.01, max_attempts=3).read()


def test_a_sheet_not_shared_with_the_service_account_says_to_share_it_as_viewer(google, account) -> None:
    google.add_spreadsheet(KEY, "Coaching records", {"Programs": [["Program ID"]]}, shared_with={})

    assert read_failure(google, account) == (
        f"the spreadsheet https://docs.google.com/spreadsheets/d/{KEY}/edit is not shared with {READER}; "
        "share it as Viewer and re-run"
    )
    assert len(google.sheets_calls) == 1  # a 403 is not retried


def test_an_unknown_key_says_there_is_no_such_spreadsheet_the_service_account_can_open(google, account) -> None:
    with pytest.raises(
        WorkbookError,
        match=f"there is no Google spreadsheet with the key {KEY} that the service account {READER} can open",
    ):
        source(google, account).read()
    assert len(google.sheets_calls) == 1


def test_a_key_google_refuses_names_the_file_and_the_reason(google, workbook_file, tmp_path) -> None:
    google.new_service_account(READER)  # Google knows the account, with another key
    key_file = tmp_path / "coaching-sa.json"
    key_file.write_text(json.dumps(service_account_json(new_private_key(), READER, google.token_uri)))
    shared_sheet(google, workbook_file)

    message = read_failure(google, load_service_account_info(key_file))

    assert f"the file {key_file}" in message and "Invalid JWT Signature" in message
    assert google.sheets_calls == []


def test_an_unreachable_token_endpoint_names_the_key_and_its_token_uri(google, workbook_file, tmp_path) -> None:
    closed = FakeGoogle()
    with closed:
        dead_token_uri = closed.token_uri
    key_file = tmp_path / "coaching-sa.json"
    key_file.write_text(json.dumps(service_account_json(new_private_key(), READER, dead_token_uri)))

    message = read_failure(google, load_service_account_info(key_file))

    assert message.startswith(
        f"Google credentials: no answer from the token endpoint {dead_token_uri} named in the file {key_file}"
    )
    assert "3 attempts" in message and "create a new key" not in message


def _key_without(field: str) -> str:
    info = service_account_json(new_private_key(), READER, "https://oauth2.googleapis.com/token")
    return json.dumps({k: v for k, v in info.items() if k != field})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "is not JSON"),
        (json.dumps(["a list"]), "not a JSON object"),
        (json.dumps({"type": "authorized_user", "refresh_token": "1//secret"}), "'authorized_user' credential"),
        (_key_without("private_key"), "has no private_key"),
        (_key_without("client_email"), "has no client_email"),
        (_key_without("token_uri"), "has no token_uri"),
        (
            json.dumps(
                json.loads(_key_without("nothing"))
                | {"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\n"}
            ),
            "not a readable private key",
        ),
    ],
)
def test_a_broken_credential_names_its_block_and_why_without_the_key(text: str, reason: str) -> None:
    with pytest.raises(WorkbookError) as failure:
        load_service_account_info(text=text, block_name="coaching-google")

    message = str(failure.value)
    assert "the Prefect Secret block coaching-google" in message and reason in message
    assert "PRIVATE KEY" not in message and "MII" not in message and "1//secret" not in message


def test_a_missing_credentials_file_or_secret_block_is_named() -> None:
    with pytest.raises(WorkbookError, match="the file /nowhere/sa.json does not exist"):
        load_service_account_info("/nowhere/sa.json")
    with pytest.raises(WorkbookError, match="Secret block coaching-google does not exist or is empty"):
        load_service_account_info(text=None, block_name="coaching-google")


def test_a_secret_block_holding_the_key_as_a_mapping_is_accepted(google, reader_key, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    account = load_service_account_info(text=google.new_service_account(READER, reader_key))

    assert "Programs" in source(google, account).read().tabs


def test_the_service_account_never_shows_its_key_in_a_repr(account: ServiceAccount) -> None:
    assert "PRIVATE" not in repr(account) and READER in account.origin + account.client_email


def test_a_data_quality_link_opens_the_cell_that_holds_the_bad_value(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    raw: RawWorkbook = source(google, account).read()
    parsed = parse_workbook(raw, TITLES)
    issue = next(i for i in parsed.issues if i.value == "8/32/2026")
    sheet_id = parsed.tabs["coaching_log"].sheet_id

    link = cell_link(raw.url, sheet_id, issue.cell)

    gid = google.spreadsheets[KEY].sheet_ids["Coaching Log"]
    assert gid != 0 and link == f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid={gid}&range=B4"
    assert google.spreadsheets[KEY].tabs["Coaching Log"][4 - 1][ord("B") - ord("A")] == "8/32/2026"


PROPOSALS = [
    {
        "quarter": "2026-Q1",
        "program_id": "00123",
        "best_practice": 1,
        "action": "Name a coaching lead",
        "owner": None,
        "status": "proposed",
        "due_date": None,
    },
    {
        "quarter": "2026-Q1",
        "program_id": "00123",
        "best_practice": 2,
        "action": '=HYPERLINK("http://example.invalid","click")',
        "status": "proposed",
    },
    {
        "quarter": "2026-Q1",
        "program_id": "7",
        "best_practice": 2,
        "action": "-2 staff were not coached in February",
        "status": "proposed",
    },
    {
        "quarter": "2026-Q1",
        "program_id": "7",
        "best_practice": 4,
        "action": "+1 survey, @coaches: ask for more",
        "status": "proposed",
    },
]


def test_proposals_are_appended_once_under_the_sheets_headers_as_plain_text(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file, role="writer")
    actions = google.spreadsheets[KEY].tabs["Improvement Actions"]
    # Leadership already decided on the first proposal of an earlier run.
    actions.append(["00123", "2026-Q1", "Name a coaching lead", 1, "planned", "Dee", dt.date(2026, 4, 30)])
    writer = source(google, account, write_back=True)

    assert writer.append_proposals("Improvement Actions", PROPOSALS) == 3
    assert writer.append_proposals("Improvement Actions", PROPOSALS) == 0

    assert actions[0] == ACTIONS_HEADER and len(actions) == 5
    assert actions[2:] == [
        ["00123", "2026-Q1", '=HYPERLINK("http://example.invalid","click")', 2, "proposed", "", ""],
        ["7", "2026-Q1", "-2 staff were not coached in February", 2, "proposed", "", ""],
        ["7", "2026-Q1", "+1 survey, @coaches: ask for more", 4, "proposed", "", ""],
    ]
    assert not any(isinstance(v, Formula) for row in actions for v in row)
    appends = [c for c in google.sheets_calls if c.method == "POST"]
    assert len(appends) == 1 and appends[0].query["valueInputOption"] == ["RAW"]
    assert google.granted_scopes == [{"https://www.googleapis.com/auth/spreadsheets"}]


def test_an_empty_improvement_actions_tab_gets_the_contract_header_first(google, account) -> None:
    google.add_spreadsheet(KEY, "Records", {"Improvement Actions": []}, {READER: "writer"})

    added = source(google, account, write_back=True).append_proposals("Improvement Actions", PROPOSALS[:1])

    assert added == 1
    assert google.spreadsheets[KEY].tabs["Improvement Actions"] == [
        ["quarter", "program_id", "best_practice", "action", "owner", "status", "due_date"],
        ["2026-Q1", "00123", 1, "Name a coaching lead", "", "proposed", ""],
    ]


def test_write_back_to_a_sheet_shared_as_viewer_says_to_share_it_as_editor(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file, role="reader")

    with pytest.raises(WorkbookError, match=f"not shared with {READER} as Editor"):
        source(google, account, write_back=True).append_proposals("Improvement Actions", PROPOSALS)
    with pytest.raises(WorkbookError, match="write-back is off"):
        source(google, account).append_proposals("Improvement Actions", PROPOSALS)


def test_merged_cells_come_with_the_list_of_tabs_and_are_errors_on_every_row_they_cover(
    google, account, workbook_file
) -> None:
    shared_sheet(google, workbook_file)
    # "Direct Observation?" (column G) merged over the first two log rows, and a merged title cell
    # in the header row; the API leaves a 0 index out of its JSON.
    google.spreadsheets[KEY].merges = {
        "Coaching Log": [
            {"startRowIndex": 1, "endRowIndex": 3, "startColumnIndex": 6, "endColumnIndex": 7},
            {"endRowIndex": 1, "endColumnIndex": 2},
        ]
    }
    raw = source(google, account).read()

    assert [c.path.rsplit("/", 1)[-1] for c in google.sheets_calls] == [KEY]
    assert "merges" in google.sheets_calls[0].query["fields"][0]
    assert raw.tabs["Coaching Log"].merges == ((2, 3, 7, 7), (1, 1, 1, 2))
    parsed = parse_workbook(raw, TITLES)
    merged = [i for i in parsed.issues if "merged" in i.problem]
    assert [(i.row, i.column, i.cell) for i in merged] == [
        (2, "Direct Observation?", "G2"),
        (3, "Direct Observation?", "G3"),
    ]
    assert merged[0].problem == "cells G2:G3 are merged: unmerge them and fill each row"


@pytest.mark.parametrize("value_render", ["UNFORMATTED_VALUE", "FORMATTED_VALUE"])
def test_formulas_come_with_the_values_the_sheet_computed_in_the_same_read(google, account, value_render) -> None:
    google.add_spreadsheet(
        KEY,
        "Records",
        {
            "Staff": [
                ["Staff ID", "Start Date", "Requires Coaching"],
                ["S1", Formula("=TODAY()", dt.date(2026, 12, 4)), Formula("=1<2", True)],
                [Formula("=A2", "S1"), dt.date(2026, 1, 5), Formula("=NOPE()")],
            ],
            "Notes": [],
        },
        {READER: "reader"},
    )

    raw = source(google, account, value_render=value_render).read()

    staff = raw.tabs["Staff"]
    assert staff.formulas == {(2, 2): "=TODAY()", (2, 3): "=1<2", (3, 1): "=A2", (3, 3): "=NOPE()"}
    if value_render == "UNFORMATTED_VALUE":
        assert staff.rows[1:] == [["S1", 46360, True], ["S1", 46027, "#NAME?"]]
    else:
        assert staff.rows[1:] == [["S1", "12/4/2026", "TRUE"], ["S1", "1/5/2026", "#NAME?"]]
    assert raw.tabs["Notes"].rows == [] and raw.tabs["Notes"].formulas == {}
    assert google.reads == 1


def test_reads_over_the_per_user_quota_are_refused_with_googles_envelope_and_waited_out(account, workbook_file) -> None:
    with FakeGoogle(read_quota=1, quota_window=scaled(0.5)) as google:
        reader = load_service_account_info(text=json.dumps(google.new_service_account(READER)))
        shared_sheet(google, workbook_file)
        source(google, reader).read()

        message = read_failure(google, reader, max_attempts=1)
        assert "HTTP 429 (Quota exceeded for quota metric 'Read requests'" in message
        assert "'Read requests per minute per user'" in message

        workbook = source(google, reader, base_delay=scaled(0.5), max_delay=scaled(1.0), max_attempts=5).read()
        assert "Staff" in workbook.tabs
        statuses = [c.status for c in google.sheets_calls]
        assert statuses[:2] == [200, 429] and statuses[-1] == 200 and set(statuses[2:-1]) <= {429}
        assert google.reads == len(statuses)


# --- faults of a real network ----------------------------------------------------------------


def test_a_body_cut_off_half_way_is_retried_like_a_dropped_connection(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(Fault(cut=True))

    workbook = source(google, account).read()

    assert "Staff" in workbook.tabs
    assert len(google.sheets_calls) == 2  # the read, then the read again


def test_a_reply_that_trickles_ends_at_the_deadline_and_is_asked_again(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(Fault(trickle=0.2))  # a byte every 0.2 s: each read is quick, the whole is not
    started = time.monotonic()

    workbook = source(google, account, timeout=1.0).read()

    assert "Staff" in workbook.tabs
    assert 1.0 <= time.monotonic() - started < scaled(3.0)


def test_a_token_endpoint_outage_is_retried_and_not_called_a_revoked_key(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_token_next(*[503] * 3)  # google-auth tries three times itself, then we try again

    workbook = source(google, account).read()

    assert "Staff" in workbook.tabs
    assert [c.status for c in google.token_calls] == [503, 503, 503, 200]


def test_a_token_endpoint_that_stays_down_is_reported_as_an_outage_not_a_bad_key(
    google, account, workbook_file
) -> None:
    shared_sheet(google, workbook_file)
    google.fail_token_next(*[503] * 20)

    message = read_failure(google, account, max_attempts=2)

    assert "the key itself was not refused" in message and "create a new key" not in message
    assert google.sheets_calls == []


def test_a_quota_429_waits_out_the_one_minute_window_within_the_bound(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(*[429] * 7)  # Sheets says nothing about when the window ends
    waits: list[float] = []

    workbook = GoogleSheetsSource(KEY, account, api_url=google.url, sleep=waits.append).read()

    assert "Staff" in workbook.tabs
    assert [c.status for c in google.sheets_calls] == [429] * 7 + [200]
    assert 60 <= sum(waits) <= 180 and max(waits) <= 65


def test_a_retry_after_of_a_minute_is_waited_in_full(google, account, workbook_file) -> None:
    shared_sheet(google, workbook_file)
    google.fail_next(Fault(429, retry_after="60"))
    waits: list[float] = []

    GoogleSheetsSource(KEY, account, api_url=google.url, sleep=waits.append).read()

    assert waits == [60.0]


def test_an_append_whose_answer_is_lost_is_not_repeated_and_the_next_run_adds_nothing_twice(
    google, account, workbook_file
) -> None:
    shared_sheet(google, workbook_file, role="writer")
    google.fail_next(None, Fault(dropped=True))  # the read of the tab answers; the append is lost

    with pytest.raises(WorkbookError) as failure:
        source(google, account, write_back=True).append_proposals("Improvement Actions", PROPOSALS)

    assert "unknown whether adding proposals to the tab 'Improvement Actions' happened" in str(failure.value)
    assert len([c for c in google.sheets_calls if c.method == "POST"]) == 1
    again = source(google, account, write_back=True).append_proposals("Improvement Actions", PROPOSALS)
    assert again == 0
    assert len(google.spreadsheets[KEY].tabs["Improvement Actions"]) == 1 + len(PROPOSALS)
