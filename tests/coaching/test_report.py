"""The leadership report as leadership and their mail programs see it."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
import re
from email import policy

import pandas as pd
import pytest

from adapters.mailers import build_mime_message
from coaching.history import Restatement
from coaching.records import DataIssue, Severity
from coaching.report.render import build_report_email, charted_programs, render_report
from tests.browser import laid_out
from tests.coaching.report_fixtures import SHEET_URL, report_data, small_tabs

SCRIPT = "<script>alert('hi')</script>"


@pytest.fixture(scope="module")
def data():
    return report_data(small_tabs(coach_name=SCRIPT), "2026-Q3", linked=True)


@pytest.fixture(scope="module")
def report(data):
    return render_report(data)


WIDTHS = (320, 400, 680, 1200)  # two phones, a narrow window, a desktop
PHONE_WIDTHS = (320, 400)


@pytest.fixture(scope="module")
def report_laid_out(report, tmp_path_factory):
    """The report file as Chromium lays it out at each of WIDTHS (one browser for all)."""
    return laid_out(report.html_file, WIDTHS, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def default_report():
    """The report leadership gets by default: no staff names."""
    return render_report(report_data(small_tabs(), "2026-Q3", name_staff=False))


@pytest.fixture(scope="module")
def default_report_laid_out(default_report, tmp_path_factory):
    return laid_out(default_report.html_file, PHONE_WIDTHS, tmp_path_factory.mktemp("default_report"))


def _words(html: str) -> str:
    """What a reader sees: tags removed, runs of white space as one space (entities kept)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(html: str, heading: str) -> str:
    """The words from a section's heading to the next section's heading."""
    start = html.index(f">{heading}</h2>")
    end = html.find("</h2>", start + len(heading) + 6)
    return _words(html[start : end if end > 0 else None])


def test_script_in_a_survey_answer_or_a_name_and_ampersands_in_a_program_name_are_escaped(report):
    for html in (report.html_email, report.html_file):
        assert "<script" not in html.lower()
        assert "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt;" in html  # the coach and the survey cell
        assert "Family &amp; &lt;Youth&gt; Services" in html
        assert "Family & <Youth>" not in html
    assert "Family & <Youth> Services" in report.text  # plain text is not HTML: shown as typed


def test_the_html_loads_nothing_from_outside_and_links_only_to_workbook_cells(report):
    for html, own_images in ((report.html_email, "cid:"), (report.html_file, "data:image/png;base64,")):
        assert re.search(r"<\s*(script|link|iframe|object|embed|style)\b", html, re.I) is None
        assert "url(" not in html and "@import" not in html
        sources = re.findall(r'\bsrc="([^"]*)"', html)
        assert sources and all(src.startswith(own_images) for src in sources)
        links = re.findall(r'\bhref="([^"]*)"', html)
        assert links and all(link.startswith(SHEET_URL) for link in links)


def test_every_chart_in_the_email_is_attached_under_its_content_id_and_every_image_is_used(report):
    referenced = set(re.findall(r'src="cid:([^"]+)"', report.html_email))
    attached = {image.content_id for image in report.images}
    assert referenced == attached and len(attached) == 2
    assert all(image.mime_type == "image/png" for image in report.images)


def test_the_report_file_opens_on_its_own_with_the_charts_embedded(report):
    assert "cid:" not in report.html_file
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', report.html_file)
    assert [base64.b64decode(item) for item in embedded] == [image.content for image in report.images]


def test_the_scorecard_names_each_rating_in_words_not_only_in_colour(report):
    scorecard = _section(report.html_email, "Scorecard")
    home, family = scorecard.split("Home Visiting")[1], scorecard.split("Family &amp; &lt;Youth&gt; Services")[1]
    assert home.split("Family")[0].count("In place") == 4
    assert (
        "1. Accountable lead ○ Not in place 2. Monthly coaching ○ Not in place "
        "3. Written plan ◐ Partially 4. Effectiveness review ◐ Partially"
    ) in family
    text_row = next(line for line in report.text.splitlines() if line.startswith("Family & <Youth>"))
    assert text_row.split()[4:12] == ["Not", "in", "place", "Not", "in", "place", "Partially", "Partially"]


def test_satisfaction_of_a_coach_with_two_responses_is_hidden_and_with_three_it_is_shown(report):
    section = _section(report.html_email, "Satisfaction with coaching, by coach")
    assert "Ana Coach 3 4.7 of 5" in section  # 4, 5, 5
    assert "&lt;/script&gt; 2 not shown: fewer than 3 responses" in section
    assert "1.5" not in section  # the hidden coach's answers were 1 and 2


