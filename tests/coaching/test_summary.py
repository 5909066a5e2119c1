"""The run summary shown in the Prefect UI: sheet text is shown literally, never as links or HTML."""

import re

from coaching.recommendations import Recommendation
from coaching.report.summary import escape_markdown, summary_markdown
from coaching.quarters import Quarter
from coaching.scoring import Targets, score_quarter
from tests.coaching.workbooks import lead, program_frames


def test_text_from_the_sheets_cannot_become_a_link_html_or_formatting():
    hostile = "[click](https://evil.example) <img src=x onerror=alert(1)> **bold**"
    shown = escape_markdown(hostile)
    assert re.search(r"(?<!\\)[<>\[\]()*]", shown) is None  # every markup character is escaped
    assert shown.replace("\\", "") == hostile  # every character is still there, just inert


def test_the_summary_gives_the_headline_where_things_went_why_a_report_was_held_and_what_to_do():
    scores = score_quarter(program_frames([lead()], []), Quarter.parse("2026-Q3"), Targets())
    rec = Recommendation(1, "High", "P1", "Home <b>Visiting</b>", 3, 0, "Write a plan.", "0 of 5 documented.")
    text = summary_markdown(
        scores, None, [rec], ["Staff: 7 of 60 rows (11.7 %) have errors"], "Not sent.", "/r/2026-Q3"
    )
    assert text.startswith("# Coaching effectiveness 2026-Q3")
    assert f"Organisation score: {scores.organisation_percent:.1f} %" in text
    assert "## Report held back" in text and "Staff: 7 of 60 rows \\(11\\.7 %\\) have errors" in text
    assert text.index("## Report held back") < text.index("Organisation score")  # the reasons lead
    assert "Home \\<b\\>Visiting\\</b\\>" in text and re.search(r"(?<!\\)<b>", text) is None
