"""The monthly nudge: who each coaching lead hears about, and whether the lead may be emailed at all.

Workbooks go through the real parser (tests/coaching/workbooks.py); the month is August 2026, whose
last day is 31 August, and the nudge is sent on 25 November 2026.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from coaching.nudges import (
    NO_ALLOWED_DOMAINS,
    NO_OBSERVATION,
    NO_SECOND_SOURCE,
    ProgramNudge,
    nudge_recipients,
    plan_nudges,
    require_sessions_in,
    resolve_month,
)
from coaching.records import UsageError, WorkbookError
from coaching.report.messages import nudge_email
from tests.coaching.workbooks import lead, practitioner, program_frames, session

TODAY = dt.date(2026, 11, 25)
AUGUST = pd.Period("2026-08", freq="M")


def nudge_for(staff_rows, log_rows, lead_id="L1") -> ProgramNudge:
    """Program P1's nudge for August."""
    valid = program_frames([lead(), *staff_rows], log_rows, lead_id=lead_id)
    return next(n for n in plan_nudges(valid, AUGUST, TODAY) if n.program_id == "P1")


def rendered(nudge: ProgramNudge):
    return nudge_email(
        nudge, organisation="Test Agency", sender="reports@agency.org", recipients=("lead@agency.org",), tags={}
    )


def test_a_month_with_gaps_lists_the_uncoached_the_long_waiting_and_the_single_source_sessions():
    nudge = nudge_for(
        [practitioner("A"), practitioner("B"), practitioner("C"), practitioner("D", requires="no")],
        [
            session("A", "8/5/2026"),
            session("B", "6/1/2026"),
            session("C", "8/12/2026", second="no"),
            session("D", "8/3/2026", observed="no"),  # not a relevant staff member, but a session of P1
        ],
    )
    assert nudge.has_news
    assert nudge.not_coached["name"].tolist() == ["Name B"]
    assert nudge.overdue[["name", "days_without"]].values.tolist() == [["Name B", 91]]
    assert nudge.single_source[["staff_name", "missing"]].values.tolist() == [
        ["Name D", NO_OBSERVATION],
        ["Name C", NO_SECOND_SOURCE],
    ]
    text = rendered(nudge).text
    assert "NOT COACHED IN AUGUST (1)\nPlease plan a session with each of them this month.\n- Name B\n" in text
    assert "- Name B: last coached 1 Jun 2026 (91 days)" in text
    assert "- 12 Aug, session S-C-8/12/2026: Name C, coached by Lee Lead: " + NO_SECOND_SOURCE in text
    assert "Name A" not in text


def test_exactly_45_days_without_coaching_is_not_more_than_45_and_later_sessions_do_not_count():
    nudge = nudge_for(
        [practitioner("E"), practitioner("F"), practitioner("G")],
        [
            session("E", "7/17/2026"),  # 45 days before 31 August
            session("F", "7/16/2026"),  # 46 days
            session("G", "6/30/2026"),
            session("G", "9/2/2026"),  # after the month: the nudge says what was known on 31 August
        ],
    )
    assert nudge.overdue[["name", "days_without"]].values.tolist() == [["Name G", 62], ["Name F", 46]]
    assert set(nudge.not_coached["name"]) == {"Name E", "Name F", "Name G"}


def test_someone_who_joined_mid_month_is_listed_as_not_coached_but_not_as_waiting_45_days():
    nudge = nudge_for(
        [
            practitioner("J", start="8/17/2026"),
            practitioner("K", start="9/1/2026"),  # not yet there in August
            practitioner("M", start="1/1/2025", end="7/31/2026"),  # gone before August
            practitioner("N", start="1/1/2025"),  # there all along, never coached
        ],
        [],
    )
    assert nudge.not_coached["name"].tolist() == ["Name J", "Name N"]
    assert nudge.overdue["name"].tolist() == ["Name N"]
    assert pd.isna(nudge.overdue.loc[0, "last_session"])
    text = rendered(nudge).text
    assert "- Name J (started 17 Aug 2026)" in text
    assert "- Name N: never coached (started 1 Jan 2025, 607 days)" in text


def test_a_program_where_everything_went_well_gets_no_email():
    nudge = nudge_for([practitioner("A")], [session("A", "8/5/2026")])
    assert not nudge.has_news


@pytest.mark.parametrize(
    ("allowed", "expected", "reason"),
    [
        (["agency.org"], ("lead@agency.org",), ""),
        ([], (), NO_ALLOWED_DOMAINS),
        (["other.org"], (), "outside the allowed recipient domains (other.org"),
    ],
)
def test_the_lead_is_emailed_only_within_the_allowed_domains(allowed, expected, reason):
    nudge = nudge_for([practitioner("B")], [])
    recipients, why = nudge_recipients(nudge, allowed)
    assert recipients == expected
    assert reason in why and bool(why) == bool(reason)


@pytest.mark.parametrize(
    ("lead_row", "lead_id", "reason"),
    [
        (lead(end="10/31/2026"), "L1", "the coaching lead L1 (Lee Lead) is not active on 2026-11-25"),
        (lead(email=""), "L1", "the coaching lead L1 (Lee Lead) has no valid email on the Staff tab"),
        (lead(), "", "no coaching lead is named on the Programs tab"),
        (lead(), "Z7", "the coaching lead Z7 is not among the valid rows of the Staff tab"),
    ],
)
def test_a_lead_who_cannot_be_reached_is_skipped_with_the_reason(lead_row, lead_id, reason):
    valid = program_frames([lead_row, practitioner("B")], [], lead_id=lead_id)
    nudge = next(n for n in plan_nudges(valid, AUGUST, TODAY) if n.program_id == "P1")
    recipients, why = nudge_recipients(nudge, ["agency.org"])
    assert recipients == () and why.startswith(reason)


def test_text_from_the_sheet_is_escaped_in_the_html_and_kept_on_one_line_in_the_subject():
    staff = [practitioner("B")]
    staff[0][1] = "<script>alert(1)</script>"
    nudge = nudge_for(staff, [])
    nudge.program_name = "Home\nVisiting"
    email = rendered(nudge)
    assert "<script>" not in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert email.subject == "Coaching check-in for Home Visiting, August 2026"
    assert (email.kind, email.period) == ("monthly_nudge", "2026-08")


def test_the_default_month_is_the_last_completed_one_and_a_bad_month_is_refused():
    assert resolve_month(None, TODAY) == pd.Period("2026-10", freq="M")
    assert resolve_month(" 2026-8 ", TODAY) == AUGUST
    for bad in ("2026-13", "2026-00", "August 2026", "2026/08"):
        with pytest.raises(UsageError, match="is not a month: write it as YYYY-MM"):
            resolve_month(bad, TODAY)
    with pytest.raises(UsageError, match="2026-11 is not over yet"):
        resolve_month("2026-11", TODAY)


def test_a_month_without_any_session_stops_the_run_instead_of_nudging_everyone():
    log = program_frames([lead()], [session("A", "8/5/2026")])["coaching_log"]
    require_sessions_in(log, AUGUST, "Coaching Log")
    with pytest.raises(
        WorkbookError, match="no valid rows dated in 2026-07 .*latest valid session is dated 2026-08-05"
    ) as stop:
        require_sessions_in(log, pd.Period("2026-07", freq="M"), "Coaching Log")
    # It names the option (and the UI's parameter) that chooses the month, with one that has sessions.
    assert "Choose another month with --month (in the Prefect UI: the run's parameter month)" in str(stop.value)
    assert "for example --month 2026-08" in str(stop.value)
