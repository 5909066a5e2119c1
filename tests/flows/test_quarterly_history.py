"""What was reported stays reported: the quarterly flow over several runs on edited copies of the
sample workbook (its records cover 2026-Q1 to 2026-Q3)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import openpyxl
import pandas as pd
import sqlalchemy as sa

from config.settings import PROJECT_ROOT, load_settings
from adapters.report_history import ReportHistory
from config.wiring import build_store_engine
from flows.quarterly_report import quarterly_report
from tests.flows.mail import outbox

SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"


def recorded() -> ReportHistory:
    """The record the flows keep, in the configured store (the test's own state folder)."""
    return ReportHistory(build_store_engine(load_settings()))


def _columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def backfill_q2_and_document_a_plan(source: Path, target: Path) -> int:
    """Parent Education's Q2 sessions entered late (one a month for each person who requires coaching,
    from observation plus reflection), and its coaching methods now documented. The sessions added."""
    book = openpyxl.load_workbook(source)
    staff, log, plan = book["Staff"], book["Coaching Log"], book["Coaching Plan"]
    s, p = _columns(staff), _columns(plan)
    people = [  # not the sample's deliberate error row (an end date before the start date)
        row[s["Staff ID"] - 1]
        for row in staff.iter_rows(min_row=2, values_only=True)
        if row[s["Program ID"] - 1] == "PE"
        and str(row[s["Requires Coaching?"] - 1]).upper() in ("TRUE", "YES")
        and (row[s["End Date"] - 1] is None or row[s["End Date"] - 1] >= row[s["Start Date"] - 1])
    ]
    added = 0
    for month in (4, 5, 6):
        for person in people:
            added += 1
            row = {
                "Session ID": f"LATE-{added}",
                "Session Date": dt.datetime(2026, month, 20),
                "Program ID": "PE",
                "Coach ID": "00146",
                "Staff ID": person,
                "Duration (minutes)": 45,
                "Direct Observation?": True,
                "Reflection?": True,
                "Document Review?": False,
                "Stakeholder Interview?": False,
                "Notes": "entered late",
            }
            log.append([row.get(header) for header in _columns(log)])
    for row in plan.iter_rows(min_row=2):
        if row[p["Program ID"] - 1].value == "PE" and row[p["Component"] - 1].value == "Coaching methods":
            row[p["Documented?"] - 1].value = True
    book.save(target)
    return added


def correct_a_q3_row(source: Path, target: Path) -> None:
    """One Q3 session of Parent Education turns out to have had no direct observation."""
    book = openpyxl.load_workbook(source)
    log = book["Coaching Log"]
    c = _columns(log)
    for row in log.iter_rows(min_row=2):
        day = row[c["Session Date"] - 1].value
        if row[c["Program ID"] - 1].value == "PE" and isinstance(day, dt.datetime) and day.month == 8:
            row[c["Direct Observation?"] - 1].value = False
            break
    book.save(target)


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_reported_quarter_stays_as_reported_its_restatement_is_explained_and_a_re_send_says_what_changed(
    tmp_path, state_dir
):
    q2 = tmp_path / "q2"
    assert quarterly_report(quarter="2026-Q2", output_dir=str(q2)).delivery.startswith("Sent")
    reported = pd.read_csv(q2 / "scorecard.csv").set_index("program_id")
    reported_org = round(100 * reported["total_score"].sum() / (8 * len(reported)), 1)

    edited = tmp_path / "edited.xlsx"
    added = backfill_q2_and_document_a_plan(SAMPLE, edited)
    q3 = tmp_path / "q3"
    assert quarterly_report(quarter="2026-Q3", source=str(edited), output_dir=str(q3)).delivery.startswith("Sent")

    first_q3 = pd.read_csv(q3 / "scorecard.csv")
    history = pd.read_csv(q3 / "history.csv", dtype={"reported_on": str})
    assert set(history["quarter"]) == {"2026-Q1", "2026-Q2", "2026-Q3"}
    pe_q2 = history.set_index(["quarter", "program_id"]).loc[("2026-Q2", "PE")]
    assert pe_q2["reported_total_score"] == reported.loc["PE", "total_score"]
    assert pe_q2["total_score"] > pe_q2["reported_total_score"]  # restated upwards by the late sessions
    assert history.loc[history["quarter"] == "2026-Q1", "reported_on"].isna().all()  # never reported
    assert history.loc[history["quarter"] == "2026-Q3", "reported_on"].notna().all()  # delivered by this run

    (message,) = outbox(q3)
    text = _text(message)
    # The trend and the change use Q2 as it was reported, not as it recomputes today.
    assert f"since 2026-Q2 ({reported_org:g} % as reported on" in text
    restated = text.split("EARLIER QUARTERS RESTATED")[1].split("DATA QUALITY")[0]
    pe_line = next(line for line in restated.splitlines() if line.startswith("- Parent Education"))
    assert f"reported {reported.loc['PE', 'percent']:g} % ({reported.loc['PE', 'total_score']} of 8)" in pe_line
    assert f"now {pe_q2['percent']:g} % ({pe_q2['total_score']} of 8)" in pe_line
    assert f"{added} sessions dated in 2026-Q2 added to the Coaching Log since the report" in pe_line
    assert "Coaching Plan" not in pe_line  # 2026-Q2 keeps the plan it was reported with
    html = (q3 / "report.html").read_text()
    assert html.index("Earlier quarters restated") < html.index(">Charts</h2>")
    assert pd.read_csv(q3 / "scorecard.csv").set_index("program_id").loc["PE", "bp3_service_plan"] == 2

    corrected = tmp_path / "corrected.xlsx"
    correct_a_q3_row(edited, corrected)
    again = quarterly_report(quarter="2026-Q3", source=str(corrected), output_dir=str(q3), force_resend=True)
    assert again.delivery.startswith("Sent") and len(outbox(q3)) == 2
    resent = _text(outbox(q3)[-1])
    opening = resent.split("HEADLINE")[0]
    assert "UPDATED VERSION: this report of 2026-Q3 was already sent on" in opening
    assert "Parent Education" in opening and "1 Coaching Log row of 2026-Q3 corrected" in opening
    versions = recorded().versions("2026-Q3")
    assert [v.version for v in versions] == [1, 2]
    first_sent = versions[0].record.scorecard.set_index("program_id")["total_score"]
    assert first_sent.to_dict() == first_q3.set_index("program_id")["total_score"].to_dict()  # kept as it was
    assert versions[1].content_hash != versions[0].content_hash


def test_no_send_writes_the_email_that_would_go_and_records_nothing(tmp_path, state_dir):
    out = tmp_path / "q3"
    result = quarterly_report(quarter="2026-Q3", output_dir=str(out), send=False)
    previews = list(out.glob("preview-*.eml"))
    assert len(previews) == 1 and str(previews[0]) in result.delivery
    preview = email.message_from_bytes(previews[0].read_bytes(), policy=email.policy.default)
    assert re.match(r"Coaching effectiveness 2026-Q3: [\d.]+ %", preview["Subject"])
    assert preview["To"] == "leadership@brightpath.example.org"
    assert preview.get_body(("html",)).get_content().count("<h2") >= 5
    attached = {part.get_filename() for part in preview.iter_attachments()}
    assert "scorecard.csv" in attached and "data_quality.csv" not in attached
    assert outbox(out) == []
    assert recorded().as_reported(["2026-Q3"]) == {}
    assert pd.read_csv(out / "history.csv")["reported_on"].isna().all()


def test_a_report_sent_before_the_record_existed_is_recorded_by_the_next_run_that_finds_it_sent(tmp_path, state_dir):
    out = tmp_path / "q3"
    quarterly_report(quarter="2026-Q3", output_dir=str(out))
    store = recorded()
    with store.engine.begin() as connection:  # as on an install upgraded after that send
        for table in (
            "reported_scores",
            "reported_plan_rows",
            "reported_log_rows",
            "reported_inputs",
            "report_versions",
        ):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    again = quarterly_report(quarter="2026-Q3", output_dir=str(out))
    assert again.delivery.startswith("Not sent again") and len(outbox(out)) == 1
    (version,) = store.versions("2026-Q3")
    sent = pd.read_csv(out / "scorecard.csv").set_index("program_id")["total_score"].to_dict()
    assert version.record.scorecard.set_index("program_id")["total_score"].to_dict() == sent
    assert pd.read_csv(out / "history.csv").query("quarter == '2026-Q3'")["reported_on"].notna().all()
