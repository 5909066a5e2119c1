"""ReportData built the way the pipeline builds it: raw sheet rows → parse_workbook → score_quarter.

Rows are given as text cells, as the Google Sheets API returns them (FORMATTED_VALUE). Rows with a
parse error are left out of the valid frames, which is what validation does with error rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from coaching.metrics import satisfaction_by_coach
from coaching.parsing import parse_workbook
from coaching.quarters import Quarter
from coaching.recommendations import declines, improvements, recommend
from coaching.report.assemble import satisfaction_groups
from coaching.records import DataIssue, RawTab, RawWorkbook, Severity
from coaching.report.model import ReportData
from coaching.scoring import Targets, score_quarter
from tests.coaching.workbooks import HEADERS

SHEET_URL = "https://docs.google.com/spreadsheets/d/1TestSheetKey/edit"


def valid_frames(tabs: dict[str, list[list[str]]]) -> dict[str, pd.DataFrame]:
    """The valid rows of each tab, as validation leaves them."""
    return _parsed(tabs, linked=False)[-1]


def _parsed(tabs: dict[str, list[list[str]]], linked: bool):
    raw = RawWorkbook(
        tabs={
            title: RawTab(title, [HEADERS[title], *rows], sheet_id=n) for n, (title, rows) in enumerate(tabs.items())
        },
        label="Google Sheet Coaching records" if linked else "test_workbook.xlsx",
        url=SHEET_URL if linked else None,
    )
    parsed = parse_workbook(raw, titles={})
    issues = [
        DataIssue(**{**issue.__dict__, "link": f"{SHEET_URL}#gid=0&range={issue.cell}"})
        if linked and issue.cell
        else issue
        for issue in parsed.issues
    ]
    bad_rows = {(i.tab, i.row) for i in issues if i.severity is Severity.ERROR and i.row is not None}
    valid = {
        key: tab.frame.drop(index=[row for title, row in bad_rows if title == tab.title])
        for key, tab in parsed.tabs.items()
    }
    return raw, parsed, issues, bad_rows, valid


def report_data(
    tabs: dict[str, list[list[str]]],
    quarter: str,
    *,
    organisation: str = "Riverbend Family Services",
    generated_on: dt.date = dt.date(2026, 10, 5),
    linked: bool = False,
    blocking: tuple[str, ...] = (),
    targets: Targets = Targets(),
    min_responses: int = 3,
    name_staff: bool = True,
) -> ReportData:
    """Parse and score the rows; `linked` gives each cell issue a link as the Sheets source would."""
    raw, parsed, issues, bad_rows, valid = _parsed(tabs, linked)
    current = Quarter.parse(quarter)
    quarters = [current.previous.previous.previous, current.previous.previous, current.previous, current]
    history = [score_quarter(valid, q, targets) for q in quarters]
    scores, previous = history[-1], history[-2]
    return ReportData(
        organisation=organisation,
        generated_on=generated_on,
        source_label=raw.label,
        current=scores,
        previous=previous,
        history=history,
        recommendations=recommend(scores, targets, name_staff=name_staff, quarter_over=generated_on > current.end),
        improvements=improvements(scores, previous),
        satisfaction=satisfaction_by_coach(valid, current, min_responses),
        satisfaction_by_program=satisfaction_groups(valid, current, min_responses),
        declines=declines(scores, previous),
        name_staff=name_staff,
        issues=issues,
        rows_read={tab.title: len(tab.frame) for tab in parsed.tabs.values()},
        rows_quarantined={
            tab.title: sum(1 for title, _ in bad_rows if title == tab.title) for tab in parsed.tabs.values()
        },
        targets=targets,
        min_responses_per_coach=min_responses,
        blocking=list(blocking),
    )


def small_tabs(
    program_name: str = "Family & <Youth> Services",
    comment: str = "<script>alert('hi')</script>",
    coach_name: str = "Dee Coach",
) -> dict[str, list[list[str]]]:
    """Two programs scored 8 + 2 of 16 in 2026-Q3 (62.5 %) and 5 + 1 in 2026-Q2 (37.5 %).

    Home Visiting: lead in place, coached every month of Q3 from two sources (only April in Q2),
    three plan components, two effectiveness sources and a planned Q2 action in Q3.
    The second program: no lead, one July session from observation only, one plan component,
    only a satisfaction survey (2 responses for its coach; Home Visiting's coach has 3).
    """
    log = [
        ["Q2-1", "4/14/2026", "P1", "S01", "S02", "60", "TRUE", "TRUE", "", "", ""],
        ["Q3-1", "7/8/2026", "P1", "S01", "S02", "60", "TRUE", "TRUE", "", "", ""],
        ["Q3-2", "8/12/2026", "P1", "S01", "S02", "45", "TRUE", "", "TRUE", "", ""],
        ["Q3-3", "9/9/2026", "P1", "S01", "S02", "50", "yes", "yes", "", "", ""],
        ["Q3-4", "7/20/2026", "P2", "S04", "S03", "30", "TRUE", "", "", "", comment],
    ]
    return {
        "Programs": [["P1", "Home Visiting", "S01"], ["P2", program_name, ""]],
        "Staff": [
            ["S01", "Ana Coach", "ana@example.org", "P1", "coach", "FALSE", "1/6/2020", ""],
            ["S02", "Ben Worker", "ben@example.org", "P1", "practitioner", "TRUE", "3/2/2021", ""],
            ["S03", "Cal Worker", "cal@example.org", "P2", "practitioner", "TRUE", "2022-05-01", ""],
            ["S04", coach_name, "dee@example.org", "P2", "coach", "FALSE", "2019-09-01", ""],
            ["S05", "Eve Late", "eve@example.org", "P2", "practitioner", "TRUE", "31/31/2026", ""],
        ],
        "Coaching Log": log,
        "Coaching Plan": [
            ["P1", "Skill sets to be coached", "TRUE", "", ""],
            ["P1", "Frequency", "TRUE", "", ""],
            ["P1", "Methods", "x", "", ""],
            ["P1", "Feedback", "FALSE", "", ""],
            ["P2", "Communication protocols for coach and supervisor", "TRUE", "", ""],
        ],
        "Fidelity": [["8/30/2026", "P1", "practitioner", "S02", "18", "20"]],
        "Satisfaction Survey": [
            ["7/31/2026 10:15:00", "P1", "S01", "4", "Helpful"],
            ["8/31/2026 11:00:00", "P1", "S01", "5", ""],
            ["9/15/2026 09:30:00", "P1", "S01", "5", ""],
            ["8/3/2026 14:00:00", "P2", "S04", "1", comment],
            ["9/3/2026 14:00:00", "P2", "S04", "2", ""],
            ["9/4/2026 14:00:00", "P2", "S04", comment, "typed in the wrong column"],
        ],
        "Improvement Actions": [
            ["2026-Q2", "P1", "4", "Review survey results at the monthly team meeting", "Ana", "planned", ""],
            ["2026-Q2", "P2", "2", "Observe every session", "Dee", "proposed", ""],
        ],
    }


def realistic_tabs(seed: int = 7) -> dict[str, list[list[str]]]:
    """Four programs, about forty staff, four quarters (2025-Q4 … 2026-Q3) with real-life gaps."""
    rng = np.random.default_rng(seed)
    programs = [
        ["HV", "Home Visiting", "S001"],
        ["FS", "Family Support & Reunification", "S101"],  # lead leaves in August 2026
        ["YM", "Youth Mentoring", ""],  # nobody named
        ["CR", "Crisis Response", "S301"],  # lead without email; no plan
    ]
    staff: list[list[str]] = []
    for p, (pid, _, _lead) in enumerate(programs):
        for n in range(10):
            sid = f"S{p}{n + 1:02d}"
            coach = n == 0
            email = "" if sid == "S301" else f"{sid.lower()}@riverbend.example.org"
            start, end = "2019-03-01", ""
            if n == 8:
                start = "2026-08-10"  # joined mid-quarter
            if n == 9:
                end = "2026-07-31"  # left after the first month
            if sid == "S101":
                end = "2026-08-21"
            staff.append(
                [
                    sid,
                    _person(rng),
                    email,
                    pid,
                    "coach" if coach else "practitioner",
                    "FALSE" if coach else "TRUE",
                    start,
                    end,
                ]
            )
    staff.append(["S111", "Noor Haddad", "noor@riverbend.example.org", "FS", "coach", "FALSE", "2020-01-06", ""])
    log: list[list[str]] = []
    coverage = {"HV": 0.97, "FS": 0.8, "YM": 0.55, "CR": 0.9}
    two_sources = {"HV": 0.9, "FS": 0.85, "YM": 0.5, "CR": 0.6}
    months = pd.period_range("2025-10", "2026-09", freq="M")
    session = 0
    for row in staff:
        sid, pid, coach_flag = row[0], row[3], row[5]
        if coach_flag == "FALSE":
            continue
        coach = next(s[0] for s in staff if s[3] == pid and s[4] == "coach")
        for m, month in enumerate(months):
            drift = 0.04 * (m - 6) if pid in ("HV", "YM") else 0.0
            if pid == "FS" and str(month) == "2026-08":
                continue  # a missed month: the lead left
            if rng.random() > min(coverage[pid] + drift, 1.0):
                continue
            session += 1
            day = month.start_time + pd.Timedelta(days=int(rng.integers(2, 26)))
            observed = rng.random() < min(two_sources[pid] + drift, 1.0)
            log.append(
                [
                    f"C{session:04d}",
                    f"{day.month}/{day.day}/{day.year}",
                    pid,
                    coach,
                    sid,
                    str(int(rng.integers(30, 90))),
                    "TRUE" if observed else "FALSE",
                    "TRUE" if observed or rng.random() < 0.5 else "",
                    "TRUE" if rng.random() < 0.3 else "",
                    "",
                    "",
                ]
            )
    log.append(["C9998", "9/31/2026", "HV", "S001", "S002", "60", "TRUE", "TRUE", "", "", ""])
    log.append(["C9999", "9/14/2026", "YM", "S201", "S205", "ninety", "maybe", "TRUE", "", "", ""])
    plan = [
        [pid, c, "TRUE", f"https://intranet.example.org/plans/{pid}", "2026-01-15"]
        for pid, cs in {
            "HV": ("Skill sets", "Frequency", "Methods", "Feedback", "Communication"),
            "FS": ("Frequency", "Methods", "Feedback methods and timeframe"),
            "YM": ("Frequency", "Methods"),
        }.items()
        for c in cs
    ]
    fidelity, survey = [], []
    for q_end in ("12/15/2025", "3/16/2026", "6/15/2026", "9/14/2026"):
        for pid, kinds in {"HV": ("practitioner", "coach"), "FS": ("practitioner",), "YM": ("coach",)}.items():
            for kind in kinds:
                fidelity.append([q_end, pid, kind, f"S{'HV FS YM CR'.split().index(pid)}02", "17", "20"])
    coach_responses = {"S001": 6, "S101": 4, "S201": 2, "S111": 3}
    for coach, count in coach_responses.items():
        pid = next(s[3] for s in staff if s[0] == coach)
        for k in range(count):
            survey.append(
                [
                    f"{7 + k % 3}/{10 + k}/2026 09:{10 + k}:00",
                    pid,
                    coach,
                    str(int(rng.integers(3, 6))),
                    "Good check-ins" if k == 0 else "",
                ]
            )
    survey.append(["8/20/2026 12:00:00", "FS", "", "4", "<b>more</b> time please"])
    survey.append(["8/21/2026 12:00:00", "FS", "S111", "six", ""])
    actions = [
        ["2026-Q2", "HV", "2", "Add a second observer to monthly sessions", "Ana Ruiz", "done", "2026-08-31"],
        ["2026-Q2", "FS", "4", "Start a quarterly satisfaction survey", "M. Osei", "in_progress", "2026-09-30"],
        ["2026-Q2", "YM", "1", "Name a coaching lead", "Director", "proposed", ""],
        ["2026-Q3", "CR", "3", "Draft the coaching plan", "J. Park", "planned", "2026-11-30"],
    ]
    return {
        "Programs": programs,
        "Staff": staff,
        "Coaching Log": log,
        "Coaching Plan": plan,
        "Fidelity": fidelity,
        "Satisfaction Survey": survey,
        "Improvement Actions": actions,
    }


_FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
_LAST = ["Ruiz", "Osei", "Park", "Nguyen", "Moreau", "Kowalski", "Ibrahim", "Silva", "Tan", "Walsh"]


def _person(rng: np.random.Generator) -> str:
    return f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
