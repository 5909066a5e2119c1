"""ReportData → the leadership report: HTML for email and for a file, plain text, PNG charts, subject.

The templates only lay out what this module has already put into words, so a program director reads
"In place" and "68 %", never a column name or a fraction. Every value that comes from the sheet
reaches the HTML through Jinja2's autoescaping; nothing is marked safe.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from coaching.contract import BEST_PRACTICES, PLAN_COMPONENTS, SCORE_WORDS
from coaching.report.jinja import environment
from coaching.email import Attachment, EmailKind, OutgoingEmail, file_attachments
from coaching.history import Restatement
from coaching.outputs import problem_without_values
from coaching.records import DataIssue, Severity
from coaching.recommendations import (
    actions_fact,
    coverage_fact,
    lead_evidence,
    listed,
    multi_source_fact,
    percent,
    plan_fact,
    share,
    sources_fact,
)
from coaching.report.charts import ChartImage, coverage_chart, scores_chart
from coaching.report.model import ReportData
from coaching.scoring import BP_COLUMNS, EFFECTIVENESS_SOURCES, QuarterScores

SHOWN_ISSUES = 15  # the rest are in data_quality.csv
# With staff not named, a satisfaction average is shown only when it cannot be one person's ratings:
# at least this many coaches rated (and at least min_responses_per_coach responses).
MIN_COACHES = 2
SHORT_NAMES = {1: "Accountable lead", 2: "Monthly coaching", 3: "Written plan", 4: "Effectiveness review"}


@dataclass(frozen=True)
class Status:
    """How a score 2/1/0 looks: words first, colour second, a Harvey ball for grayscale prints."""

    word: str  # short, for table cells
    long_word: str
    symbol: str
    background: str
    colour: str  # text colour: contrast ≥ 7:1 on its background


STATUSES = {
    2: Status("In place", SCORE_WORDS[2], "●", "#d4efdc", "#0a4d1f"),
    1: Status("Partially", SCORE_WORDS[1], "◐", "#fde8b0", "#5c3a00"),
    0: Status("Not in place", SCORE_WORDS[0], "○", "#f9d3ce", "#7a1409"),
}
URGENCY_STATUS = {"High": STATUSES[0], "Medium": STATUSES[1]}


@dataclass(frozen=True)
class Practice:
    number: int
    name: str
    status: Status
    facts: tuple[str, ...]


@dataclass(frozen=True)
class ProgramView:
    program_id: str
    name: str
    practices: tuple[Practice, ...]
    total: int
    percent: str
    trend: str  # "▲ 12.5 points", "no change", "new this quarter"
    trend_colour: str


@dataclass(frozen=True)
class RecommendationView:
    priority: int
    urgency: str
    status: Status
    program: str
    practice: str
    action: str
    evidence: str


@dataclass(frozen=True)
class SatisfactionView:
    name: str  # the coach's name, or the program's when staff are not named
    coaches: int  # 1 for a coach's row
    responses: int
    average: str  # "4.3 of 5" or the suppression notice


@dataclass(frozen=True)
class RestatementView:
    program: str
    was: str  # "75 % (6 of 8)", or "nothing" for a program that was not in the report
    now: str
    change: str  # "▼ -25 points"
    reasons: str  # "3 sessions dated in 2026-Q2 added to the Coaching Log since the report; …"

    @property
    def reasons_sentence(self) -> str:
        """The reasons as a sentence of their own: "3 sessions dated …" → "3 sessions dated ….", "no row…" → "No row…."."""
        return self.reasons[:1].upper() + self.reasons[1:] + "."


@dataclass(frozen=True)
class RestatedQuarter:
    quarter: str
    reported_on: str  # "6 July 2026"
    programs: tuple[RestatementView, ...]


@dataclass(frozen=True)
class IssueView:
    """A data-quality problem as the leadership email shows it: where, and what is wrong, but not
    the cell's value (which may be personal data): that stays in data_quality.csv."""

    tab: str
    row: str
    column: str
    problem: str
    severity: str
    link: str  # an https link to the cell, or ""


@dataclass(frozen=True)
class TabCount:
    tab: str
    read: int
    quarantined: int


# More programs than this make charts nobody can read in an email: the charts then show the programs
# that need attention most, and the scorecard (and scorecard.csv) every program.
MAX_CHARTED_PROGRAMS = 20