def test_the_headline_and_subject_give_the_score_and_its_change_since_the_previous_quarter(report):
    # 2026-Q3: 8 + 2 of 16 points; 2026-Q2: 5 + 1 of 16.
    assert report.subject == "Coaching effectiveness 2026-Q3: 62.5 % (▲ 25 points)"
    top = _words(report.html_email.split(">Scorecard</h2>")[0])
    never = "37.5 %, recomputed from today’s records: never reported"
    assert f"62.5 % organisation score, 10 of 16 points ▲ 25 points since 2026-Q2 ({never})." in top
    assert "● In place 4 ◐ Partially 2 ○ Not in place 2" in top
    assert f"Organisation score: 62.5 % (10 of 16 points). ▲ 25 points since 2026-Q2 ({never})." in report.text


def test_the_first_quarter_on_record_has_no_change_to_report(data):
    first = render_report(dataclasses.replace(data, previous=None, history=[data.current], improvements=[]))
    assert first.subject == "Coaching effectiveness 2026-Q3: 62.5 %"
    assert "No earlier quarter to compare with." in first.html_email
    assert "new this quarter" in first.html_email


def test_recommendations_come_in_priority_order_with_their_evidence(report, data):
    section = _section(report.html_email, "Recommendations")
    positions = [section.index(r.action.replace("'", "&#39;")) for r in data.recommendations]
    assert positions == sorted(positions) and len(positions) == 4
    assert "HIGH" in section.upper() and "Not coached: Cal Worker (S03): August, September." in section


def test_program_details_show_counts_behind_each_rate_and_what_is_missing(report):
    details = _section(report.html_email, "Program by program")
    assert "By month: July 1 of 1 (100 %); August 0 of 1 (0 %); September 0 of 1 (0 %)." in details
    assert "1 of 3 staff-months (33 %) had a coaching session (target: at least 90 %)." in details
    assert "0 of 1 sessions (0 %) had direct observation plus a second source (target: at least 80 %)." in details
    assert (
        "1 of 5 plan components documented (target: at least 3); missing: skill sets, frequency, methods, feedback."
        in details
    )
    assert "missing: practitioner fidelity assessment, coach fidelity assessment." in details


def test_each_measure_reads_the_same_in_the_recommendations_and_the_program_detail(report):
    """One direction, one wording, beside its target: a recommendation's evidence repeats the detail's sentence."""
    family = _section(report.html_email, "Program by program").split("Family")[1]
    advice = _section(report.html_email, "Recommendations")
    for sentence in (
        "0 of 1 sessions (0 %) had direct observation plus a second source (target: at least 80 %).",
        "1 of 3 staff-months (33 %) had a coaching session (target: at least 90 %).",
    ):
        assert sentence in family and sentence in advice
    assert "had no direct observation" not in report.html_email + report.text


def test_a_rate_with_nothing_to_divide_reads_no_data():
    tabs = small_tabs()
    tabs["Programs"].append(["P3", "Night Shelter", "S01"])
    report = render_report(report_data(tabs, "2026-Q3"))
    shelter = _section(report.html_email, "Program by program").split("Night Shelter")[1]
    assert "No staff member who requires coaching was active in the quarter (target: at least 90 %" in shelter
    assert "No coaching session was logged in the quarter (target: at least 80 %" in shelter
    assert "nan" not in shelter.lower()


def test_the_report_speaks_in_plain_words_not_column_names(report):
    for body in (report.html_email, report.text):
        for jargon in ("bp1_", "bp2_", "monthly_coverage", "multi_source", "lead_status", "NaN", "None", "<NA>"):
            assert jargon not in body


def test_data_quality_lists_each_problem_with_a_link_to_its_cell(report):
    section = _section(report.html_email, "Data quality")
    assert "2 errors" in section and "Staff 5 1" in section  # 5 rows read, 1 left out
    assert f'href="{SHEET_URL}#gid=0&amp;range=G6"' in report.html_email
    assert "“…” is not a date" in section and "31/31/2026" not in section  # the value stays in the CSV
    assert "Staff, row 6, Start Date: error, “…” is not a date" in report.text


