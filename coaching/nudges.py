"""Who gets which monthly coaching nudge: the valid rows in, one plain result per program out.

After each month, each program's coaching lead hears about three things from the coaching log:
- relevant staff (requires coaching, active in the month) without a session dated in the month,
  whatever program the session names (the rule of best practice 2);
- relevant staff active on the month's last day who have had no coaching for more than 45 days by
  then. The days count from the last session, or from the start date for someone never coached: a
  person who joined two weeks ago has not gone 45 days without coaching;
- the program's sessions that month without direct observation plus a second source.
Only sessions dated up to the month's last day count, so a nudge for an old month says what a lead
could have known then.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coaching.contract import SOURCE_FLAGS
from coaching.quarters import Quarter
from coaching.recipients import RecipientError, check_recipients
from coaching.records import UsageError
from coaching.quality import require_sessions_between
from coaching.scoring import active_between, eligible_staff_months

GAP_DAYS = 45  # "more than 45 days": exactly 45 is not listed
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
NO_OBSERVATION = "no direct observation"
NO_SECOND_SOURCE = "observation only: no reflection, document review or stakeholder interview"
NO_ALLOWED_DOMAINS = (
    "no allowed recipient domains are configured (allowed_recipient_domains / "
    "COACHING_ALLOWED_RECIPIENT_DOMAINS), and an address read from the sheet is only ever used "
    "within them"
)


def resolve_month(label: str | None, today: dt.date) -> pd.Period:
    """The month asked for (YYYY-MM), or the last completed one; a month not over yet is refused."""
    current = pd.Period(today, freq="M")
    if label is None or not str(label).strip():
        return current - 1
    match = _MONTH.fullmatch(str(label).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UsageError(f"'{label}' is not a month: write it as YYYY-MM, like 2026-08")
    month = pd.Period(year=int(match.group(1)), month=int(match.group(2)), freq="M")
    if month >= current:
        raise UsageError(
            f"{month} is not over yet (today is {today:%Y-%m-%d}): a nudge looks back on a completed "
            f"month, the latest being {current - 1}"
        )
    return month


def month_days(month: pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and the last day of the month."""
    return month.start_time, month.end_time.normalize()


def require_sessions_in(log: pd.DataFrame, month: pd.Period, log_title: str) -> None:
    """A month without a single valid session is a missing export, not a month nobody coached."""
    require_sessions_between(
        log["session_date"], *month_days(month), str(month), log_title, "month", lambda day: f"{day:%Y-%m}"
    )


@dataclass(frozen=True)
class Lead:
    staff_id: str | None
    name: str | None
    email: str | None
    problem: str  # why the nudge cannot go to this lead, in words for the run's log; "" when it can


@dataclass
class ProgramNudge:
    program_id: str
    program_name: str
    month: pd.Period
    lead: Lead
    not_coached: pd.DataFrame  # staff_id, name, start_date, end_date
    overdue: pd.DataFrame  # staff_id, name, start_date, last_session (NaT: never), days_without
    single_source: pd.DataFrame  # session_date, session_id, staff_id, staff_name, coach_id, coach_name, missing

    @property
    def has_news(self) -> bool:
        """A program with nothing to report gets no email."""
        return not (self.not_coached.empty and self.overdue.empty and self.single_source.empty)


def plan_nudges(valid: Mapping[str, pd.DataFrame], month: pd.Period, today: dt.date) -> list[ProgramNudge]:
    """One nudge per program of `valid["programs"]`, in the tab's order, whether or not it has news."""
    programs, staff, log = valid["programs"], valid["staff"], valid["coaching_log"]
    names = staff.set_index("staff_id")["name"]  # staff IDs are unique among valid rows
    not_coached = _not_coached(staff, log, month)
    overdue = _overdue(staff, log, month)
    single_source = _single_source(log, month, names)
    leads = _leads(programs, staff, today)

    def part(frame: pd.DataFrame, program_id: str) -> pd.DataFrame:
        return frame.loc[frame["program_id"].eq(program_id)].drop(columns="program_id").reset_index(drop=True)

    return [
        ProgramNudge(
            program_id=program_id,
            program_name=program_name,
            month=month,
            lead=lead,
            not_coached=part(not_coached, program_id),
            overdue=part(overdue, program_id),
            single_source=part(single_source, program_id),
        )
        for program_id, program_name, lead in zip(programs["program_id"], programs["program_name"], leads)
    ]