@dataclass(frozen=True)
class Chart:
    content_id: str
    filename: str
    alt: str
    image: ChartImage


@dataclass(frozen=True)
class RenderedReport:
    quarter: str  # "2026-Q3": the email's period
    subject: str
    headline: str  # one sentence, for the flow's artifacts and logs
    html_email: str  # charts referenced as cid:<content-id>
    html_file: str  # the same HTML with the charts embedded as data: URIs (opens self-contained)
    text: str  # the plain-text alternative
    images: tuple[Attachment, ...]  # the charts, each with its content_id


def _number(value: float) -> str:
    """62.5 → "62.5", 50.0 → "50"."""
    return f"{value:.1f}".removesuffix(".0")


def _score_percent(value: float | None) -> str:
    return "no score" if value is None or pd.isna(value) else f"{_number(value)} %"


def change_words(change: float | None) -> str:
    """A change of score in one way everywhere: "▲ 12.5 points", "▼ 1 point", "no change"; "new this
    quarter" without an earlier score. The arrow carries the direction besides the colour."""
    if change is None:
        return "new this quarter"
    change = round(change, 1)
    if change == 0:
        return "no change"
    return f"{'▲' if change > 0 else '▼'} {_number(abs(change))} point{'' if abs(change) == 1 else 's'}"


def _change_colour(change: float | None) -> str:
    if change is None or round(change, 1) == 0:
        return "#444444"
    return "#0a4d1f" if change > 0 else "#7a1409"


def _month_facts(coverage: pd.DataFrame) -> tuple[str, ...]:
    parts = [
        f"{row['month'].strftime('%B')} {share(row['covered'], row['eligible'])}"
        for row in coverage.to_dict(orient="records")
    ]
    return ("By month: " + "; ".join(parts) + ".",) if parts else ()


def _practices(card: pd.Series, coverage: pd.DataFrame, data: ReportData) -> tuple[Practice, ...]:
    targets = data.targets
    facts = {
        1: (lead_evidence(card, data.name_staff),),
        2: (coverage_fact(card, targets), *_month_facts(coverage), multi_source_fact(card, targets)),
        3: (plan_fact(card, targets),),
        4: (
            sources_fact(card, targets, data.current.quarter.label),
            actions_fact(card, data.current.quarter.previous.label),
        ),
    }
    return tuple(
        Practice(n, BEST_PRACTICES[n], STATUSES[int(card[column])], facts[n] + data.score_notes.get(n, ()))
        for n, column in BP_COLUMNS.items()
    )


def _programs(data: ReportData) -> list[ProgramView]:
    before = data.previous.scorecard.set_index("program_id")["percent"] if data.previous is not None else pd.Series()
    coverage_by_program = dict(tuple(data.current.monthly_coverage.groupby("program_id", sort=False)))
    empty = data.current.monthly_coverage.iloc[0:0]
    views = []
    for _, card in data.current.scorecard.iterrows():  # one row per program: a handful
        change = card["percent"] - before[card["program_id"]] if card["program_id"] in before.index else None
        views.append(
            ProgramView(
                card["program_id"],
                card["program_name"],
                _practices(card, coverage_by_program.get(card["program_id"], empty), data),
                int(card["total_score"]),
                _score_percent(card["percent"]),
                change_words(change),
                _change_colour(change),
            )
        )
    return views


def _change(data: ReportData) -> float | None:
    now = data.current.organisation_percent
    then = data.previous.organisation_percent if data.previous is not None else None
    return None if now is None or then is None else round(now - then, 1)


def _day(iso_date: str) -> str:
    """ "2026-07-06" → "6 July 2026"."""
    day = dt.date.fromisoformat(iso_date[:10])
    return f"{day.day} {day:%B %Y}"


def _headline(data: ReportData) -> tuple[str, str, str]:
    """(score, comparison, one-sentence headline)."""
    quarter = data.current.quarter.label
    score = _score_percent(data.current.organisation_percent)
    change = _change(data)
    if change is None or data.previous is None:
        comparison = "No earlier quarter to compare with."
    else:
        before = data.previous.quarter.label
        then = _score_percent(data.previous.organisation_percent)
        how = (
            f"{then} as reported on {_day(data.reported_on[before])}"
            if before in data.reported_on
            else f"{then}, recomputed from today’s records: never reported"
        )
        words = change_words(change)
        comparison = f"{words[:1].upper()}{words[1:]} since {before} ({how})."
    headline = f"{data.organisation}, {quarter}: coaching best practices score {score}. {comparison}"
    return score, comparison, headline


