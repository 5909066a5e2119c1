"""The network's roll-up: every agency's quarter, read together (pure functions, no I/O).

An agency counts in the roll-up's scores only when its report went out or would have (sent,
already sent, or a run with sending turned off): a report held back for its data errors, or a run
that failed, gives no figures the centre should act on, and is named among the agencies not
reported instead. The centre sees scores and counts, never a staff member's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import pandas as pd

from coaching.scoring import BP_COLUMNS, EVIDENCE_COLUMNS, SCORECARD_COLUMNS

# Columns of scorecard.csv that name a person: blank in the network's files.
NAME_COLUMNS = ("coaching_lead_name",)
NETWORK_SCORECARD_COLUMNS = ["agency_id", *SCORECARD_COLUMNS, *EVIDENCE_COLUMNS]
OUTCOME_COLUMNS = ["agency_id", "outcome", "detail"]
POINTS_PER_PROGRAM = 2 * len(BP_COLUMNS)


class AgencyOutcome(str, Enum):
    SENT = "sent"
    ALREADY_SENT = "already sent"
    NOT_SENT = "not sent"  # sending was turned off for the run
    HELD_BACK = "held back"  # too many data errors: the data stewards were told instead
    FAILED = "failed"  # the run stopped, or someone did not (or may not) get the report

    @property
    def reported(self) -> bool:
        """The agency's figures stand (its report went out, or would have)."""
        return self in (AgencyOutcome.SENT, AgencyOutcome.ALREADY_SENT, AgencyOutcome.NOT_SENT)

    @property
    def needs_a_person(self) -> bool:
        return self in (AgencyOutcome.HELD_BACK, AgencyOutcome.FAILED)


@dataclass(frozen=True)
class AgencyRun:
    """What one agency's quarterly run gave the network."""

    agency_id: str
    agency_name: str
    outcome: AgencyOutcome
    detail: str  # one or more sentences an admin can act on
    scorecard: pd.DataFrame | None = None  # scorecard.csv's rows, None when nothing was scored
    history: pd.DataFrame | None = None  # history.csv's rows


@dataclass(frozen=True)
class PracticeCounts:
    practice: int  # 1 … 4 (coaching.contract.BEST_PRACTICES)
    in_place: int
    partially: int
    not_in_place: int

    @property
    def programs(self) -> int:
        return self.in_place + self.partially + self.not_in_place


@dataclass(frozen=True)
class SupportLine:
    agency_id: str
    agency_name: str
    program_id: str
    program_name: str
    total_score: int
    not_in_place: tuple[int, ...]  # the practices (1 … 4) that are not in place
    partially: tuple[int, ...]


@dataclass(frozen=True)
class TrendPoint:
    quarter: str
    agencies: int
    programs: int
    percent: float  # points scored over points possible, as reported


@dataclass(frozen=True)
class RollUp:
    network: str
    quarter: str
    agencies: int  # in this run
    reported: list[AgencyRun]
    not_reported: list[AgencyRun]
    practices: list[PracticeCounts]
    support: list[SupportLine]
    trend: list[TrendPoint]

    @property
    def programs(self) -> int:
        return self.practices[0].programs if self.practices else 0

    @property
    def weakest(self) -> PracticeCounts | None:
        """The practice in place in the fewest programs (then the most often not in place)."""
        scored = [counts for counts in self.practices if counts.programs]
        return min(scored, key=lambda c: (c.in_place, -c.not_in_place, c.practice), default=None)

    @property
    def percent(self) -> float | None:
        return self.trend[-1].percent if self.trend and self.trend[-1].quarter == self.quarter else None


def network_scorecard(runs: Sequence[AgencyRun]) -> pd.DataFrame:
    """network_scorecard.csv: `agency_id`, then scorecard.csv's columns, for the reported agencies;
    names of people left blank."""
    frames = [
        run.scorecard.assign(agency_id=run.agency_id)
        for run in runs
        if run.outcome.reported and run.scorecard is not None
    ]
    card = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    card = card.reindex(columns=NETWORK_SCORECARD_COLUMNS)
    for column in NAME_COLUMNS:
        card[column] = ""
    return card


def outcomes_frame(runs: Sequence[AgencyRun]) -> pd.DataFrame:
    """agency_outcomes.csv: one row per agency of the run, in the registry's order."""
    rows = [{"agency_id": run.agency_id, "outcome": run.outcome.value, "detail": run.detail} for run in runs]
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)


def practice_counts(card: pd.DataFrame) -> list[PracticeCounts]:
    """Per best practice, how many programs have it in place, partially, not at all."""
    counts = []
    for practice, column in BP_COLUMNS.items():
        scores = card[column].astype(int).value_counts() if len(card) else pd.Series(dtype=int)
        counts.append(
            PracticeCounts(
                practice,
                int(scores.get(2, 0)),
                int(scores.get(1, 0)),
                int(scores.get(0, 0)),
            )
        )
    return counts


def _practices_at(row: pd.Series, score: int) -> tuple[int, ...]:
    return tuple(practice for practice, column in BP_COLUMNS.items() if int(row[column]) == score)


def needs_support(card: pd.DataFrame, names: dict[str, str]) -> list[SupportLine]:
    """The programs with a practice not in place, lowest total first (then the most practices not in
    place, then agency and program), each with the practices it lacks."""
    if card.empty:
        return []
    scores = card[list(BP_COLUMNS.values())].astype(int)
    lacking = card.assign(_missing=(scores == 0).sum(axis=1), _total=card["total_score"].astype(int))
    lacking = lacking[lacking["_missing"] > 0].sort_values(
        ["_total", "_missing", "agency_id", "program_id"], ascending=[True, False, True, True], kind="stable"
    )
    return [
        SupportLine(
            str(row["agency_id"]),
            names.get(str(row["agency_id"]), str(row["agency_id"])),
            str(row["program_id"]),
            str(row["program_name"]),
            int(row["_total"]),
            _practices_at(row, 0),
            _practices_at(row, 1),
        )
        for _, row in lacking.iterrows()
    ]


def trend(runs: Sequence[AgencyRun]) -> list[TrendPoint]:
    """The network's score per quarter from what each agency's reports said (history.csv's reported
    figures): quarters an agency never reported do not count for it."""
    frames = [
        run.history.assign(agency_id=run.agency_id) for run in runs if run.history is not None and not run.history.empty
    ]
    if not frames:
        return []
    history = pd.concat(frames, ignore_index=True)
    reported = history[history["reported_total_score"].notna() & (history["reported_total_score"].astype(str) != "")]
    points = []
    for quarter, rows in reported.groupby("quarter", sort=True):
        total = rows["reported_total_score"].astype(int).sum()
        points.append(
            TrendPoint(
                str(quarter),
                rows["agency_id"].nunique(),
                len(rows),
                round(100 * total / (POINTS_PER_PROGRAM * len(rows)), 1),
            )
        )
    return points


def roll_up(network: str, quarter: str, runs: Sequence[AgencyRun]) -> RollUp:
    """The network's quarter from its agencies' runs."""
    reported = [run for run in runs if run.outcome.reported]
    card = network_scorecard(runs)
    names = {run.agency_id: run.agency_name for run in runs}
    return RollUp(
        network=network,
        quarter=quarter,
        agencies=len(runs),
        reported=reported,
        not_reported=[run for run in runs if not run.outcome.reported],
        practices=practice_counts(card),
        support=needs_support(card, names),
        trend=trend(reported),
    )
