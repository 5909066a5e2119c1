"""The four coaching best practices, scored per program and quarter (data-contract.md, section 2).

Everything works on the valid rows only, with group-bys over whole frames. Besides the scorecard,
the scoring keeps the evidence the recommendations and the report cite: which staff-months were not
covered, which plan components and effectiveness sources are missing, what happened to the lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coaching.contract import DECIDED_STATUSES, PLAN_COMPONENTS, SOURCE_FLAGS
from coaching.quarters import Quarter

SCORECARD_COLUMNS = [
    "quarter",
    "program_id",
    "bp1_accountability",
    "bp2_coaching_delivery",
    "bp3_service_plan",
    "bp4_effectiveness_review",
    "total_score",
    "percent",
    "monthly_coverage",
    "multi_source_rate",
    "plan_components",
    "effectiveness_sources",
    "improvement_actions",
]
# Further columns of scorecard.csv: what a reader needs to check a score without the workbook.
EVIDENCE_COLUMNS = [
    "program_name",
    "coaching_lead_id",
    "coaching_lead_name",
    "lead_status",
    "eligible_staff_months",
    "covered_staff_months",
    "sessions",
    "multi_source_sessions",
    "missing_plan_components",
    "missing_effectiveness_sources",
]
BP_COLUMNS = {
    1: "bp1_accountability",
    2: "bp2_coaching_delivery",
    3: "bp3_service_plan",
    4: "bp4_effectiveness_review",
}
EFFECTIVENESS_SOURCES = {
    "practitioner_fidelity": "practitioner fidelity assessment",
    "coach_fidelity": "coach fidelity assessment",
    "satisfaction_survey": "staff satisfaction survey",
}
# Lead statuses, in words the report and the recommendations use.
LEAD_OK = "active, with a valid email"
LEAD_BLANK = "nobody named"
LEAD_NOT_IN_STAFF = "not found among the valid Staff rows"
LEAD_INACTIVE = "not active on the last day of the quarter"
LEAD_NO_EMAIL = "no valid email on the Staff tab"

# A rate is compared with its target to this tolerance, so 27 of 30 counts as exactly 0.90.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Targets:
    monthly_coverage: float = 0.90
    multi_source_rate: float = 0.80
    plan_components: int = 3
    effectiveness_sources: int = 2


@dataclass
class QuarterScores:
    quarter: Quarter
    scorecard: pd.DataFrame  # SCORECARD_COLUMNS + EVIDENCE_COLUMNS, one row per program
    staff_months: pd.DataFrame  # program_id, staff_id, name, month, covered: every eligible staff-month
    monthly_coverage: pd.DataFrame  # program_id, month, eligible, covered, coverage

    @property
    def organisation_percent(self) -> float | None:
        """The headline: points scored by all programs over points possible, in percent."""
        if self.scorecard.empty:
            return None
        return round(100 * self.scorecard["total_score"].sum() / (8 * len(self.scorecard)), 1)


def active_between(staff: pd.DataFrame, first: pd.Series | pd.Timestamp, last: pd.Series | pd.Timestamp) -> pd.Series:
    """Active on at least one day between first and last (inclusive)."""
    return staff["start_date"].le(last) & (staff["end_date"].isna() | staff["end_date"].ge(first))


def eligible_staff_months(staff: pd.DataFrame, sessions: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Every eligible staff-month of the quarter; `sessions` are the coaching-log rows dated in it."""
    relevant = staff.loc[staff["requires_coaching"], ["staff_id", "name", "program_id", "start_date", "end_date"]]
    months = pd.DataFrame(
        {
            "month": quarter.months,
            "first": [m.start_time for m in quarter.months],
            "last": [m.end_time.normalize() for m in quarter.months],
        }
    )
    grid = relevant.merge(months, how="cross")
    grid = grid[active_between(grid, grid["first"], grid["last"])]
    coached = sessions[["staff_id", "session_date"]]
    coached = coached.assign(month=coached["session_date"].dt.to_period("M"))[["staff_id", "month"]]
    coached = coached.drop_duplicates().assign(covered=True)
    grid = grid.merge(coached, on=["staff_id", "month"], how="left")
    grid["covered"] = grid["covered"].fillna(False).astype(bool)
    return grid[["program_id", "staff_id", "name", "month", "covered"]].reset_index(drop=True)


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """A share; blank (NaN) where there is nothing to divide."""
    return numerator.astype(float).div(denominator.where(denominator > 0))


def _meets(value: pd.Series, target: float) -> pd.Series:
    return value.ge(target - _TOLERANCE).fillna(False).astype(bool)