def report_subject(data: ReportData) -> str:
    change = _change(data)
    # Nothing here may depend on this quarter's own earlier deliveries: the subject is part of the email's identity,
    # and a re-run of unchanged figures must find the email already sent.
    suffix = "" if change is None else f" ({change_words(change)})"
    return f"Coaching effectiveness {data.current.quarter.label}: {_score_percent(data.current.organisation_percent)}{suffix}"


def _recommendations(data: ReportData) -> list[RecommendationView]:
    return [
        RecommendationView(
            r.priority,
            r.urgency,
            URGENCY_STATUS.get(r.urgency, STATUSES[r.score]),
            r.program_name,
            BEST_PRACTICES[r.best_practice],
            r.action,
            r.evidence,
        )
        for r in data.recommendations
    ]


def _satisfaction(data: ReportData) -> list[SatisfactionView]:
    """By coach when staff may be named; otherwise by program (small programs merged), with how many
    coaches were rated, an average shown only where it cannot be one person's ratings."""
    least = data.min_responses_per_coach
    if data.name_staff:
        frame = data.satisfaction
        names, coaches = frame["coach_name"], pd.Series(1, index=frame.index)
        notice = f"not shown: fewer than {least} responses"
        hidden = frame["responses"].lt(least)
    else:
        frame = data.satisfaction_by_program
        if frame.empty:
            return []
        names, coaches = frame["program_name"], frame["coaches"]
        notice = f"not shown: fewer than {MIN_COACHES} coaches or {least} responses"
        hidden = frame["responses"].lt(least) | coaches.lt(MIN_COACHES)
    # Hidden here too, whatever the frame says: an average of one or two answers identifies people.
    hidden = hidden | frame["mean_satisfaction"].isna()
    return [
        SatisfactionView(str(name), int(count), int(responses), notice if hide else f"{mean:.1f} of 5")
        for name, count, responses, mean, hide in zip(
            names, coaches, frame["responses"], frame["mean_satisfaction"], hidden
        )
    ]


def _issue(issue: DataIssue) -> IssueView:
    # Only an https link is made clickable: a link is never allowed to run script (javascript:).
    link = issue.link if issue.link.startswith("https://") else ""
    return IssueView(
        issue.tab,
        "—" if issue.row is None else str(issue.row),
        issue.column or "—",
        problem_without_values(issue),
        "Error" if issue.severity is Severity.ERROR else "Warning",
        link,
    )


def _restatement(item: Restatement) -> RestatementView:
    was = (
        "nothing"
        if item.reported_total is None
        else (f"{_score_percent(item.reported_percent)} ({item.reported_total} of 8)")
    )
    change = "" if item.reported_percent is None else change_words(item.percent - item.reported_percent)
    return RestatementView(
        item.program_name,
        was,
        f"{_score_percent(item.percent)} ({item.total} of 8)",
        change,
        "; ".join(item.reasons) or "no row behind the figures changed",
    )


def _restated(data: ReportData) -> list[RestatedQuarter]:
    """Earlier quarters whose recomputation differs from what was reported, oldest first."""
    by_quarter: dict[str, list[Restatement]] = {}
    for item in data.restatements:
        by_quarter.setdefault(item.quarter, []).append(item)
    return [
        RestatedQuarter(quarter, _day(items[0].reported_on), tuple(_restatement(i) for i in items))
        for quarter, items in sorted(by_quarter.items())
    ]


def _worse(data: ReportData) -> list[str]:
    """Programs whose score fell, then each best practice that dropped."""
    falls = []
    if data.previous is not None:
        before = data.previous.scorecard[["program_id", "percent"]]
        card = data.current.scorecard.merge(before, on="program_id", suffixes=("", "_before"), sort=False)
        card["change"] = (card["percent"] - card["percent_before"]).round(1)
        falls = [
            f"{row['program_name']}: the score fell {change_words(-row['change']).removeprefix('▲ ')} since "
            f"{data.previous.quarter.label}, to {_score_percent(row['percent'])}."
            for row in card[card["change"] < 0].to_dict(orient="records")
        ]
    return falls + [item.sentence for item in data.declines]


