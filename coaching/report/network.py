"""The network's roll-up as an email for the centre (HTML and plain text), and its page.

Built from coaching.network.RollUp: counts and scores per agency and program, never a staff
member's name. Every value reaches the HTML through autoescaping (agency and program names come
from the registry and the sheets). Nothing here depends on the day of the run, and the email's
identity is its figures and which agencies were not reported, so that a re-run finds it already
sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coaching.contract import BEST_PRACTICES, SCORE_WORDS
from coaching.email import EmailKind, OutgoingEmail, file_attachments
from coaching.network import RollUp, SupportLine
from coaching.report.jinja import environment
from coaching.report.render import SHORT_NAMES

SHOWN_SUPPORT = 25  # the rest is in network_scorecard.csv


@dataclass(frozen=True)
class PracticeRow:
    number: int
    short: str
    long: str
    in_place: int
    partially: int
    not_in_place: int


@dataclass(frozen=True)
class SupportRow:
    agency: str
    program: str
    score: str  # "2 of 8"
    why: str


@dataclass(frozen=True)
class RenderedRollUp:
    subject: str
    html: str
    text: str


def _why(line: SupportLine) -> str:
    parts = [
        f"{SCORE_WORDS[score]}: {', '.join(SHORT_NAMES[p] for p in practices)}."
        for score, practices in ((0, line.not_in_place), (1, line.partially))
        if practices
    ]
    return " ".join(parts)


def _context(roll: RollUp) -> dict[str, object]:
    weakest = roll.weakest
    return {
        "network": roll.network,
        "quarter": roll.quarter,
        "agencies": roll.agencies,
        "reported": len(roll.reported),
        "programs": roll.programs,
        "percent": roll.percent,
        "weakest": (
            f"{SHORT_NAMES[weakest.practice]}: in place in {weakest.in_place} of {weakest.programs} programs, "
            f"not in place in {weakest.not_in_place}."
            if weakest
            else ""
        ),
        "practices": [
            PracticeRow(
                c.practice, SHORT_NAMES[c.practice], BEST_PRACTICES[c.practice], c.in_place, c.partially, c.not_in_place
            )
            for c in roll.practices
        ],
        "support": [
            SupportRow(
                f"{line.agency_name} ({line.agency_id})",
                f"{line.program_name} ({line.program_id})",
                f"{line.total_score} of 8",
                _why(line),
            )
            for line in roll.support[:SHOWN_SUPPORT]
        ],
        "more_support": max(len(roll.support) - SHOWN_SUPPORT, 0),
        "trend": roll.trend,
        "not_reported": [
            (f"{run.agency_name} ({run.agency_id})", run.outcome.value, run.detail) for run in roll.not_reported
        ],
    }


def render_roll_up(roll: RollUp) -> RenderedRollUp:
    context = _context(roll)
    templates = environment()
    subject = " ".join(f"{roll.network}: coaching across {roll.agencies} agencies, {roll.quarter}".split())
    return RenderedRollUp(
        subject,
        templates.get_template("network.html.j2").render(context),
        templates.get_template("network.txt.j2").render(context),
    )


def network_report_email(
    rendered: RenderedRollUp,
    roll: RollUp,
    *,
    sender: str,
    recipients: Sequence[str],
    files: Mapping[str, bytes],
    tags: Mapping[str, str],
) -> OutgoingEmail:
    """The roll-up for the centre, with the network's CSVs attached."""
    not_reported = "\n".join(f"{run.agency_id}\t{run.outcome.value}" for run in roll.not_reported)
    return OutgoingEmail(
        kind=EmailKind.NETWORK_REPORT,
        period=roll.quarter,
        sender=sender,
        recipients=tuple(recipients),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        attachments=file_attachments(files),
        tags={**tags, "quarter": roll.quarter},
        # The figures and who was not reported: an agency that is "already sent" on a re-run is no news.
        identity=files.get("network_scorecard.csv", b"") + b"\0" + not_reported.encode("utf-8"),
    )