def _leads(programs: pd.DataFrame, staff: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """The lead's name (blank when not on the Staff tab) and status, one row per program."""
    last_day = pd.Timestamp(quarter.end)
    leads = programs[["program_id", "coaching_lead_id"]].merge(
        staff[["staff_id", "name", "email", "start_date", "end_date"]],
        left_on="coaching_lead_id",
        right_on="staff_id",
        how="left",
    )
    # A repeated staff_id is quarantined by validation, so the merge keeps one row per program.
    active = active_between(leads, last_day, last_day)
    status = np.select(
        [
            leads["coaching_lead_id"].isna(),
            leads["staff_id"].isna(),
            ~active.fillna(False).astype(bool),
            leads["email"].isna(),
        ],
        [LEAD_BLANK, LEAD_NOT_IN_STAFF, LEAD_INACTIVE, LEAD_NO_EMAIL],
        default=LEAD_OK,
    )
    return pd.DataFrame(
        {"coaching_lead_name": leads["name"].fillna("").to_numpy(), "lead_status": status}, index=programs.index
    )


def score_quarter(valid: Mapping[str, pd.DataFrame], quarter: Quarter, targets: Targets) -> QuarterScores:
    programs = valid["programs"][["program_id", "program_name", "coaching_lead_id"]].reset_index(drop=True)
    staff, log = valid["staff"], valid["coaching_log"]
    card = programs.copy()
    card.insert(0, "quarter", quarter.label)

    # 1. Someone is accountable.
    card[["coaching_lead_name", "lead_status"]] = _leads(programs, staff, quarter)
    card["bp1_accountability"] = np.select(
        [card["lead_status"].eq(LEAD_OK), card["lead_status"].eq(LEAD_BLANK)], [2, 0], default=1
    )

    # 2. Coaching at least monthly, from observation plus another source.
    sessions = log.loc[quarter.contains(log["session_date"])]
    staff_months = eligible_staff_months(staff, sessions, quarter)
    per_program = staff_months.groupby("program_id").agg(
        eligible_staff_months=("covered", "size"), covered_staff_months=("covered", "sum")
    )
    other_source = sessions[list(SOURCE_FLAGS[1:])].any(axis=1)
    multi = sessions["direct_observation"] & other_source
    session_counts = (
        pd.DataFrame({"program_id": sessions["program_id"], "multi": multi})
        .groupby("program_id")
        .agg(sessions=("multi", "size"), multi_source_sessions=("multi", "sum"))
    )
    card = card.merge(per_program, on="program_id", how="left").merge(session_counts, on="program_id", how="left")
    for column in ("eligible_staff_months", "covered_staff_months", "sessions", "multi_source_sessions"):
        card[column] = card[column].fillna(0).astype(int)
    card["monthly_coverage"] = _rate(card["covered_staff_months"], card["eligible_staff_months"])
    card["multi_source_rate"] = _rate(card["multi_source_sessions"], card["sessions"])
    met = _meets(card["monthly_coverage"], targets.monthly_coverage).astype(int) + _meets(
        card["multi_source_rate"], targets.multi_source_rate
    ).astype(int)
    card["bp2_coaching_delivery"] = met

    # 3. A written coaching service delivery plan.
    plan = valid["coaching_plan"]
    documented = plan.loc[plan["documented"], ["program_id", "component"]].drop_duplicates()
    components = documented.groupby("program_id")["component"].agg(set)
    have = card["program_id"].map(components).map(lambda s: s if isinstance(s, set) else set())
    card["plan_components"] = have.map(len).astype(int)
    card["missing_plan_components"] = have.map(lambda s: "; ".join(c for c in PLAN_COMPONENTS if c not in s))
    card["bp3_service_plan"] = np.select(
        [card["plan_components"].ge(targets.plan_components), card["plan_components"].ge(1)], [2, 1], default=0
    )

    # 4. Effectiveness reviewed quarterly with two or more sources, and used to improve.
    fidelity = valid["fidelity"]
    fidelity_in_quarter = fidelity.loc[quarter.contains(fidelity["assessment_date"])]
    survey = valid["satisfaction"]
    survey_in_quarter = survey.loc[quarter.contains(survey["timestamp"])]
    has_source = pd.DataFrame(
        {
            "practitioner_fidelity": card["program_id"].isin(
                fidelity_in_quarter.loc[fidelity_in_quarter["subject_type"].eq("practitioner"), "program_id"]
            ),
            "coach_fidelity": card["program_id"].isin(
                fidelity_in_quarter.loc[fidelity_in_quarter["subject_type"].eq("coach"), "program_id"]
            ),
            "satisfaction_survey": card["program_id"].isin(survey_in_quarter["program_id"]),
        }
    )
    card["effectiveness_sources"] = has_source.sum(axis=1).astype(int)
    card["missing_effectiveness_sources"] = (
        (~has_source).apply(lambda row: "; ".join(EFFECTIVENESS_SOURCES[k] for k, v in row.items() if v), axis=1)
        if len(card)
        else pd.Series(dtype=str)
    )
    actions = valid["improvement_actions"]
    decided = actions.loc[actions["quarter"].eq(quarter.previous.label) & actions["status"].isin(DECIDED_STATUSES)]
    card["improvement_actions"] = card["program_id"].map(decided.groupby("program_id").size()).fillna(0).astype(int)
    card["bp4_effectiveness_review"] = np.select(
        [
            card["effectiveness_sources"].ge(targets.effectiveness_sources) & card["improvement_actions"].ge(1),
            card["effectiveness_sources"].ge(1),
        ],
        [2, 1],
        default=0,
    )

    card["total_score"] = card[list(BP_COLUMNS.values())].sum(axis=1).astype(int)
    card["percent"] = (100 * card["total_score"] / 8).round(1)
    coverage = _monthly_coverage(staff_months, quarter)
    return QuarterScores(
        quarter=quarter,
        scorecard=card[SCORECARD_COLUMNS + EVIDENCE_COLUMNS].reset_index(drop=True),
        staff_months=staff_months,
        monthly_coverage=coverage,
    )


def _monthly_coverage(staff_months: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    counts = (
        staff_months.groupby(["program_id", "month"])
        .agg(eligible=("covered", "size"), covered=("covered", "sum"))
        .reset_index()
    )
    counts["coverage"] = _rate(counts["covered"], counts["eligible"])
    return counts