def _update_note(data: ReportData) -> str:
    """What the "Updated version" box says after the day the last version was sent."""
    if data.since_last_sent:
        return "What changed since then:"
    if data.resent_on_request:
        return "It is sent again on request: no program’s scores, and no row behind them, changed since then."
    return (
        "No program’s scores, and no row behind them, changed since then; "
        "details in scorecard.csv or recommendations.csv did."
    )


def _nothing_changed(data: ReportData, direction: str, what: str = "No best practice") -> str:
    if data.previous is None:
        return "There is no earlier quarter in the records to compare with."
    return f"{what} scored {direction} than in {data.previous.quarter.label}."


def _quarter_span(scores: QuarterScores) -> str:
    start, end = scores.quarter.start, scores.quarter.end
    first = f"{start:%B}" if start.year == end.year else f"{start:%B %Y}"
    return f"{first}–{end:%B %Y}"


def charted_programs(card: pd.DataFrame, limit: int = MAX_CHARTED_PROGRAMS) -> list[str] | None:
    """Every program when they fit in a readable chart (None); else the `limit` programs that need
    attention most: the lowest scores, then the lowest monthly coverage."""
    if len(card) <= limit:
        return None
    ranked = card.sort_values(["total_score", "monthly_coverage"], na_position="first", kind="stable")
    return ranked["program_id"].head(limit).tolist()


def _recomputed(data: ReportData) -> list[str]:
    """The earlier quarters of the trend that were never reported: recomputed from today's records."""
    return [s.quarter.label for s in data.history[:-1] if s.quarter.label not in data.reported_on]


def _charts(data: ReportData) -> tuple[Chart, ...]:
    quarter = data.current.quarter.label
    programs = charted_programs(data.current.scorecard)
    which = (
        "per program"
        if programs is None
        else (f"for the {len(programs)} programs with the lowest scores (every program is in the scorecard above)")
    )
    recomputed = _recomputed(data)
    return (
        Chart(
            f"coverage-{quarter}@coaching-report",
            f"monthly-coverage-{quarter}.png",
            f"Bar chart: share of staff who require coaching and were coached, {which}, by month of "
            f"{quarter}, against the target of {percent(data.targets.monthly_coverage)}.",
            coverage_chart(data.current, data.targets.monthly_coverage, programs),
        ),
        Chart(
            f"scores-{quarter}@coaching-report",
            f"scores-by-quarter-{quarter}.png",
            f"Line chart: best-practice score in percent {which}, and the whole organisation's, "
            "for the last quarters"
            + (f" ({', '.join(recomputed)} recomputed from today's records: never reported)." if recomputed else "."),
            scores_chart(data.history, programs, recomputed),
        ),
    )


