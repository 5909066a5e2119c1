"""Small raw workbooks built in tests, the way a source hands them over."""

from __future__ import annotations

import datetime as dt

from coaching.parsing import parse_workbook
from coaching.records import RawTab, RawWorkbook

# The header row of every tab, as an ops person would type it.
HEADERS = {
    "Programs": ["Program ID", "Program Name", "Coaching Lead ID"],
    "Staff": ["Staff ID", "Name", "Email", "Program ID", "Role", "Requires Coaching", "Start Date", "End Date"],
    "Coaching Log": [
        "Session ID",
        "Session Date",
        "Program ID",
        "Coach ID",
        "Staff ID",
        "Duration (minutes)",
        "Direct Observation?",
        "Reflection",
        "Document Review",
        "Stakeholder Interview",
        "Notes",
    ],
    "Coaching Plan": ["Program ID", "Component", "Documented", "Document URL", "Last Reviewed"],
    "Fidelity": ["Assessment Date", "Program ID", "Subject Type", "Subject ID", "Score", "Max Score"],
    "Satisfaction Survey": ["Timestamp", "Program ID", "Coach ID", "Satisfaction", "Comments"],
    "Improvement Actions": ["Quarter", "Program ID", "Best Practice", "Action", "Owner", "Status", "Due Date"],
}

PROGRAMS = [HEADERS["Programs"], ["P1", "Home Visiting", "S2"]]
STAFF = [
    HEADERS["Staff"],
    ["S1", "Ann Lee", "ann@agency.org", "P1", "practitioner", True, dt.datetime(2025, 1, 6), None],
    ["S2", "Bo Diaz", "bo@agency.org", "P1", "coach", False, dt.datetime(2024, 3, 1), None],
]
LOG_HEADER = HEADERS["Coaching Log"]
LOG = [LOG_HEADER, ["C1", dt.datetime(2026, 7, 14), "P1", "S2", "S1", 60, True, True, False, False, ""]]


def workbook(**tabs: list[list[object]]) -> RawWorkbook:
    """A workbook with valid Programs, Staff and Coaching Log unless a test replaces them.

    Keyword names are tab titles with spaces as underscores: Coaching_Log=[…].
    """
    chosen = {"Programs": PROGRAMS, "Staff": STAFF, "Coaching Log": LOG}
    chosen.update({title.replace("_", " "): rows for title, rows in tabs.items()})
    return RawWorkbook(
        tabs={title: RawTab(title, rows) for title, rows in chosen.items() if rows is not None},
        label="test.xlsx",
    )


def practitioner(staff_id, start="1/1/2025", end=None, program="P1", requires="yes"):
    return [
        staff_id,
        f"Name {staff_id}",
        f"{staff_id.lower()}@agency.org",
        program,
        "practitioner",
        requires,
        start,
        end,
    ]


def lead(staff_id="L1", email="lead@agency.org", end=None):
    return [staff_id, "Lee Lead", email, "P1", "coach", "no", "1/1/2024", end]


def session(staff_id, date, observed="yes", second="yes", program="P1", session_id=None):
    return [session_id or f"S-{staff_id}-{date}", date, program, "L1", staff_id, 60, observed, second, "", "", ""]


def program_frames(staff_rows, log_rows, lead_id="L1", plan=None, fidelity=None, survey=None, actions=None):
    """Valid frames for program P1 (led by `lead_id`) and an unrelated program P2."""
    tabs = {
        "Programs": [
            ["Program ID", "Program Name", "Coaching Lead ID"],
            ["P1", "Home Visiting", lead_id],
            ["P2", "Other", ""],
        ],
        "Staff": [STAFF[0], *staff_rows],
        # A session of another program in another quarter: the tab is never empty.
        "Coaching_Log": [LOG_HEADER, session("X9", "1/15/2026", program="P2"), *log_rows],
    }
    if plan is not None:
        tabs["Coaching_Plan"] = [["Program ID", "Component", "Documented"], *plan]
    if fidelity is not None:
        tabs["Fidelity"] = [
            ["Assessment Date", "Program ID", "Subject Type", "Subject ID", "Score", "Max Score"],
            *fidelity,
        ]
    if survey is not None:
        tabs["Satisfaction_Survey"] = [["Timestamp", "Program ID", "Satisfaction"], *survey]
    if actions is not None:
        tabs["Improvement_Actions"] = [["Quarter", "Program ID", "Action", "Status"], *actions]
    parsed = parse_workbook(workbook(**tabs), {})
    return {key: tab.frame for key, tab in parsed.tabs.items()}
