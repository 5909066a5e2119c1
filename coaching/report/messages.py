"""The two short emails besides the report: the monthly coaching nudge and the data-quality notice.

Each is rendered from Jinja2 templates into HTML (CSS inline, no scripts, no external resources) and
plain text. Every value from the sheet reaches the HTML through autoescaping; nothing is marked safe,
and only https links are made clickable. Nothing here depends on the day of the run, so the same
records give the same email, which is what lets the delivery ledger recognise a re-run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from coaching.report.jinja import environment
from coaching.email import Attachment, EmailKind, OutgoingEmail
from coaching.notices import Cause, DataQualityNotice, NoticeLine, TabSummary
from coaching.nudges import GAP_DAYS, ProgramNudge, month_days
from coaching.records import Severity

SHOWN_PER_TAB = 50  # a long list goes on in the attached data_quality.csv
VALUE_CHARS = 60  # a long cell is cut in the email, kept whole in the CSV
SHOWN_ROWS = 20  # rows waiting on a row in error, named in the email (all are in the CSV)


def _render(name: str, context: Mapping[str, object]) -> tuple[str, str]:
    """(HTML, text) from `<name>.html.j2` and `<name>.txt.j2`."""
    templates = environment()
    return (
        templates.get_template(f"{name}.html.j2").render(context),
        templates.get_template(f"{name}.txt.j2").render(context),
    )


def _one_line(text: str) -> str:
    """Sheet text in a subject: a line break there would end the header."""
    return " ".join(str(text).split())


def _day(stamp: pd.Timestamp | dt.date, with_year: bool = True) -> str:
    return f"{stamp.day} {stamp:%b %Y}" if with_year else f"{stamp.day} {stamp:%b}"


def _count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


@dataclass(frozen=True)
class PersonLine:
    name: str
    note: str  # "started 17 Aug 2026", "last coached 3 Jul 2026 (59 days)" …


@dataclass(frozen=True)
class SessionLine:
    date: str
    session_id: str
    staff: str
    coach: str
    missing: str


def _joined_or_left(start: pd.Timestamp, end: pd.Timestamp, month: pd.Period) -> str:
    first, last = month_days(month)
    notes = []
    if pd.notna(start) and start > first:
        notes.append(f"started {_day(start)}")
    if pd.notna(end) and end < last:
        notes.append(f"left {_day(end)}")
    return ", ".join(notes)


def nudge_email(
    nudge: ProgramNudge,
    *,
    organisation: str,
    sender: str,
    recipients: tuple[str, ...],
    tags: Mapping[str, str],
) -> OutgoingEmail:
    """The program's nudge for its coaching lead."""
    month = nudge.month
    _, last = month_days(month)
    not_coached = [
        PersonLine(str(name), _joined_or_left(start, end, month))
        for name, start, end in zip(
            nudge.not_coached["name"], nudge.not_coached["start_date"], nudge.not_coached["end_date"]
        )
    ]
    overdue = [
        PersonLine(
            str(name),
            f"last coached {_day(session)} ({days} days)"
            if pd.notna(session)
            else f"never coached (started {_day(start)}, {days} days)",
        )
        for name, session, start, days in zip(
            nudge.overdue["name"],
            nudge.overdue["last_session"],
            nudge.overdue["start_date"],
            nudge.overdue["days_without"],
        )
    ]
    sessions = [
        SessionLine(_day(date, with_year=False), str(session_id), str(staff), str(coach), str(missing))
        for date, session_id, staff, coach, missing in zip(
            nudge.single_source["session_date"],
            nudge.single_source["session_id"],
            nudge.single_source["staff_name"],
            nudge.single_source["coach_name"],
            nudge.single_source["missing"],
        )
    ]
    context = {
        "organisation": organisation,
        "program": nudge.program_name,
        "lead": nudge.lead.name or "",
        "month": f"{month:%B %Y}",
        "month_name": f"{month:%B}",
        "month_end": f"{last.day} {last:%B}",
        "gap_days": GAP_DAYS,
        "not_coached": not_coached,
        "overdue": overdue,
        "sessions": sessions,
    }
    html, text = _render("nudge", context)
    return OutgoingEmail(
        kind=EmailKind.MONTHLY_NUDGE,
        period=str(month),
        sender=sender,
        recipients=recipients,
        subject=_one_line(f"Coaching check-in for {nudge.program_name}, {month:%B %Y}"),
        html=html,
        text=text,
        tags={**tags, "month": str(month), "program_id": nudge.program_id},
    )


