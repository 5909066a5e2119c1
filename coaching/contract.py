"""The data contract (docs/data-contract.md, section 1) as data.

Every other module asks this one which tabs and columns exist, what type each column has and
whether it must be filled in; nothing else hard-codes a column name of the workbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from coaching.quarters import LABEL_PATTERN


class Kind(str, Enum):
    """How a cell is read."""

    ID = "id"  # text identifier; a numeric cell 123 becomes "123"
    TEXT = "text"  # free text, trimmed
    EMAIL = "email"  # an address that could receive email (coaching/recipients.py); anything else is a warning
    ENUM = "enum"  # text normalised like a header, then mapped through aliases
    QUARTER = "quarter"  # YYYY-Qn
    BOOL = "bool"
    DATE = "date"  # the time part, if any, is dropped
    DATETIME = "datetime"
    NUMBER = "number"
    INTEGER = "integer"  # a number that must be whole


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    # The column must be present in the header row (otherwise the run stops): every column that
    # must be filled in, and every column a score depends on even where its cells may be blank.
    in_header: bool = False
    # Every data row must have a value (a blank is an error on that row).
    filled: bool = False
    # A cell that cannot be read is only a warning (the value is treated as blank): for a value
    # no score needs.
    unreadable_is_warning: bool = False
    # For ENUM columns: accepted values after normalising, and long labels mapped onto them.
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The header an office worker types for this column ("Direct Observation?")."""
        return COLUMN_LABELS.get(self.name, self.name)

    @property
    def free_text(self) -> bool:
        """Text read as it is: a formula here reads as its value. Every other column wants a typed
        value (a date, an ID, a yes/no, a number, a choice), which a formula must never stand for."""
        return self.kind in (Kind.TEXT, Kind.EMAIL)


@dataclass(frozen=True)
class Tab:
    key: str  # stable internal name, also the expectation suite's file name
    default_title: str  # the tab's title in the workbook (configurable)
    required: bool
    columns: tuple[Column, ...]
    # The best practice whose score this optional tab feeds: when the tab is missing, the report says
    # so beside that score.
    feeds: int | None = None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# A valid email address, the one definition (Staff emails, recipients): the usual ASCII local part
