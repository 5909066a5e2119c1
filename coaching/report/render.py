"""ReportData → the leadership report: HTML for email and for a file, plain text, PNG charts, subject.

The templates only lay out what this module has already put into words, so a program director reads
"In place" and "68 %", never a column name or a fraction. Every value that comes from the sheet
reaches the HTML through Jinja2's autoescaping; nothing is marked safe.
"""

from __future__ import annotations

import base64
import datetime as dt
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from coaching.contract import BEST_PRACTICES, PLAN_COMPONENTS, SCORE_WORDS
from coaching.report.jinja import environment
from coaching.email import Attachment, OutgoingEmail
from coaching.history import Restatement
from coaching.records import DataIssue, Severity
from coaching.recommendations import lead_evidence
from coaching.report.charts import coverage_chart, scores_chart
from coaching.report.model import ReportData
from coaching.scoring import BP_COLUMNS, EFFECTIVENESS_SOURCES, QuarterScores

SHOWN_ISSUES = 15  # the rest are in data_quality.csv
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
    trend: str  # "▲ +12.5 points", "no change", "new this quarter"
    trend_short: str  # "▲ +12.5"
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
    png: bytes


@dataclass(frozen=True)
class RenderedReport:
    quarter: str  # "2026-Q3": the email's period
    subject: str
    headline: str  # one sentence, for the flow's artifacts and logs
    html_email: str  # charts referenced as cid:<content-id>
    html_file: str  # the same HTML with the charts embedded as data: URIs (opens self-contained)
    text: str  # the plain-text alternative
    images: tuple[Attachment, ...]  # the charts, each with its content_id


def _rate(value: float | None) -> str:
    """A share as a whole percent; a rate with nothing to divide reads "no data"."""
    return "no data" if value is None or pd.isna(value) else f"{100 * value:.0f} %"


def _number(value: float) -> str:
    """62.5 → "62.5", 50.0 → "50"."""
    return f"{value:.1f}".removesuffix(".0")


def _score_percent(value: float | None) -> str:
    return "no score" if value is None or pd.isna(value) else f"{_number(value)} %"


def _points(change: float) -> str:
    change = round(change, 1)
    if change == 0:
        return "no change"
    unit = "point" if abs(change) == 1 else "points"
    return f"{'+' if change > 0 else '-'}{_number(abs(change))} {unit}"


def _trend(change: float | None) -> tuple[str, str, str]:
    """(words, compact form for a table cell, colour); an arrow carries the direction besides colour."""
    if change is None:
        return "new this quarter", "new", "#444444"
    points = _points(change)
    if points == "no change":
        return points, "= 0", "#444444"
    arrow, colour = ("▲", "#0a4d1f") if change > 0 else ("▼", "#7a1409")
    return f"{arrow} {points}", f"{arrow} {points.split(' ')[0]}", colour


def _listed(joined: str) -> str:
    """"skill_sets; feedback" → "skill sets, feedback"."""
    return ", ".join(part.strip().replace("_", " ") for part in str(joined).split(";") if part.strip())


def _month_facts(coverage: pd.DataFrame, quarter: str) -> str:
    parts = [
        f"{row['month'].strftime('%B')} {row['covered']} of {row['eligible']} ({_rate(row['coverage'])})"
        for row in coverage.to_dict(orient="records")
    ]
    return "By month: " + "; ".join(parts) + "." if parts else f"Nobody who requires coaching was active in {quarter}."


def _practices(card: pd.Series, coverage: pd.DataFrame, data: ReportData) -> tuple[Practice, ...]:
    targets = data.targets
    quarter = data.current.quarter.label
    previous_label = data.current.quarter.previous.label
    lead = lead_evidence(card, data.name_staff)
    missing_plan = _listed(card["missing_plan_components"])
    missing_sources = _listed(card["missing_effectiveness_sources"])
    have_sources = ", ".join(label for label in EFFECTIVENESS_SOURCES.values() if label not in missing_sources.split(", "))
    facts = {
        1: (lead,),
        2: (
            f"Staff coached each month: {_rate(card['monthly_coverage'])} ({card['covered_staff_months']} of "
            f"{card['eligible_staff_months']} staff-months; target {_rate(targets.monthly_coverage)}).",
            _month_facts(coverage, quarter),
            f"Sessions with direct observation plus another source: {_rate(card['multi_source_rate'])} "
            f"({card['multi_source_sessions']} of {card['sessions']} sessions; target "
            f"{_rate(targets.multi_source_rate)}).",
        ),
        3: (
            f"{card['plan_components']} of {len(PLAN_COMPONENTS)} plan components documented "
            f"(target {targets.plan_components}).",
            f"Missing: {missing_plan}." if missing_plan else "Nothing missing.",
        ),
        4: (
            f"{card['effectiveness_sources']} of {len(EFFECTIVENESS_SOURCES)} effectiveness data sources in "
            f"{quarter} (target {targets.effectiveness_sources})"
            + (f": {have_sources}." if have_sources else "."),
            f"Missing: {missing_sources}." if missing_sources else "Nothing missing.",
            f"Improvement actions decided on {previous_label} data (planned, in progress or done): "
            f"{card['improvement_actions']}.",
        ),
    }
    return tuple(
        Practice(n, BEST_PRACTICES[n], STATUSES[int(card[column])], facts[n]) for n, column in BP_COLUMNS.items()
    )