def test_a_held_back_report_says_why_and_a_long_problem_list_is_cut_at_fifteen(data):
    many = [
        DataIssue(
            "Coaching Log",
            row,
            "Session Date",
            "someday",
            "'someday' is not a date",
            Severity.ERROR,
            f"B{row}",
            "javascript:alert(1)",
        )
        for row in range(2, 42)
    ]
    held = render_report(dataclasses.replace(data, issues=many, blocking=["Coaching Log: 40 of 50 rows have errors"]))
    section = _section(held.html_email, "Data quality")
    assert "This report was held back from leadership: Coaching Log: 40 of 50 rows have errors." in section
    assert section.count("is not a date") == 15 and "… and 25 more" in section
    assert "someday" not in section  # the cell's value stays in data_quality.csv
    assert "javascript:" not in held.html_email  # only https links become clickable
    assert "NOT FOR RELEASE" in held.text


def test_the_same_data_gives_byte_identical_html_text_and_charts():
    first = render_report(report_data(small_tabs(), "2026-Q3"))
    second = render_report(report_data(small_tabs(), "2026-Q3"))
    assert first == second
    sent = [
        build_report_email(r, sender="a@example.org", recipients=["b@example.org"], files={}, tags={})
        for r in (first, second)
    ]
    assert sent[0].content_hash == sent[1].content_hash


def test_charts_are_small_pngs_without_metadata_even_with_dollar_signs_in_names():
    tabs = small_tabs(program_name="Kids $0-5 & Teens $6+ \\ $x^2$")
    report = render_report(report_data(tabs, "2026-Q3"))
    for image in report.images:
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(image.content) < 150_000
        assert b"Software" not in image.content and b"tEXt" not in image.content
        width = int.from_bytes(image.content[16:20], "big")
        assert width == 920  # 460 px shown at twice the density


def test_the_report_email_goes_to_every_recipient_with_the_csv_files_and_inline_charts(report):
    files = {"scorecard.csv": b"quarter,program_id\n2026-Q3,P1\n", "recommendations.csv": b"priority\n1\n"}
    outgoing = build_report_email(
        report,
        sender="reports@example.org",
        recipients=["ceo@example.org", "coo@example.org"],
        files=files,
        tags={"quarter": "2026-Q3"},
    )
    assert (outgoing.kind, outgoing.period, outgoing.subject) == ("quarterly_report", "2026-Q3", report.subject)
    assert outgoing.recipients == ("ceo@example.org", "coo@example.org")
    csvs = {a.filename: a for a in outgoing.attachments if not a.inline}
    assert csvs["scorecard.csv"].mime_type == "text/csv" and csvs["scorecard.csv"].content == files["scorecard.csv"]

    message = email.message_from_bytes(bytes(build_mime_message(outgoing)), policy=policy.default)
    assert message["To"] == "ceo@example.org, coo@example.org"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == report.text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == report.html_email
    inline = {part["Content-ID"].strip("<>") for part in message.walk() if part["Content-ID"]}
    assert inline == set(re.findall(r'src="cid:([^"]+)"', report.html_email))
    assert {part.get_filename() for part in message.iter_attachments()} >= {"scorecard.csv", "recommendations.csv"}


def test_with_more_programs_than_a_chart_can_show_the_charts_show_those_that_need_attention_most():
    card = pd.DataFrame(
        {
            "program_id": [f"P{i:02d}" for i in range(25)],
            "total_score": [8] * 20 + [1, 2, 3, 4, 5],
            "monthly_coverage": [0.95] * 20 + [0.5] * 5,
        }
    )
    assert charted_programs(card.head(20)) is None  # all fit
    chosen = charted_programs(card, limit=6)
    assert chosen[:5] == ["P20", "P21", "P22", "P23", "P24"] and len(chosen) == 6


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_reads_on_a_phone_320_or_400_px_wide_and_on_a_desktop_without_sideways_scrolling(
    report_laid_out, width
):
    page = report_laid_out[width]
    assert page.visible_width <= width and page.scroll_width <= page.visible_width


def test_chart_text_is_at_least_11_px_on_a_phone_400_px_wide(report_laid_out):
    """Chromium gives how wide each chart is shown (with a scroll bar, the narrowest case); each
    chart says the smallest text it drew, in points at its own width (72 pt = 100 px)."""
    from coaching.report.charts import coverage_chart, scores_chart

    page = report_laid_out[400]
    data = report_data(small_tabs(), "2026-Q3")
    charts = (coverage_chart(data.current, 0.9), scores_chart(data.history, recomputed=["2026-Q1"]))
    assert len(page.image_widths) == len(charts)
    for chart, shown in zip(charts, page.image_widths):
        assert chart.smallest_text_pt * 100 / 72 * shown / chart.width >= 11, (chart.smallest_text_pt, shown)
        assert shown <= chart.width  # never blown up past its own size on a desktop