def _context(data: ReportData) -> dict[str, object]:
    card = data.current.scorecard
    scores = card[list(BP_COLUMNS.values())].to_numpy().ravel()
    score, comparison, headline = _headline(data)
    change = _change(data)
    issues = sorted(data.issues, key=lambda i: i.severity is not Severity.ERROR)  # errors first, else as found
    errors = sum(i.severity is Severity.ERROR for i in data.issues)
    return {
        "organisation": data.organisation,
        "quarter": data.current.quarter.label,
        "quarter_span": _quarter_span(data.current),
        "previous_quarter": data.current.quarter.previous.label,
        "source": data.source_label,
        "generated_on": f"{data.generated_on.day} {data.generated_on:%B %Y}",
        "score": score,
        "comparison": comparison,
        "change_text": "—" if change is None else change_words(change),
        "change_colour": _change_colour(change),
        "headline": headline,
        "counts": [(STATUSES[s], int((scores == s).sum())) for s in (2, 1, 0)],
        "ratings": len(scores),
        "program_count": len(card),
        "points": int(card["total_score"].sum()),
        "points_possible": 8 * len(card),
        "programs": _programs(data),
        "short_names": SHORT_NAMES,
        "best_practices": BEST_PRACTICES,
        "recommendations": _recommendations(data),
        "improvements": [item.sentence for item in data.improvements],
        "worse": _worse(data),
        "restated": _restated(data),
        "recomputed": _recomputed(data),
        "as_reported": [label for label in (s.quarter.label for s in data.history[:-1]) if label in data.reported_on],
        "last_sent_on": _day(data.reported_on[data.current.quarter.label]) if data.since_last_sent is not None else "",
        "since_last_sent": None if data.since_last_sent is None else [_restatement(i) for i in data.since_last_sent],
        "update_note": _update_note(data),
        "name_staff": data.name_staff,
        # One wording for an empty "What improved" / "What got worse", the same in the HTML and the text.
        "no_improvement": _nothing_changed(data, "higher"),
        "no_decline": _nothing_changed(data, "lower", "No program and no best practice"),
        "satisfaction": _satisfaction(data),
        "min_responses": data.min_responses_per_coach,
        "min_coaches": MIN_COACHES,
        "tabs": [TabCount(tab, n, data.rows_quarantined.get(tab, 0)) for tab, n in data.rows_read.items()],
        "errors": errors,
        "warnings": len(data.issues) - errors,
        "issues": [_issue(i) for i in issues[:SHOWN_ISSUES]],
        "more_issues": max(len(issues) - SHOWN_ISSUES, 0),
        "blocking": data.blocking,
        "targets": {
            "monthly_coverage": percent(data.targets.monthly_coverage),
            "multi_source_rate": percent(data.targets.multi_source_rate),
            "plan_components": data.targets.plan_components,
            "effectiveness_sources": data.targets.effectiveness_sources,
        },
        "plan_component_names": listed("; ".join(PLAN_COMPONENTS)),
        "source_names": ", ".join(EFFECTIVENESS_SOURCES.values()),
    }


def render_report(data: ReportData) -> RenderedReport:
    """The report in every form it is delivered in; the same data gives byte-identical output."""
    charts = _charts(data)
    charted = charted_programs(data.current.scorecard)
    context = _context(data) | {
        "charts_note": ""
        if charted is None
        else (
            f"With {len(data.current.scorecard)} programs, the charts show the {len(charted)} with the "
            "lowest scores; every program is in the scorecard above and in scorecard.csv."
        )
    }
    html = environment().get_template("report.html.j2")
    by_cid = [{"src": f"cid:{c.content_id}", "alt": c.alt, "width": c.image.width} for c in charts]
    embedded = [
        {
            "src": "data:image/png;base64," + base64.b64encode(c.image.png).decode("ascii"),
            "alt": c.alt,
            "width": c.image.width,
        }
        for c in charts
    ]
    return RenderedReport(
        quarter=data.current.quarter.label,
        subject=report_subject(data),
        headline=str(context["headline"]),
        html_email=html.render(context, charts=by_cid),
        html_file=html.render(context, charts=embedded),
        text=environment().get_template("report.txt.j2").render(context),
        images=tuple(Attachment(c.filename, c.image.png, "image/png", content_id=c.content_id) for c in charts),
    )


def build_report_email(
    rendered: RenderedReport,
    *,
    sender: str,
    recipients: Sequence[str],
    files: Mapping[str, bytes],
    tags: Mapping[str, str],
) -> OutgoingEmail:
    """The quarterly email: HTML with its inline charts, the text alternative, and the files
    (the CSVs; report.html too, for mail clients that clip long messages)."""
    attachments = rendered.images + file_attachments(files)
    return OutgoingEmail(
        kind=EmailKind.QUARTERLY_REPORT,
        period=rendered.quarter,
        sender=sender,
        recipients=tuple(recipients),
        subject=rendered.subject,
        html=rendered.html_email,
        text=rendered.text,
        attachments=attachments,
        tags=dict(tags),
        identity=_identity(files),
    )


def _identity(files: Mapping[str, bytes]) -> bytes:
    """The figures decide whether this is a new report, not the day it was rendered on."""
    return b"".join(
        name.encode("utf-8") + b"\0" + content + b"\0"
        for name, content in sorted(files.items())
        if name.endswith(".csv")
    )


def report_content_hash(subject: str, files: Mapping[str, bytes]) -> str:
    """The content hash of the quarterly email with this subject and these attachments, whoever it
    goes to: what the delivery ledger and the record of reported quarters know a version by."""
    email = OutgoingEmail(EmailKind.QUARTERLY_REPORT, "", "", (), subject, "", "", identity=_identity(files))
    return email.content_hash