def _programs(data: ReportData) -> list[ProgramView]:
    before = (
        data.previous.scorecard.set_index("program_id")["percent"] if data.previous is not None else pd.Series()
    )
    coverage_by_program = dict(tuple(data.current.monthly_coverage.groupby("program_id", sort=False)))
    empty = data.current.monthly_coverage.iloc[0:0]
    views = []
    for _, card in data.current.scorecard.iterrows():  # one row per program: a handful
        change = card["percent"] - before[card["program_id"]] if card["program_id"] in before.index else None
        trend, short, colour = _trend(change)
        views.append(
            ProgramView(
                card["program_id"], card["program_name"],
                _practices(card, coverage_by_program.get(card["program_id"], empty), data),
                int(card["total_score"]), _score_percent(card["percent"]), trend, short, colour,
            )
        )
    return views


def _change(data: ReportData) -> float | None:
    now = data.current.organisation_percent
    then = data.previous.organisation_percent if data.previous is not None else None
    return None if now is None or then is None else round(now - then, 1)


def _day(iso_date: str) -> str:
    """"2026-07-06" → "6 July 2026"."""
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
        reported = f" as reported on {_day(data.reported_on[before])}" if before in data.reported_on else ""
        comparison = (
            f"{_points(change).capitalize()} since {before} "
            f"({_score_percent(data.previous.organisation_percent)}{reported})."
        )
    headline = f"{data.organisation}, {quarter}: coaching best practices score {score}. {comparison}"
    return score, comparison, headline


def _subject(data: ReportData) -> str:
    change = _change(data)
    # Nothing here may depend on this quarter's own earlier deliveries: the subject is part of the email's identity,
    # and a re-run of unchanged figures must find the email already sent.
    suffix = "" if change is None else f" ({_points(change)})"
    return f"Coaching effectiveness {data.current.quarter.label}: {_score_percent(data.current.organisation_percent)}{suffix}"


def _recommendations(data: ReportData) -> list[RecommendationView]:
    return [
        RecommendationView(
            r.priority, r.urgency, URGENCY_STATUS.get(r.urgency, STATUSES[r.score]), r.program_name,
            BEST_PRACTICES[r.best_practice], r.action, r.evidence,
        )
        for r in data.recommendations
    ]


def _satisfaction(data: ReportData) -> list[SatisfactionView]:
    """By coach when staff may be named; otherwise by program, with how many coaches were rated."""
    if data.name_staff:
        frame = data.satisfaction
        names, coaches = frame["coach_name"], pd.Series(1, index=frame.index)
    else:
        frame = data.satisfaction_by_program
        if frame.empty:
            return []
        names, coaches = frame["program_name"], frame["coaches"]
    # Hidden here too, whatever the frame says: an average of one or two answers identifies people.
    hidden = frame["responses"].lt(data.min_responses_per_coach) | frame["mean_satisfaction"].isna()
    notice = f"fewer than {data.min_responses_per_coach} responses – not shown"
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
        issue.tab, "—" if issue.row is None else str(issue.row), issue.column or "—",
        _without_value(issue), "Error" if issue.severity is Severity.ERROR else "Warning", link,
    )


def _without_value(issue: DataIssue) -> str:
    """The problem in words, with the cell's value (a name, an email, a note) left to data_quality.csv."""
    value = str(issue.value)
    if not value.strip():
        return issue.problem
    # The checks quote the value ('31/31/2026'); only a problem that does not is searched for it standing
    # alone. Never inside a word or another value: "did you mean '00202'?" keeps its suggestion and a
    # cell holding "a" leaves "is not a date" whole.
    if f"'{value}'" in issue.problem:
        return issue.problem.replace(f"'{value}'", "“…”")
    return re.sub(rf"(?<![\w']){re.escape(value)}(?![\w'])", "…", issue.problem)