def test_what_got_worse_names_the_fall_in_score_and_each_practice_that_dropped():
    # 2026-Q4 has no session and no survey yet: Home Visiting falls from 8 of 8 to 4 of 8.
    report = render_report(report_data(small_tabs(), "2026-Q4", generated_on=dt.date(2027, 1, 5)))
    worse = _section(report.html_email, "What got worse since last quarter")
    assert "Home Visiting: the score fell 50 points since 2026-Q3, to 50 %." in worse
    assert (
        "Home Visiting: coaching at least monthly, from direct observation plus another source is now not in "
        "place (was in place)."
    ) in worse


def test_without_the_names_setting_the_report_gives_counts_and_satisfaction_per_program():
    report = render_report(report_data(small_tabs(), "2026-Q3", name_staff=False))
    for body in (report.html_email, report.text):
        for name in ("Ana Coach", "Ben Worker", "Cal Worker", "Dee Coach"):
            assert name not in body
    assert "Not coached: 1 staff member in 2 staff-months." in _section(report.html_email, "Recommendations")


def test_without_the_names_setting_a_program_with_one_coach_is_merged_with_another_never_shown_alone():
    """Each program here has one coach: its average would be that coach's ratings. Together they
    have two coaches and five responses (4, 5, 5 and 1, 2)."""
    report = render_report(report_data(small_tabs(), "2026-Q3", name_staff=False))
    by_program = _section(report.html_email, "Satisfaction with coaching, by program")
    assert "Other programs: Family &amp; &lt;Youth&gt; Services, Home Visiting 5 from 2 coaches 3.4 of 5" in by_program
    assert "4.7" not in by_program and "1.5" not in by_program  # neither coach's own average


def test_without_the_names_setting_a_lone_program_with_one_coach_has_no_average():
    tabs = small_tabs()
    tabs["Satisfaction Survey"] = [row for row in tabs["Satisfaction Survey"] if row[1] == "P1"]
    report = render_report(report_data(tabs, "2026-Q3", name_staff=False))
    by_program = _section(report.html_email, "Satisfaction with coaching, by program")
    assert "Home Visiting 3 from 1 coach not shown: fewer than 2 coaches or 3 responses" in by_program
    assert "4.7" not in report.html_email and "4.7" not in report.text


def test_a_quarter_that_is_over_gets_advice_for_next_quarter():
    report = render_report(report_data(small_tabs(), "2026-Q3", generated_on=dt.date(2026, 10, 5)))
    advice = _section(report.html_email, "Recommendations")
    assert "data next quarter" in advice and "this quarter" not in report.html_email


def test_restatements_come_before_the_charts_and_a_re_sent_report_opens_with_what_changed(data):
    restated = Restatement(
        "2026-Q2",
        "P1",
        "Home Visiting",
        5,
        62.5,
        6,
        75.0,
        "2026-07-06",
        ("2 sessions dated in 2026-Q2 added to the Coaching Log since the report",),
    )
    changed = Restatement(
        "2026-Q3", "P1", "Home Visiting", 8, 100.0, 6, 75.0, "2026-10-06", ("1 Coaching Log row of 2026-Q3 corrected",)
    )
    report = render_report(
        dataclasses.replace(
            data,
            restatements=[restated],
            since_last_sent=[changed],
            reported_on={"2026-Q2": "2026-07-06", "2026-Q3": "2026-10-06"},
        )
    )
    html = report.html_email
    opening = _words(html[: html.index("organisation score")])
    assert "This report of 2026-Q3 was already sent on 6 October 2026." in opening
    assert "Home Visiting : 100 % (8 of 8) then, 75 % (6 of 8) now (▼ 25 points). 1 Coaching Log row" in opening
    section = _section(html, "Earlier quarters restated")
    assert "2026-Q2 (reported on 6 July 2026)" in section
    assert (
        "Home Visiting : reported 62.5 % (5 of 8), now 75 % (6 of 8) (▲ 12.5 points). Why: 2 sessions dated" in section
    )
    assert html.index("Earlier quarters restated") < html.index(">Charts</h2>")
    assert "as reported on 6 July 2026" in _words(html.split(">Scorecard</h2>")[0])
    assert "2025-Q4, 2026-Q1 recomputed from today" in html  # never reported: marked as such


