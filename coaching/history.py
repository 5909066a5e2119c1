"""What was reported stays reported: trends from the record, and every change explained.

When a quarterly report is delivered, `quarter_record` keeps what it said (the scorecard with its
measures, the Coaching Plan rows) and enough of the records behind it to explain a later change in
words an office worker recognises: one fingerprint per Coaching Log row dated in the quarter, and a
digest per program of the other rows the scores read.

"As reported" is the latest delivered version of a quarter's report: the figures leadership was
last emailed. A forced re-send adds a version; no version ever changes.

`reconcile` then gives a run its history: earlier quarters that were reported show their reported
figures; quarters never reported are recomputed (and marked so). A reported quarter is recomputed
too, with the plan as it was when it was reported (the Coaching Plan tab has no history of its own),
and where that recomputation scores differently the report says so: a restatement.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from coaching.contract import DECIDED_STATUSES, PLAN_COMPONENTS, SOURCE_FLAGS
from coaching.quarters import Quarter
from coaching.scoring import BP_COLUMNS, EVIDENCE_COLUMNS, SCORECARD_COLUMNS, QuarterScores, Targets, score_quarter

PLAN_COLUMNS = ["program_id", "component", "documented", "document_url", "last_reviewed"]
LOG_KEY = ["session_id", "staff_id"]
# The Coaching Log columns a score reads: a change to notes or duration is not a correction of a score.
LOG_SCORED = ["session_date", "program_id", "coach_id", *SOURCE_FLAGS]
HISTORY_COLUMNS = [
    "quarter",
    "program_id",
    "total_score",
    "percent",
    "reported_total_score",
    "reported_percent",
    "reported_on",
]


@dataclass(frozen=True)
class QuarterRecord:
    """What a quarter's report said, and the fingerprints of the rows behind it."""

    quarter: str
    scorecard: pd.DataFrame  # SCORECARD_COLUMNS + EVIDENCE_COLUMNS, one row per program
    plan: pd.DataFrame  # PLAN_COLUMNS: the Coaching Plan rows of the programs, as they were
    log_rows: pd.DataFrame  # program_id, session_id, staff_id, fingerprint: Coaching Log rows dated in the quarter
    inputs: pd.DataFrame  # tab, program_id, rows, digest: the other rows the scores read, per program


@dataclass(frozen=True)
class ReportedVersion:
    """One delivered version of a quarter's report, as stored."""

    record: QuarterRecord
    version: int  # 1 for the first delivery, 2 for the first forced re-send …
    delivered_at: str  # ISO 8601, UTC
    content_hash: str  # the email's, as in the delivery ledger

    @property
    def delivered_on(self) -> str:
        return self.delivered_at[:10]


@dataclass(frozen=True)
class Restatement:
    """A program whose figures for a quarter differ from what a delivered report said."""

    quarter: str
    program_id: str
    program_name: str
    reported_total: int | None  # None: the program was not in that report
    reported_percent: float | None
    total: int
    percent: float
    reported_on: str  # YYYY-MM-DD
    reasons: tuple[str, ...]

    @property
    def score_changed(self) -> bool:
        return self.reported_total != self.total


@dataclass
class History:
    """A run's quarters: as reported where they were, recomputed where they never were."""

    recomputed: list[QuarterScores]  # today's figures; reported quarters scored with their reported plan
    shown: list[QuarterScores]  # what the trend and "change since" use
    as_reported: dict[str, ReportedVersion]  # latest delivered version, by quarter label, for the quarters shown
    restatements: list[Restatement] = field(default_factory=list)  # earlier quarters, scores changed
    since_last_sent: list[Restatement] | None = None  # the reported quarter sent before: what changed since

    @property
    def current(self) -> QuarterScores:
        return self.shown[-1]

    @property
    def last_sent(self) -> ReportedVersion | None:
        """The version of this quarter's report delivered before this run."""
        return self.as_reported.get(self.current.quarter.label)

    def delivered(self, version: ReportedVersion) -> History:
        """The history once this run's report is delivered: its quarter now reads as reported."""
        return dataclasses.replace(self, as_reported={**self.as_reported, version.record.quarter: version})