# (letters, digits, . _ ' % + -, starting with a letter, digit or _, so never "=", "+", "-" or "@"
# that a spreadsheet reads as a formula) and a dotted domain; no display names, comments or quoting.
EMAIL_PATTERN = (
    r"[A-Za-z0-9_][A-Za-z0-9_'%+-]*(?:\.[A-Za-z0-9_'%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


QUARTER_PATTERN = rf"^{LABEL_PATTERN}$"  # YYYY-Qn (coaching/quarters.py), after normalising (no spaces)


def normalise(text: str) -> str:
    """Lower-case; each run of characters other than letters and digits becomes one `_`."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_")


def _required(name: str, kind: Kind, **kw: Any) -> Column:
    return Column(name, kind, in_header=True, filled=True, **kw)


def _optional(name: str, kind: Kind, **kw: Any) -> Column:
    return Column(name, kind, **kw)


def _scoring(name: str, kind: Kind, **kw: Any) -> Column:
    """A column a score depends on: its cells may be blank, but the column must be there, so that a
    renamed or deleted column never reads as a column of blanks (scores silently 0)."""
    return Column(name, kind, in_header=True, **kw)


# The headers of the template and sample workbooks; each normalises to its column name.
COLUMN_LABELS: dict[str, str] = {
    "program_id": "Program ID",
    "program_name": "Program Name",
    "coaching_lead_id": "Coaching Lead ID",
    "staff_id": "Staff ID",
    "name": "Name",
    "email": "Email",
    "role": "Role",
    "requires_coaching": "Requires Coaching?",
    "start_date": "Start Date",
    "end_date": "End Date",
    "session_id": "Session ID",
    "session_date": "Session Date",
    "coach_id": "Coach ID",
    "duration_minutes": "Duration (minutes)",
    "direct_observation": "Direct Observation?",
    "reflection": "Reflection?",
    "document_review": "Document Review?",
    "stakeholder_interview": "Stakeholder Interview?",
    "notes": "Notes",
    "component": "Component",
    "documented": "Documented?",
    "document_url": "Document URL",
    "last_reviewed": "Last Reviewed",
    "assessment_date": "Assessment Date",
    "subject_type": "Subject Type",
    "subject_id": "Subject ID",
    "score": "Score",
    "max_score": "Max Score",
    "timestamp": "Timestamp",
    "satisfaction": "Satisfaction",
    "comments": "Comments",
    "quarter": "Quarter",
    "best_practice": "Best Practice",
    "action": "Action",
    "owner": "Owner",
    "status": "Status",
    "due_date": "Due Date",
}


PLAN_COMPONENTS = ("skill_sets", "frequency", "methods", "feedback", "communication")
# The long labels of the best practice ("Feedback methods and timeframe" …), normalised.
PLAN_COMPONENT_ALIASES = {
    "skill_sets_to_be_coached": "skill_sets",
    "skill_sets_coached": "skill_sets",
    "skills": "skill_sets",
    "frequency_of_coaching": "frequency",
    "coaching_frequency": "frequency",
    "coaching_methods": "methods",
    "methods_of_coaching": "methods",
    "feedback_methods_and_timeframe": "feedback",
    "feedback_methods": "feedback",
    "communication_protocols_for_coach_and_supervisor": "communication",
    "communication_protocols": "communication",
}
ACTION_STATUSES = ("proposed", "planned", "in_progress", "done", "dropped")
DECIDED_STATUSES = ("planned", "in_progress", "done")
SUBJECT_TYPES = ("practitioner", "coach")
SOURCE_FLAGS = ("direct_observation", "reflection", "document_review", "stakeholder_interview")

PROGRAMS = Tab(
    "programs",
    "Programs",
    required=True,
    columns=(
        _required("program_id", Kind.ID),
        _required("program_name", Kind.TEXT),
        _scoring("coaching_lead_id", Kind.ID),
    ),
)
STAFF = Tab(
    "staff",
    "Staff",
    required=True,
    columns=(
        _required("staff_id", Kind.ID),
        _required("name", Kind.TEXT),
        _scoring("email", Kind.EMAIL),
        _required("program_id", Kind.ID),
        _optional("role", Kind.TEXT),
        _scoring("requires_coaching", Kind.BOOL),
        _required("start_date", Kind.DATE),
        _scoring("end_date", Kind.DATE),
    ),
)
COACHING_LOG = Tab(
    "coaching_log",
    "Coaching Log",
    required=True,
    columns=(
        _required("session_id", Kind.ID),
        _required("session_date", Kind.DATE),
        _required("program_id", Kind.ID),
        _required("coach_id", Kind.ID),
        _required("staff_id", Kind.ID),
        _optional("duration_minutes", Kind.NUMBER, unreadable_is_warning=True),
        *(_scoring(flag, Kind.BOOL) for flag in SOURCE_FLAGS),
        _optional("notes", Kind.TEXT),
    ),
)
COACHING_PLAN = Tab(
    "coaching_plan",
    "Coaching Plan",
    required=False,
    feeds=3,
    columns=(
        _required("program_id", Kind.ID),
        _required("component", Kind.ENUM, choices=PLAN_COMPONENTS, aliases=PLAN_COMPONENT_ALIASES),
        _scoring("documented", Kind.BOOL),
        _optional("document_url", Kind.TEXT),
        _optional("last_reviewed", Kind.DATE),
    ),
)
FIDELITY = Tab(
    "fidelity",
    "Fidelity",
    required=False,
    feeds=4,
    columns=(
        _required("assessment_date", Kind.DATE),
        _required("program_id", Kind.ID),
        _required("subject_type", Kind.ENUM, choices=SUBJECT_TYPES),
        _required("subject_id", Kind.ID),
        _required("score", Kind.NUMBER),
        _required("max_score", Kind.NUMBER),
    ),
)
SATISFACTION = Tab(
    "satisfaction",
    "Satisfaction Survey",
    required=False,
    feeds=4,
    columns=(
        _required("timestamp", Kind.DATETIME),
        _required("program_id", Kind.ID),
        _optional("coach_id", Kind.ID),
        _required("satisfaction", Kind.INTEGER),
        _optional("comments", Kind.TEXT),
    ),
)
IMPROVEMENT_ACTIONS = Tab(
    "improvement_actions",
    "Improvement Actions",
    required=False,
    feeds=4,
    columns=(
        _required("quarter", Kind.QUARTER),
        _required("program_id", Kind.ID),
        _optional("best_practice", Kind.INTEGER),
        _required("action", Kind.TEXT),
        _optional("owner", Kind.TEXT),
        _required("status", Kind.ENUM, choices=ACTION_STATUSES),
        _optional("due_date", Kind.DATE),
    ),
)

TABS: tuple[Tab, ...] = (
    PROGRAMS,
    STAFF,
    COACHING_LOG,
    COACHING_PLAN,
    FIDELITY,
    SATISFACTION,
    IMPROVEMENT_ACTIONS,
)
TABS_BY_KEY = {tab.key: tab for tab in TABS}
# Google Forms names its responses tab "Form Responses 1" (2, 3 … for later forms): normalised.
FORMS_RESPONSES = r"form_responses(?:_[0-9]+)?"

BEST_PRACTICES = {
    1: "Someone is accountable for coaching",
    2: "Coaching at least monthly, from direct observation plus another source",
    3: "A written coaching service delivery plan",
    4: "Coaching effectiveness reviewed quarterly and used to improve",
}
SCORE_WORDS = {2: "In place", 1: "Partially in place", 0: "Not in place"}