def test_without_the_names_setting_no_staff_name_is_anywhere_in_the_email_leadership_receives():
    """The promise as a director would see it broken: a name in the body, the text, or any file the
    email carries (scorecard.csv, recommendations.csv, report.html), or a cell's value from the
    data-quality list (here a name typed in a date column)."""
    from coaching.records import CheckedRecords
    from coaching.recommendations import declines, improvements, recommend
    from coaching.report.assemble import build_quarterly_report
    from coaching.scoring import Targets
    from tests.coaching.report_fixtures import valid_frames

    data = report_data(small_tabs(), "2026-Q3", name_staff=False)
    typed = DataIssue(
        "Coaching Log", 7, "Session Date", "Ben Worker", "'Ben Worker' is not a date", Severity.ERROR, "B7", ""
    )
    checked = CheckedRecords(valid_frames(small_tabs()), [*data.issues, typed], {}, {})
    report = build_quarterly_report(
        data.history,
        recommend(data.current, Targets(), name_staff=False),
        improvements(data.current, data.previous),
        checked,
        organisation="Riverbend",
        source_label="test_workbook.xlsx",
        today=dt.date(2026, 10, 5),
        targets=Targets(),
        min_responses_per_coach=3,
        declines=declines(data.current, data.previous),
        name_staff=False,
    )
    message = build_mime_message(
        build_report_email(
            report.rendered,
            sender="r@example.org",
            recipients=["d@example.org"],
            files=report.attachments,
            tags={},
        )
    )
    parts = [part.get_content() for part in message.walk() if not part.is_multipart()]
    readable = [p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in parts]
    assert any("is not a date" in part for part in readable)  # the problem is listed, without its value
    for name in ("Ana Coach", "Ben Worker", "Cal Worker", "Dee Coach"):
        assert not any(name in part for part in readable), name
    assert "Ana Coach" in report.files["scorecard.csv"].decode()  # the output folder keeps the evidence whole


@pytest.mark.parametrize(
    ("value", "problem", "shown"),
    [
        ("a", "'a' is not a date: write it as 7/14/2026", "“…” is not a date: write it as 7/14/2026"),
        (
            "202",
            "'202' is not on the Staff tab; did you mean '00202'? Format the column as Plain text",
            "“…” is not on the Staff tab; did you mean “…”? Format the column as Plain text",
        ),
        ("Ben Worker", "Ben Worker is not a date", "… is not a date"),
        (
            "2026-03-08",
            "The end date 2026-03-08 is before the start date 2026-08-03; correct one of the two dates",
            "The end date … is before the start date …; correct one of the two dates",
        ),
        (
            "00135",
            "Staff ID '00135' is already listed for session '1323' on row 430; delete this repeated row or "
            "correct the session or staff ID",
            "Staff ID “…” is already listed for session “…” on row 430; delete this repeated row or correct the session",
        ),
    ],
)
def test_a_problem_loses_every_cells_value_but_keeps_its_other_words(data, value, problem, shown):
    issue = DataIssue("Coaching Log", 7, "Session Date", value, problem, Severity.ERROR, "B7", "")
    report = render_report(dataclasses.replace(data, issues=[issue]))
    assert shown in report.text


def test_no_check_of_any_tab_can_put_a_cells_value_into_what_leadership_and_the_prefect_ui_see():
    """Every problem template of every suite, filled with recognisable values in every cell it names."""
    from string import Formatter

    from coaching.contract import TABS
    from coaching.outputs import redacted_data_quality_frame
    from coaching.validation import suite_definition

    templates = {rule["meta"]["problem"] for spec in TABS for rule in suite_definition(spec.key)["expectations"]}
    issues = []
    for template in sorted(templates):
        names = {name for _, name, _, _ in Formatter().parse(template) if name}
        cells = {name: "12" if name == "found" else f"Zq{n}x" for n, name in enumerate(sorted(names))}
        issues.append(DataIssue("Tab", 3, "Column", cells.get("value", ""), template.format_map(cells), Severity.ERROR))
    shown = redacted_data_quality_frame(issues)
    assert list(shown.columns) == ["tab", "row", "column", "problem", "severity", "cell", "link"]
    assert len(shown) == len(templates) > 20
    assert not shown["problem"].str.contains("Zq").any(), shown.loc[shown["problem"].str.contains("Zq"), "problem"]