def _restatement(item: Restatement) -> RestatementView:
    was = "nothing" if item.reported_total is None else (
        f"{_score_percent(item.reported_percent)} ({item.reported_total} of 8)"
    )
    change = "" if item.reported_percent is None else _trend(item.percent - item.reported_percent)[0]
    return RestatementView(
        item.program_name, was, f"{_score_percent(item.percent)} ({item.total} of 8)", change,
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
            f"{row['program_name']}: the score fell {_points(-row['change']).removeprefix('+')} since "
            f"{data.previous.quarter.label}, to {_score_percent(row['percent'])}."
            for row in card[card["change"] < 0].to_dict(orient="records")
        ]
    return falls + [item.sentence for item in data.declines]


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
    which = "per program" if programs is None else (
        f"for the {len(programs)} programs with the lowest scores (every program is in the scorecard above)"
    )
    recomputed = _recomputed(data)
    return (
        Chart(
            f"coverage-{quarter}@coaching-report", f"monthly-coverage-{quarter}.png",
            f"Bar chart: share of staff who require coaching and were coached, {which}, by month of "
            f"{quarter}, against the target of {_rate(data.targets.monthly_coverage)}.",
            coverage_chart(data.current, data.targets.monthly_coverage, programs),
        ),
        Chart(
            f"scores-{quarter}@coaching-report", f"scores-by-quarter-{quarter}.png",
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
        "change_text": "—" if change is None else _points(change),
        "change_short": "—" if change is None else _trend(change)[1],
        "change_colour": "#333333" if change is None else _trend(change)[2],
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
        "name_staff": data.name_staff,
        # One wording for an empty "What improved" / "What got worse", the same in the HTML and the text.
        "no_improvement": _nothing_changed(data, "higher"),
        "no_decline": _nothing_changed(data, "lower", "No program and no best practice"),
        "satisfaction": _satisfaction(data),
        "min_responses": data.min_responses_per_coach,
        "tabs": [TabCount(tab, n, data.rows_quarantined.get(tab, 0)) for tab, n in data.rows_read.items()],
        "errors": errors,
        "warnings": len(data.issues) - errors,
        "issues": [_issue(i) for i in issues[:SHOWN_ISSUES]],
        "more_issues": max(len(issues) - SHOWN_ISSUES, 0),
        "blocking": data.blocking,
        "targets": {
            "monthly_coverage": _rate(data.targets.monthly_coverage),
            "multi_source_rate": _rate(data.targets.multi_source_rate),
            "plan_components": data.targets.plan_components,
            "effectiveness_sources": data.targets.effectiveness_sources,
        },
        "plan_component_names": _listed("; ".join(PLAN_COMPONENTS)),
        "source_names": ", ".join(EFFECTIVENESS_SOURCES.values()),
    }


def render_report(data: ReportData) -> RenderedReport:
    """The report in every form it is delivered in; the same data gives byte-identical output."""
    charts = _charts(data)
    charted = charted_programs(data.current.scorecard)
    context = _context(data) | {
        "charts_note": "" if charted is None else (
            f"With {len(data.current.scorecard)} programs, the charts show the {len(charted)} with the "
            "lowest scores; every program is in the scorecard above and in scorecard.csv."
        )
    }
    html = environment().get_template("report.html.j2")
    by_cid = [{"src": f"cid:{c.content_id}", "alt": c.alt} for c in charts]
    embedded = [{"src": "data:image/png;base64," + base64.b64encode(c.png).decode("ascii"), "alt": c.alt} for c in charts]
    return RenderedReport(
        quarter=data.current.quarter.label,
        subject=_subject(data),
        headline=str(context["headline"]),
        html_email=html.render(context, charts=by_cid),
        html_file=html.render(context, charts=embedded),
        text=environment().get_template("report.txt.j2").render(context),
        images=tuple(Attachment(c.filename, c.png, "image/png", content_id=c.content_id) for c in charts),
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
    attachments = rendered.images + tuple(
        Attachment(name, content, mimetypes.guess_type(name)[0] or "application/octet-stream")
        for name, content in files.items()
    )
    return OutgoingEmail(
        kind="quarterly_report",
        period=rendered.quarter,
        sender=sender,
        recipients=tuple(recipients),
        subject=rendered.subject,
        html=rendered.html_email,
        text=rendered.text,
        attachments=attachments,
        tags=dict(tags),
        # The figures decide whether this is a new report, not the day it was rendered on.
        identity=b"".join(
            name.encode("utf-8") + b"\0" + content + b"\0"
            for name, content in sorted(files.items())
            if name.endswith(".csv")
        ),
    )
