"""Deterministic rules: for each program and best practice not fully in place, a next step and the
evidence behind it; and what improved, and what got worse, since the previous quarter.

Ordered by priority: every practice not in place (0) before those partially in place (1); within
each, by best practice (accountability first: without a lead nothing else gets fixed), then by
program name.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from coaching.contract import BEST_PRACTICES, PLAN_COMPONENTS, SCORE_WORDS
from coaching.scoring import (
    BP_COLUMNS,
    EFFECTIVENESS_SOURCES,
    LEAD_BLANK,
    LEAD_INACTIVE,
    LEAD_NO_EMAIL,
    LEAD_NOT_IN_STAFF,
    QuarterScores,
    Targets,
)

PRIORITY_WORDS = {0: "High", 1: "Medium"}


@dataclass(frozen=True)
class Recommendation:
    priority: int  # 1 = do first
    urgency: str  # "High" (not in place) or "Medium" (partially in place)
    program_id: str
    program_name: str
    best_practice: int
    score: int
    action: str  # the next step, in words a program manager acts on
    evidence: str  # which staff, which months, which numbers


@dataclass(frozen=True)
class Improvement:
    """A best practice that scored differently than the quarter before: better, or (a decline) worse."""

    program_id: str
    program_name: str
    best_practice: int
    before: int
    after: int

    @property
    def sentence(self) -> str:
        return (
            f"{self.program_name}: {BEST_PRACTICES[self.best_practice].lower()} is now "
            f"{SCORE_WORDS[self.after].lower()} (was {SCORE_WORDS[self.before].lower()})."
        )


def percent(value: float | None) -> str:
    """A share as a whole percent; a share with nothing to divide reads "no data"."""
    return "no data" if value is None or pd.isna(value) else f"{100 * value:.0f} %"


def share(part: int, whole: int, what: str = "") -> str:
    """ "31 of 32 staff-months (97 %)": the counts first, the percent of them after."""
    return f"{part} of {whole}{' ' + what if what else ''} ({percent(part / whole if whole else None)})"


def listed(joined: str) -> str:
    """ "skill_sets; feedback" → "skill sets, feedback"."""
    return ", ".join(part.strip().replace("_", " ") for part in str(joined).split(";") if part.strip())


# Each measure is said one way, in one direction, next to its target: in the recommendations'
# evidence, the report's program detail and recommendations.csv alike.
def _share_fact(part: int, whole: int, what: str, had: str, target: float, nothing: str) -> str:
    aim = f"target: at least {percent(target)}"
    if whole == 0:
        return f"{nothing} ({aim} of {what})."
    return f"{share(part, whole, what)} had {had} ({aim})."


def coverage_fact(card: pd.Series, targets: Targets) -> str:
    return _share_fact(
        card["covered_staff_months"],
        card["eligible_staff_months"],
        "staff-months",
        "a coaching session",
        targets.monthly_coverage,
        "No staff member who requires coaching was active in the quarter",
    )


def multi_source_fact(card: pd.Series, targets: Targets) -> str:
    return _share_fact(
        card["multi_source_sessions"],
        card["sessions"],
        "sessions",
        "direct observation plus a second source",
        targets.multi_source_rate,
        "No coaching session was logged in the quarter",
    )


def plan_fact(card: pd.Series, targets: Targets) -> str:
    missing = listed(card["missing_plan_components"])
    return (
        f"{card['plan_components']} of {len(PLAN_COMPONENTS)} plan components documented (target: at least "
        f"{targets.plan_components})" + (f"; missing: {missing}." if missing else ".")
    )


def sources_fact(card: pd.Series, targets: Targets, quarter: str) -> str:
    missing = listed(card["missing_effectiveness_sources"])
    return (
        f"{card['effectiveness_sources']} of {len(EFFECTIVENESS_SOURCES)} effectiveness data sources had an "
        f"entry in {quarter} (target: at least {targets.effectiveness_sources})"
        + (f"; missing: {missing}." if missing else ".")
    )


def actions_fact(card: pd.Series, previous: str) -> str:
    count = int(card["improvement_actions"])
    said = "No improvement action" if count == 0 else f"{count} improvement action{'s' if count != 1 else ''}"
    return (
        f"{said} decided on {previous} data (target: at least 1 planned, in progress or done; proposed "
        "ones do not count)."
    )


def _month_names(months: pd.Series) -> str:
    return ", ".join(m.strftime("%B") for m in sorted(set(months)))


def _uncovered_by_staff(staff_months: pd.DataFrame, limit: int = 8) -> dict[str, str]:
    """Per program: who was not coached in which months, people in name order (one pass over all
    programs: a scan per program would grow with programs × staff)."""
    missed = staff_months.loc[~staff_months["covered"]]
    per_person = missed.groupby(["program_id", "name", "staff_id"])["month"].agg(_month_names).reset_index()
    texts: dict[str, str] = {}
    for program_id, people in per_person.groupby("program_id", sort=False):  # one per program
        shown = [f"{row.name} ({row.staff_id}): {row.month}" for row in people.head(limit).itertuples()]
        more = len(people) - limit
        texts[str(program_id)] = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return texts


def _uncovered_counts(staff_months: pd.DataFrame) -> dict[str, str]:
    """Per program: how many people were not coached in how many of their months, without names."""
    missed = staff_months.loc[~staff_months["covered"]]
    counts = missed.groupby("program_id").agg(people=("staff_id", "nunique"), months=("month", "size"))
    return {
        str(program): f"{row.people} staff member{'s' if row.people != 1 else ''} in {row.months} "
        f"staff-month{'s' if row.months != 1 else ''}"
        for program, row in counts.iterrows()
    }


def lead_label(card: pd.Series) -> str:
    """'Felix Nguyen (00116)', or the bare id of a lead not found on the Staff tab."""
    name, lead = card["coaching_lead_name"], card["coaching_lead_id"]
    return f"{name} ({lead})" if name else str(lead)


def lead_evidence(card: pd.Series, name_staff: bool) -> str:
    """Who is accountable, in one sentence: the lead by name only when staff may be named."""
    status = card["lead_status"]
    if status == LEAD_BLANK:
        return "No coaching lead is named on the Programs tab."
    return f"Coaching lead {lead_label(card) if name_staff else 'named on the Programs tab'}: {status}."


def _accountability(card: pd.Series, name_staff: bool) -> tuple[str, str]:
    status = card["lead_status"]
    if status == LEAD_BLANK:
        return (
            "Name a coaching lead who is accountable for coaching in this program, and enter their "
            "staff ID as the program's Coaching Lead ID.",
            lead_evidence(card, name_staff),
        )
    fixes = {
        LEAD_NOT_IN_STAFF: "Add the lead to the Staff tab (or correct the Coaching Lead ID).",
        LEAD_INACTIVE: "Name a new coaching lead: the current one was not employed at the end of the quarter.",
        LEAD_NO_EMAIL: "Record a valid email address for the coaching lead on the Staff tab.",
    }
    return fixes[status], lead_evidence(card, name_staff)


def _delivery(card: pd.Series, uncovered: dict[str, str], targets: Targets) -> tuple[str, str]:
    steps, evidence = [], []
    coverage, multi = card["monthly_coverage"], card["multi_source_rate"]
    if not coverage >= targets.monthly_coverage - 1e-9:
        steps.append("Schedule coaching at least monthly for every staff member who requires it")
        evidence.append(coverage_fact(card, targets))
        missed = uncovered.get(card["program_id"], "")
        if missed:
            evidence.append(f"Not coached: {missed}.")
    if not multi >= targets.multi_source_rate - 1e-9:
        steps.append(
            "base coaching feedback on direct observation plus at least one other source "
            "(reflection, document review or stakeholder interviews)"
        )
        evidence.append(multi_source_fact(card, targets))
    action = "; ".join(steps)
    return action[0].upper() + action[1:] + ".", " ".join(evidence)


def _plan(card: pd.Series, targets: Targets) -> tuple[str, str]:
    if card["plan_components"] == 0:
        action = "Write a coaching service delivery plan covering skill sets, frequency, methods, feedback and communication."
    else:
        action = f"Document the missing parts of the coaching service delivery plan: {listed(card['missing_plan_components'])}."
    return action, plan_fact(card, targets)


def _effectiveness(card: pd.Series, scores: QuarterScores, targets: Targets, quarter_over: bool) -> tuple[str, str]:
    steps, evidence = [], []
    if card["effectiveness_sources"] < targets.effectiveness_sources:
        when = "next quarter" if quarter_over else "this quarter"
        steps.append(f"Collect {card['missing_effectiveness_sources'].replace(';', ' or')} data {when}")
        evidence.append(sources_fact(card, targets, scores.quarter.label))
    if card["improvement_actions"] == 0:
        previous = scores.quarter.previous.label
        steps.append(
            f"decide on at least one improvement action based on {previous}'s coaching data "
            "(status planned, in progress or done)"
        )
        evidence.append(actions_fact(card, previous))
    action = "; ".join(steps)
    return action[0].upper() + action[1:] + ".", " ".join(evidence)


def recommend(
    scores: QuarterScores, targets: Targets, *, name_staff: bool = True, quarter_over: bool = True
) -> list[Recommendation]:
    """One recommendation per program and best practice scored below 2, in priority order.

    `name_staff` False gives counts instead of names in the evidence (the leadership report's
    default); `quarter_over` says whether the advice is for next quarter or for the one still running.
    """
    items: list[tuple[int, int, str, Recommendation]] = []
    uncovered = (_uncovered_by_staff if name_staff else _uncovered_counts)(scores.staff_months)
    for _, card in scores.scorecard.iterrows():  # one row per program: a handful, not records
        for practice, column in BP_COLUMNS.items():
            score = int(card[column])
            if score == 2:
                continue
            if practice == 1:
                action, evidence = _accountability(card, name_staff)
            elif practice == 2:
                action, evidence = _delivery(card, uncovered, targets)
            elif practice == 3:
                action, evidence = _plan(card, targets)
            else:
                action, evidence = _effectiveness(card, scores, targets, quarter_over)
            recommendation = Recommendation(
                0,
                PRIORITY_WORDS[score],
                card["program_id"],
                card["program_name"],
                practice,
                score,
                action,
                evidence,
            )
            items.append((score, practice, card["program_name"], recommendation))
    items.sort(key=lambda item: item[:3])
    return [Recommendation(**{**item[3].__dict__, "priority": rank}) for rank, item in enumerate(items, start=1)]


def _changes(current: QuarterScores, previous: QuarterScores | None, better: bool) -> list[Improvement]:
    if previous is None:
        return []
    merged = current.scorecard.merge(
        previous.scorecard[["program_id", *BP_COLUMNS.values()]], on="program_id", suffixes=("", "_before")
    )
    found: list[Improvement] = []
    for practice, column in BP_COLUMNS.items():
        moved = merged[column] > merged[f"{column}_before"] if better else merged[column] < merged[f"{column}_before"]
        found.extend(
            Improvement(
                row["program_id"], row["program_name"], practice, int(row[f"{column}_before"]), int(row[column])
            )
            for row in merged.loc[moved].to_dict(orient="records")
        )
    return sorted(found, key=lambda item: (item.program_name, item.best_practice))


def improvements(current: QuarterScores, previous: QuarterScores | None) -> list[Improvement]:
    """Best practices that scored higher than in the previous quarter, per program."""
    return _changes(current, previous, better=True)


def declines(current: QuarterScores, previous: QuarterScores | None) -> list[Improvement]:
    """Best practices that scored lower than in the previous quarter, per program: what got worse."""
    return _changes(current, previous, better=False)


def recommendations_frame(recommendations: list[Recommendation]) -> pd.DataFrame:
    """The rows of recommendations.csv."""
    columns = [
        "priority",
        "urgency",
        "program_id",
        "program_name",
        "best_practice",
        "best_practice_name",
        "score",
        "status",
        "recommendation",
        "evidence",
    ]
    rows = [
        {
            "priority": r.priority,
            "urgency": r.urgency,
            "program_id": r.program_id,
            "program_name": r.program_name,
            "best_practice": r.best_practice,
            "best_practice_name": BEST_PRACTICES[r.best_practice],
            "score": r.score,
            "status": SCORE_WORDS[r.score],
            "recommendation": r.action,
            "evidence": r.evidence,
        }
        for r in recommendations
    ]
    return pd.DataFrame(rows, columns=columns)


def proposals(recommendations: list[Recommendation], quarter: str) -> list[dict[str, object]]:
    """Recommendations as rows of the Improvement Actions tab, for leadership to decide on.

    `quarter` is the quarter whose data they answer: once decided (planned, in progress, done) they
    count for the next quarter's effectiveness review.
    """
    return [
        {
            "quarter": quarter,
            "program_id": r.program_id,
            "best_practice": r.best_practice,
            "action": r.action,
            "owner": None,
            "status": "proposed",
            "due_date": None,
        }
        for r in recommendations
    ]