def _fingerprints(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    text = frame[list(columns)].astype(object).map(str).agg("\x1f".join, axis=1) if len(frame) else pd.Series(dtype=str)
    return text.map(lambda row: hashlib.sha256(row.encode("utf-8")).hexdigest()[:16])


def _digests(tab: str, frame: pd.DataFrame, columns: Sequence[str], programs: Iterable[str]) -> list[dict[str, object]]:
    """One digest per program of its rows (order-independent), zero rows included."""
    prints = pd.DataFrame(
        {"program_id": frame["program_id"].to_numpy(), "print": _fingerprints(frame, columns).to_numpy()}
    )
    grouped = {p: sorted(g["print"]) for p, g in prints.groupby("program_id")}
    return [
        {
            "tab": tab,
            "program_id": program,
            "rows": len(grouped.get(program, [])),
            "digest": hashlib.sha256("|".join(grouped.get(program, [])).encode()).hexdigest()[:16],
        }
        for program in programs
    ]


# Per tab: which rows of it a quarter's scores read, and which columns of them.
def _scored_inputs(valid: Mapping[str, pd.DataFrame], quarter: Quarter) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    fidelity, survey, actions = valid["fidelity"], valid["satisfaction"], valid["improvement_actions"]
    return {
        "Programs": (valid["programs"], ["program_id", "coaching_lead_id"]),
        "Staff": (valid["staff"], ["staff_id", "email", "program_id", "requires_coaching", "start_date", "end_date"]),
        "Fidelity": (
            fidelity.loc[quarter.contains(fidelity["assessment_date"])],
            ["assessment_date", "program_id", "subject_type", "subject_id"],
        ),
        "Satisfaction Survey": (
            survey.loc[quarter.contains(survey["timestamp"])],
            ["timestamp", "program_id", "coach_id", "satisfaction"],
        ),
        "Improvement Actions": (
            actions.loc[actions["quarter"].eq(quarter.previous.label) & actions["status"].isin(DECIDED_STATUSES)],
            ["program_id", "action", "status"],
        ),
    }


def _log_rows(log: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    rows = log.loc[quarter.contains(log["session_date"])]
    return pd.DataFrame(
        {
            "program_id": rows["program_id"].to_numpy(),
            "session_id": rows["session_id"].to_numpy(),
            "staff_id": rows["staff_id"].to_numpy(),
            "fingerprint": _fingerprints(rows, LOG_SCORED).to_numpy(),
        },
        columns=["program_id", "session_id", "staff_id", "fingerprint"],
    )


def _plan_rows(plan: pd.DataFrame, programs: Iterable[str]) -> pd.DataFrame:
    return plan.loc[plan["program_id"].isin(list(programs)), PLAN_COLUMNS].reset_index(drop=True)


def quarter_record(valid: Mapping[str, pd.DataFrame], scores: QuarterScores) -> QuarterRecord:
    """What to keep when the report of `scores` is delivered."""
    programs = scores.scorecard["program_id"].tolist()
    inputs = [
        row
        for tab, (frame, columns) in _scored_inputs(valid, scores.quarter).items()
        for row in _digests(tab, frame, columns, programs)
    ]
    return QuarterRecord(
        quarter=scores.quarter.label,
        scorecard=scores.scorecard[SCORECARD_COLUMNS + EVIDENCE_COLUMNS].reset_index(drop=True),
        plan=_plan_rows(valid["coaching_plan"], programs),
        log_rows=_log_rows(valid["coaching_log"], scores.quarter),
        inputs=pd.DataFrame(inputs, columns=["tab", "program_id", "rows", "digest"]),
    )


def _documented(plan: pd.DataFrame, program: str) -> set[str]:
    rows = plan.loc[plan["program_id"].eq(program) & plan["documented"].astype(bool)]
    return set(rows["component"])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _named(components: set[str]) -> str:
    return ", ".join(c.replace("_", " ") for c in PLAN_COMPONENTS if c in components)


def _reasons(then: QuarterRecord, now: QuarterRecord, program: str) -> tuple[str, ...]:
    """Why a program's figures moved, in counts of rows as ops staff keep them."""
    reasons = []
    before = then.log_rows.loc[then.log_rows["program_id"].eq(program)].set_index(LOG_KEY)["fingerprint"]
    after_all = now.log_rows.set_index(LOG_KEY)["fingerprint"]
    after = now.log_rows.loc[now.log_rows["program_id"].eq(program)].set_index(LOG_KEY)["fingerprint"]
    added = after.index.difference(before.index)
    gone = before.index.difference(after_all.index)
    common = before.index.intersection(after_all.index)
    corrected = int((before.loc[common] != after_all.loc[common]).sum())
    if len(added):
        reasons.append(
            f"{_plural(len(added), 'session')} dated in {then.quarter} added to the Coaching Log since the report"
        )
    if corrected:
        reasons.append(f"{_plural(corrected, 'Coaching Log row')} of {then.quarter} corrected")
    if len(gone):
        reasons.append(
            f"{_plural(len(gone), 'Coaching Log row')} of {then.quarter} removed, re-dated or now with an error"
        )
    documented_then, documented_now = _documented(then.plan, program), _documented(now.plan, program)
    if documented_then != documented_now:
        change = []
        if documented_now - documented_then:
            change.append(f"{_named(documented_now - documented_then)} now documented")
        if documented_then - documented_now:
            change.append(f"{_named(documented_then - documented_now)} no longer documented")
        reasons.append("Coaching Plan components changed: " + "; ".join(change))
    inputs_then = then.inputs.loc[then.inputs["program_id"].eq(program)].set_index("tab")
    inputs_now = now.inputs.loc[now.inputs["program_id"].eq(program)].set_index("tab")
    for tab in inputs_now.index.intersection(inputs_then.index):
        old, new = inputs_then.loc[tab], inputs_now.loc[tab]
        if old["digest"] != new["digest"]:
            reasons.append(f"{tab} rows of the program changed ({old['rows']} then, {new['rows']} now)")
    return tuple(reasons)


def compare(then: ReportedVersion, now: QuarterRecord, *, only_changed_scores: bool) -> list[Restatement]:
    """Per program of `now`: the reported and the new figures, with the reasons they differ.

    With `only_changed_scores`, only programs whose score changed (a restatement); else also those
    whose rows changed without moving a score (what a re-send tells about the version sent before).
    """
    reported = then.record.scorecard.set_index("program_id")
    found = []
    for card in now.scorecard.to_dict(orient="records"):
        was = reported.loc[card["program_id"]] if card["program_id"] in reported.index else None
        same_scores = was is not None and all(int(was[c]) == int(card[c]) for c in BP_COLUMNS.values())
        reasons = _reasons(then.record, now, card["program_id"])
        if same_scores and (only_changed_scores or not reasons):
            continue
        found.append(
            Restatement(
                now.quarter,
                card["program_id"],
                card["program_name"],
                None if was is None else int(was["total_score"]),
                None if was is None else float(was["percent"]),
                int(card["total_score"]),
                float(card["percent"]),
                then.delivered_on,
                reasons if was is not None else ("the program was not in the report, or was added since",),
            )
        )
    return found


def _plan_as_reported(version: ReportedVersion, plan_today: pd.DataFrame) -> pd.DataFrame:
    """The plan rows kept with the report; today's rows for a program that was not in it."""
    reported = set(version.record.scorecard["program_id"])
    others = plan_today.loc[~plan_today["program_id"].isin(reported), PLAN_COLUMNS]
    return pd.concat([version.record.plan, others], ignore_index=True)


def _as_reported(version: ReportedVersion, rescored: QuarterScores) -> QuarterScores:
    """The quarter as its report said, for the programs of this run."""
    card = version.record.scorecard
    card = card.loc[card["program_id"].isin(rescored.scorecard["program_id"])].reset_index(drop=True)
    return QuarterScores(rescored.quarter, card, rescored.staff_months, rescored.monthly_coverage)


def reconcile(
    valid: Mapping[str, pd.DataFrame],
    recomputed: Sequence[QuarterScores],
    as_reported: Mapping[str, ReportedVersion],
    targets: Targets,
) -> History:
    """The run's history from today's scores and the delivered versions (latest per quarter).

    `recomputed` is oldest first and ends with the quarter being reported, which always shows
    today's figures; when it was delivered before, `since_last_sent` says what changed.
    """
    shown, rescored_all, restatements = [], [], []
    for scores in recomputed[:-1]:
        version = as_reported.get(scores.quarter.label)
        if version is None:
            shown.append(scores)
            rescored_all.append(scores)
            continue
        as_then = {**valid, "coaching_plan": _plan_as_reported(version, valid["coaching_plan"])}
        rescored = score_quarter(as_then, scores.quarter, targets)
        rescored_all.append(rescored)
        shown.append(_as_reported(version, rescored))
        restatements += compare(version, quarter_record(as_then, rescored), only_changed_scores=True)
    current = recomputed[-1]
    last = as_reported.get(current.quarter.label)
    since = None if last is None else compare(last, quarter_record(valid, current), only_changed_scores=False)
    labels = {s.quarter.label for s in recomputed}
    return History(
        recomputed=[*rescored_all, current],
        shown=[*shown, current],
        as_reported={label: v for label, v in as_reported.items() if label in labels},
        restatements=restatements,
        since_last_sent=since,
    )


def history_frame(history: History) -> pd.DataFrame:
    """The rows of history.csv: today's figures beside the reported ones, blank where never reported."""
    figures = ["program_id", "total_score", "percent"]
    quarters = []
    for scores in history.recomputed:
        card = scores.scorecard[figures].assign(quarter=scores.quarter.label)
        version = history.as_reported.get(scores.quarter.label)
        if version is not None:
            reported = version.record.scorecard[figures].rename(
                columns={"total_score": "reported_total_score", "percent": "reported_percent"}
            )
            card = card.merge(reported.assign(reported_on=version.delivered_on), on="program_id", how="left")
        quarters.append(card)
    frame = pd.concat(quarters, ignore_index=True) if quarters else pd.DataFrame()
    frame = frame.reindex(columns=HISTORY_COLUMNS)
    frame["reported_total_score"] = frame["reported_total_score"].astype("Int64")
    frame["reported_percent"] = frame["reported_percent"].astype("float64")
    frame["reported_on"] = frame["reported_on"].fillna("")
    return frame