def nudge_recipients(nudge: ProgramNudge, allowed_domains: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """(the lead's address, "") when the nudge may go to it, else ((), why not).

    An address read from the sheet is used only within the allowed domains: with none configured,
    no nudge goes out at all.
    """
    if nudge.lead.problem:
        return (), nudge.lead.problem
    if not any(domain.strip() for domain in allowed_domains):
        return (), NO_ALLOWED_DOMAINS
    try:
        return check_recipients([nudge.lead.email or ""], allowed_domains), ""
    except RecipientError as exc:
        return (), f"the coaching lead's address on the Staff tab may not receive email. {exc}"


def _not_coached(staff: pd.DataFrame, log: pd.DataFrame, month: pd.Period) -> pd.DataFrame:
    # The eligible staff-months of best practice 2, for the quarter holding the month.
    months = eligible_staff_months(staff, log, Quarter.containing(month.start_time.date()))
    in_month: pd.Series = months["month"] == month
    missed = months.loc[in_month & ~months["covered"], ["program_id", "staff_id", "name"]]
    missed = missed.merge(staff[["staff_id", "start_date", "end_date"]], on="staff_id", how="left")
    return missed.sort_values(["program_id", "name", "staff_id"]).reset_index(drop=True)


def _overdue(staff: pd.DataFrame, log: pd.DataFrame, month: pd.Period) -> pd.DataFrame:
    _, last = month_days(month)
    relevant = staff.loc[
        staff["requires_coaching"] & active_between(staff, last, last),
        ["program_id", "staff_id", "name", "start_date"],
    ]
    latest = log.loc[log["session_date"].le(last)].groupby("staff_id")["session_date"].max()
    relevant = relevant.assign(last_session=relevant["staff_id"].map(latest).astype("datetime64[ns]"))
    since = relevant[["last_session", "start_date"]].max(axis=1)
    relevant = relevant.assign(days_without=(last - since).dt.days.astype(int))
    late = relevant.loc[relevant["days_without"].gt(GAP_DAYS)]
    return late.sort_values(["program_id", "days_without", "name"], ascending=[True, False, True]).reset_index(
        drop=True
    )


def _single_source(log: pd.DataFrame, month: pd.Period, names: pd.Series) -> pd.DataFrame:
    first, last = month_days(month)
    sessions = log.loc[log["session_date"].between(first, last)]
    observed = sessions["direct_observation"].astype(bool)
    other = sessions[list(SOURCE_FLAGS[1:])].any(axis=1)
    lacking = sessions.loc[~(observed & other)]
    found = pd.DataFrame(
        {
            "program_id": lacking["program_id"],
            "session_date": lacking["session_date"],
            "session_id": lacking["session_id"],
            "staff_id": lacking["staff_id"],
            "staff_name": lacking["staff_id"].map(names).fillna(lacking["staff_id"]),
            "coach_id": lacking["coach_id"],
            "coach_name": lacking["coach_id"].map(names).fillna(lacking["coach_id"]),
            "missing": np.where(observed[~(observed & other)], NO_SECOND_SOURCE, NO_OBSERVATION),
        }
    )
    return found.sort_values(["program_id", "session_date", "session_id", "staff_name"]).reset_index(drop=True)


def _leads(programs: pd.DataFrame, staff: pd.DataFrame, today: dt.date) -> list[Lead]:
    """Each program's lead and whether a nudge may go to them: a valid Staff row, active on the
    day the nudge is sent (someone who has left no longer reads the agency's mail), with an email."""
    leads = programs[["coaching_lead_id"]].merge(
        staff[["staff_id", "name", "email", "start_date", "end_date"]],
        left_on="coaching_lead_id",
        right_on="staff_id",
        how="left",
    )
    day = pd.Timestamp(today)
    active = active_between(leads, day, day).fillna(False).astype(bool)
    who = "the coaching lead " + leads["coaching_lead_id"].fillna("").astype(str)
    named = who + " (" + leads["name"].fillna("").astype(str) + ")"
    problem = np.select(
        [
            leads["coaching_lead_id"].isna(),
            leads["staff_id"].isna(),
            ~active,
            leads["email"].isna(),
        ],
        [
            "no coaching lead is named on the Programs tab",
            who + " is not among the valid rows of the Staff tab",
            named + f" is not active on {today:%Y-%m-%d} (see Start Date and End Date on the Staff tab)",
            named + " has no valid email on the Staff tab",
        ],
        default="",
    )
    return [
        Lead(_text(staff_id), _text(name), _text(email), str(reason))
        for staff_id, name, email, reason in zip(leads["coaching_lead_id"], leads["name"], leads["email"], problem)
    ]


def _text(value: Any) -> str | None:
    return None if pd.isna(value) else str(value)