def test_with_nothing_to_compare_the_html_and_the_text_say_the_same_thing(data):
    first = render_report(dataclasses.replace(data, previous=None, improvements=[], declines=[]))
    for heading in ("What improved since last quarter", "What got worse since last quarter"):
        assert "There is no earlier quarter in the records to compare with." in _section(first.html_email, heading)
    assert first.text.count("There is no earlier quarter in the records to compare with.") == 2


@pytest.mark.parametrize("width", PHONE_WIDTHS)
def test_the_report_leadership_gets_by_default_reads_on_a_phone_too(default_report, default_report_laid_out, width):
    """The default (no staff names) has its own satisfaction table."""
    assert "from 2 coaches" in default_report.html_file
    page = default_report_laid_out[width]
    assert page.visible_width <= width and page.scroll_width <= page.visible_width


@pytest.mark.parametrize("column", [1, 3, 4, 5, 6])  # date, coach, staff, duration, a boolean
@pytest.mark.parametrize("typed", ["Zed Typed", "  Zed Typed ", "Zed Typed\u200b"])
def test_a_name_typed_into_any_log_cell_is_not_repeated_in_the_email(typed, column):
    tabs = small_tabs()
    row = ["Q3-9", "8/20/2026", "P1", "S01", "S02", "30", "TRUE", "", "", "", ""]
    row[column] = typed
    tabs["Coaching Log"].append(row)
    data = report_data(tabs, "2026-Q3", name_staff=False)
    assert any(issue.row == 7 for issue in data.issues)  # the cell is listed as a problem
    report = render_report(data)
    file_text = re.sub(r'src="data:image/png;base64,[^"]*"', "", report.html_file)  # the charts' bytes are not text
    for body in (report.html_email, report.text, file_text):
        assert "Zed" not in body


def _quarterly(data, *, sent_hash: str | None, sending: bool, force_resend: bool = False):
    """The report the quarterly run builds, for a quarter sent before with `sent_hash` (None: never sent)."""
    from coaching.history import History, ReportedVersion, quarter_record
    from coaching.records import CheckedRecords
    from coaching.report.assemble import build_quarterly_report
    from coaching.scoring import Targets
    from tests.coaching.report_fixtures import valid_frames

    valid = valid_frames(small_tabs())
    sent = (
        {}
        if sent_hash is None
        else {
            "2026-Q3": ReportedVersion(quarter_record(valid, data.current), 1, "2026-10-06T07:00:00+00:00", sent_hash)
        }
    )
    changed = [
        Restatement(
            "2026-Q3",
            "P1",
            "Home Visiting",
            8,
            100.0,
            6,
            75.0,
            "2026-10-06",
            ("1 Coaching Log row of 2026-Q3 corrected",),
        )
    ]
    record = History(data.history, data.history, sent, since_last_sent=changed if sent else None)
    return build_quarterly_report(
        data.history,
        data.recommendations,
        data.improvements,
        CheckedRecords(valid, data.issues, {}, {}),
        organisation="Riverbend",
        source_label="test_workbook.xlsx",
        today=dt.date(2026, 10, 5),
        targets=Targets(),
        min_responses_per_coach=3,
        record=record,
        sending=sending,
        force_resend=force_resend,
    )


def test_updated_version_opens_only_a_version_that_is_sent_again_and_says_what_changed(data):
    from coaching.report.render import report_content_hash

    first = _quarterly(data, sent_hash=None, sending=True)
    same = report_content_hash(first.rendered.subject, first.attachments)
    rerun = _quarterly(data, sent_hash=same, sending=True)  # already sent: nothing goes
    not_sending = _quarterly(data, sent_hash="an earlier version", sending=False)  # --no-send
    for plain in (first, rerun, not_sending):
        for body in (plain.rendered.html_email, plain.rendered.text, plain.files["report.html"].decode()):
            assert "Updated version" not in body and "UPDATED VERSION" not in body and "already sent on" not in body

    updated = _quarterly(data, sent_hash="an earlier version", sending=True)
    opening = _words(updated.rendered.html_email.split("organisation score")[0])
    assert (
        "Updated version. This report of 2026-Q3 was already sent on 6 October 2026. What changed since then:"
        in opening
    )
    assert "Home Visiting : 100 % (8 of 8) then, 75 % (6 of 8) now (▼ 25 points). 1 Coaching Log row" in opening
    assert "UPDATED VERSION" in updated.rendered.text and "Updated version" in updated.files["report.html"].decode()

    forced = _quarterly(data, sent_hash=same, sending=True, force_resend=True)
    assert "UPDATED VERSION: this report of 2026-Q3 was already sent on 6 October 2026" in forced.rendered.text
