"""The run's summary in Markdown, for the Prefect UI (artifacts) and the logs."""

from __future__ import annotations

import re

from coaching.contract import BEST_PRACTICES, SCORE_WORDS
from coaching.recommendations import Recommendation
from coaching.report.render import change_words
from coaching.scoring import QuarterScores

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def escape_markdown(text: object) -> str:
    """Text from the sheets is shown literally: no links, no HTML, no formatting."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def summary_markdown(
    current: QuarterScores,
    previous: QuarterScores | None,
    recommendations: list[Recommendation],
    blocking: list[str],
    outcome: str,
    report_folder: str = "",
) -> str:
    """Why a report was held back (first), the headline, where the report and the email went, and
    the recommendations: what an admin reads of a run in the Prefect UI."""
    score = current.organisation_percent
    lines = [f"# Coaching effectiveness {current.quarter.label}", ""]
    if blocking:  # why the report was held back comes first, before any figure
        lines += ["## Report held back", ""] + [f"- {escape_markdown(reason)}" for reason in blocking] + [""]
    headline = f"**Organisation score: {score:.1f} %**" if score is not None else "**No programs scored**"
    if previous is not None and previous.organisation_percent is not None and score is not None:
        headline += f" ({change_words(score - previous.organisation_percent)} since {previous.quarter.label})"
    lines += [headline, ""]
    if report_folder:
        lines += [f"Report: {escape_markdown(report_folder)} (report.html and the CSV files)", ""]
    lines += [f"Delivery: {escape_markdown(outcome)}", ""]
    lines += ["## Recommendations", ""]
    if not recommendations:
        lines.append("Every best practice is in place in every program.")
    for item in recommendations:
        lines.append(
            f"{item.priority}. **{item.urgency}** · {escape_markdown(item.program_name)} · "
            f"{BEST_PRACTICES[item.best_practice]} ({SCORE_WORDS[item.score].lower()}): "
            f"{escape_markdown(item.action)}  \n   Evidence: {escape_markdown(item.evidence)}"
        )
    return "\n".join(lines) + "\n"