@dataclass(frozen=True)
class IssueLine:
    where: str  # "row 45 (E45)", "whole tab"
    column: str
    value: str
    problem: str
    fix: str
    severity: str
    link: str  # https only, else ""


@dataclass(frozen=True)
class TabView:
    title: str
    rows_read: int
    rows_quarantined: int
    errors: int
    warnings: int
    counts: str  # "2 errors, 1 warning"
    lines: tuple[IssueLine, ...]
    more: int  # lines not shown (in the CSV)


def _issue_line(line: NoticeLine) -> IssueLine:
    where = "whole tab" if line.row is None else f"row {line.row}" + (f" ({line.cell})" if line.cell else "")
    value = line.value if len(line.value) <= VALUE_CHARS else line.value[: VALUE_CHARS - 1] + "…"
    return IssueLine(
        where,
        line.column or "—",
        value,
        line.problem,
        line.fix,
        "Error" if line.severity is Severity.ERROR else "Warning",
        line.link if line.link.startswith("https://") else "",  # a link never runs script (javascript:)
    )


def _tab_view(tab: TabSummary) -> TabView:
    counts = ", ".join(
        part
        for part in (
            _count(tab.errors, "error") if tab.errors else "",
            _count(tab.warnings, "warning") if tab.warnings else "",
        )
        if part
    )
    return TabView(
        tab.title,
        tab.rows_read,
        tab.rows_quarantined,
        tab.errors,
        tab.warnings,
        counts or "nothing to fix",
        tuple(_issue_line(line) for line in tab.lines[:SHOWN_PER_TAB]),
        max(len(tab.lines) - SHOWN_PER_TAB, 0),
    )


@dataclass(frozen=True)
class CauseView:
    where: str  # "Staff, row 15"
    lines: tuple[IssueLine, ...]
    waiting: str  # "Coaching Log rows 4, 7 and 9; Fidelity row 3"
    waiting_rows: int


def _rows(rows: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, rows[:SHOWN_ROWS])) + (f" … ({len(rows)} rows)" if len(rows) > SHOWN_ROWS else "")
    return f"row{'s' if len(rows) > 1 else ''} {shown}"


def _cause_view(cause: Cause) -> CauseView:
    return CauseView(
        f"{cause.title}, row {cause.row}",
        tuple(_issue_line(line) for line in cause.lines),
        "; ".join(f"{title} {_rows(rows)}" for title, rows in cause.waiting),
        cause.waiting_rows,
    )


def notice_subject(notice: DataQualityNotice) -> str:
    if notice.held_back:
        return f"Action needed: data errors held back the {notice.held_back} coaching report"
    return _one_line(
        f"Data quality: {_count(notice.errors, 'error')} and {_count(notice.warnings, 'warning')} "
        f"to fix in {notice.source_label}"
    )


def data_quality_email(
    notice: DataQualityNotice,
    *,
    sender: str,
    recipients: tuple[str, ...],
    period: str,
    data_quality_csv: bytes,
    tags: Mapping[str, str],
) -> OutgoingEmail:
    """The notice for the data stewards, with data_quality.csv attached."""
    context = {
        "organisation": notice.organisation,
        "source": notice.source_label,
        "held_back": notice.held_back,
        "blocking": notice.blocking,
        "errors": notice.errors,
        "warnings": notice.warnings,
        "counts": f"{_count(notice.errors, 'error')} and {_count(notice.warnings, 'warning')}",
        "tabs": [_tab_view(tab) for tab in notice.tabs],
        "causes": [_cause_view(cause) for cause in notice.causes],
    }
    html, text = _render("data_quality", context)
    return OutgoingEmail(
        kind=EmailKind.DATA_QUALITY,
        period=period,
        sender=sender,
        recipients=recipients,
        subject=notice_subject(notice),
        html=html,
        text=text,
        attachments=(Attachment("data_quality.csv", data_quality_csv, "text/csv"),),
        tags=dict(tags),
    )
