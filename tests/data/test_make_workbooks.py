"""The sample and template workbooks: reproducible, shaped by the contract, scoring as designed.

The scores are recomputed here with a deliberately plain pandas reading of the contract
(docs/data-contract.md, section 2), independent of the pipeline's own parsing and scoring,
and compared with the table the lead engineer checks the pipeline against (data/README.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter
import pandas as pd
import pytest

from adapters.sources import XlsxSource
from coaching.contract import (
    ACTION_STATUSES,
    DECIDED_STATUSES,
    PLAN_COMPONENT_ALIASES,
    PLAN_COMPONENTS,
    SOURCE_FLAGS,
    SUBJECT_TYPES,
    TABS,
    Kind,
    normalise,
)
from data.make_workbooks import (
    DATA_DIR,
    INSTRUCTIONS_TITLE,
    SAMPLE_NAME,
    TEMPLATE_NAME,
    write_workbooks,
)

SAMPLE = DATA_DIR / SAMPLE_NAME
TEMPLATE = DATA_DIR / TEMPLATE_NAME
README = DATA_DIR / "README.md"
LATEST_DATE = pd.Timestamp("2026-11-20")
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TRUE_WORDS = {"true", "yes", "y", "1", "x"}
FALSE_WORDS = {"false", "no", "n", "0", ""}


# -- reading, as simply as possible ------------------------------------------------------------


def sheet_values(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, data_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def blank(value: object) -> bool:
    if isinstance(value, float) and np.isnan(value):
        return True
    return value is None or str(value).strip() == ""


def as_id(value: object) -> object:
    if blank(value):
        return None
    return str(int(value)) if isinstance(value, (int, float)) else str(value).strip()


def as_date(value: object) -> pd.Timestamp:
    if isinstance(value, datetime):
        return pd.Timestamp(value).normalize()
    for pattern in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S"):
        try:
            return pd.Timestamp(datetime.strptime(str(value).strip(), pattern)).normalize()
        except ValueError:
            continue
    return pd.NaT


def as_bool(value: object) -> object:
    """True/False, or None when the contract does not accept the value."""
    if isinstance(value, bool):
        return value
    word = "" if blank(value) else str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


CONVERTERS = {
    Kind.ID: as_id,
    Kind.DATE: as_date,
    Kind.DATETIME: as_date,  # scoring only needs the day
    Kind.BOOL: as_bool,
    Kind.ENUM: lambda v: None if blank(v) else normalise(v),
    Kind.NUMBER: lambda v: pd.to_numeric(v, errors="coerce"),
    Kind.INTEGER: lambda v: pd.to_numeric(v, errors="coerce"),
}


def read_tab(rows: list[tuple], tab) -> pd.DataFrame:
    """Columns by normalised header, typed; indexed by sheet row; fully blank rows dropped."""
    frame = pd.DataFrame(rows[1:], columns=[normalise(h) for h in rows[0]], dtype=object)
    frame.index = pd.RangeIndex(2, len(rows) + 1)
    frame = frame.dropna(how="all")
    for column in tab.columns:
        frame[column.name] = frame[column.name].map(CONVERTERS.get(column.kind, lambda v: v))
    return frame


def markdown_table(text: str, heading: str) -> pd.DataFrame:
    """The first table after a `## heading` line of data/README.md, as text."""
    section = text.split(f"## {heading}", 1)[1]
    lines = [line.strip() for line in section.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return pd.DataFrame(table[2:], columns=table[0])


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> dict[str, list[tuple]]:
    return sheet_values(SAMPLE)


@pytest.fixture(scope="module")
def template() -> dict[str, list[tuple]]:
    return sheet_values(TEMPLATE)


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bad_rows(readme: str) -> pd.DataFrame:
    table = markdown_table(readme, "Deliberate bad rows")
    table["row"] = table["row"].astype(int)
    return table


@pytest.fixture(scope="module")
def typed(sample) -> dict[str, pd.DataFrame]:
    return {tab.key: read_tab(sample[tab.default_title], tab) for tab in TABS}


@pytest.fixture(scope="module")
def records(typed, bad_rows) -> dict[str, pd.DataFrame]:
    """The valid rows: the README's error rows left out, its warning cells treated as blank."""
    titles = {tab.default_title: tab.key for tab in TABS}
    clean = {key: frame.copy() for key, frame in typed.items()}
    for bad in bad_rows.itertuples():
        frame = clean[titles[bad.tab]]
        if bad.severity == "error":
            clean[titles[bad.tab]] = frame.drop(index=bad.row)
        else:
            frame.loc[bad.row, normalise(bad.column)] = None
    return clean


# -- the independent scoring -------------------------------------------------------------------


def quarter_span(label: str) -> tuple[pd.Timestamp, pd.Timestamp, pd.PeriodIndex]:
    period = pd.Period(label.replace("-", ""), freq="Q")
    return period.start_time, period.end_time.normalize(), pd.period_range(period.start_time, period.end_time, freq="M")


def score_quarter(r: dict[str, pd.DataFrame], label: str) -> pd.DataFrame:
    first, last, months = quarter_span(label)
    previous = str(pd.Period(label.replace("-", ""), freq="Q") - 1).replace("Q", "-Q")
    programs = r["programs"].set_index("program_id")
    staff = r["staff"]
    out = pd.DataFrame(index=programs.index)

    lead = staff.set_index("staff_id").reindex(programs["coaching_lead_id"])
    lead_ok = (
        lead["start_date"].le(last)
        & (lead["end_date"].isna() | lead["end_date"].ge(last))
        & lead["email"].fillna("").str.match(EMAIL)
    ).to_numpy()
    out["bp1_accountability"] = np.where(programs["coaching_lead_id"].isna(), 0, np.where(lead_ok, 2, 1))

    log = r["coaching_log"]
    month_table = pd.DataFrame({"month": months, "m_first": months.start_time, "m_last": months.end_time.normalize()})
    eligible = staff[staff["requires_coaching"].astype(bool)].merge(month_table, how="cross")
    eligible = eligible[
        eligible["start_date"].le(eligible["m_last"])
        & (eligible["end_date"].isna() | eligible["end_date"].ge(eligible["m_first"]))
    ]
    coached = pd.MultiIndex.from_arrays([log["staff_id"], log["session_date"].dt.to_period("M")])
    eligible = eligible.assign(
        covered=pd.MultiIndex.from_arrays([eligible["staff_id"], eligible["month"]]).isin(coached)
    )
    out["monthly_coverage"] = eligible.groupby("program_id")["covered"].mean()

    sessions = log[log["session_date"].between(first, last)]
    multi = sessions["direct_observation"].astype(bool) & sessions[
        ["reflection", "document_review", "stakeholder_interview"]
    ].astype(bool).any(axis=1)
    out["multi_source_rate"] = multi.groupby(sessions["program_id"]).mean()
    out["bp2_coaching_delivery"] = out["monthly_coverage"].ge(0.90).astype(int) + out["multi_source_rate"].ge(
        0.80
    ).astype(int)

    plan = r["coaching_plan"]
    plan = plan[plan["documented"].astype(bool)]
    components = plan["component"].replace(PLAN_COMPONENT_ALIASES)
    out["plan_components"] = components.groupby(plan["program_id"]).nunique()
    out["plan_components"] = out["plan_components"].fillna(0).astype(int)
    out["bp3_service_plan"] = np.select([out["plan_components"].ge(3), out["plan_components"].ge(1)], [2, 1], 0)

    fidelity = r["fidelity"][r["fidelity"]["assessment_date"].between(first, last)]
    survey = r["satisfaction"][r["satisfaction"]["timestamp"].between(first, last)]
    sources = pd.concat(
        [
            fidelity[["program_id", "subject_type"]].rename(columns={"subject_type": "source"}),
            survey[["program_id"]].assign(source="survey"),
        ]
    )
    out["effectiveness_sources"] = sources.drop_duplicates().groupby("program_id").size()
    out["effectiveness_sources"] = out["effectiveness_sources"].fillna(0).astype(int)
    actions = r["improvement_actions"]
    decided = actions[actions["quarter"].eq(previous) & actions["status"].isin(DECIDED_STATUSES)]
    out["improvement_actions"] = decided.groupby("program_id").size()
    out["improvement_actions"] = out["improvement_actions"].fillna(0).astype(int)
    out["bp4_effectiveness_review"] = np.select(
        [out["effectiveness_sources"].ge(2) & out["improvement_actions"].ge(1), out["effectiveness_sources"].ge(1)],
        [2, 1],
        0,
    )

    bps = ["bp1_accountability", "bp2_coaching_delivery", "bp3_service_plan", "bp4_effectiveness_review"]
    out["total_score"] = out[bps].sum(axis=1)
    out["percent"] = (100 * out["total_score"] / 8).round(1)
    out["program"] = programs["program_name"]
    return out.reset_index().assign(quarter=label)


def as_table_text(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores written the way data/README.md writes them."""
    text = scores.astype(object).copy()
    for column in ("monthly_coverage", "multi_source_rate"):
        text[column] = scores[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    text["percent"] = scores["percent"].map(lambda v: f"{v:.1f}")
    return text.astype(str)


def contract_errors(t: dict[str, pd.DataFrame]) -> dict[str, set[int]]:
    """Rows that break a contract rule (a plain check, to prove the README's list complete)."""
    staff, log = t["staff"], t["coaching_log"]
    programs = set(t["programs"]["program_id"])
    staff_ok = (
        staff["start_date"].notna()
        & ~staff["end_date"].lt(staff["start_date"])
        & staff["requires_coaching"].notna()
        & staff["program_id"].isin(programs)
    )
    people = set(staff.loc[staff_ok, "staff_id"])
    flags = log[list(SOURCE_FLAGS)]
    log_ok = (
        log["session_date"].notna()
        & log["session_date"].le(LATEST_DATE)
        & flags.notna().all(axis=1)
        & log["staff_id"].isin(people)
        & log["coach_id"].isin(people)
        & log["program_id"].isin(programs)
        & ~log.duplicated(["session_id", "staff_id"])
    )
    fidelity = t["fidelity"]
    fidelity_ok = (
        fidelity["assessment_date"].notna()
        & fidelity["score"].between(0, fidelity["max_score"])
        & fidelity["subject_type"].isin(SUBJECT_TYPES)
        & fidelity["subject_id"].isin(people)
    )
    survey = t["satisfaction"]
    survey_ok = (
        survey["timestamp"].notna()
        & survey["satisfaction"].isin(range(1, 6))
        & (survey["coach_id"].isna() | survey["coach_id"].isin(people))
    )
    plan = t["coaching_plan"]
    plan_ok = plan["component"].replace(PLAN_COMPONENT_ALIASES).isin(PLAN_COMPONENTS) & plan["documented"].notna()
    actions = t["improvement_actions"]
    actions_ok = (
        actions["quarter"].str.fullmatch(r"\d{4}-Q[1-4]")
        & actions["status"].isin(ACTION_STATUSES)
        & actions["program_id"].isin(programs)
    )
    checks = {
        "staff": staff_ok,
        "coaching_log": log_ok,
        "fidelity": fidelity_ok,
        "satisfaction": survey_ok,
        "coaching_plan": plan_ok,
        "improvement_actions": actions_ok,
    }
    return {key: set(ok.index[~ok.astype(bool)]) for key, ok in checks.items()}


# -- tests -------------------------------------------------------------------------------------


def test_regenerating_the_workbooks_gives_the_shipped_cells(tmp_path: Path) -> None:
    sample_path, template_path, _ = write_workbooks(tmp_path)
    assert sheet_values(sample_path) == sheet_values(SAMPLE)
    assert sheet_values(template_path) == sheet_values(TEMPLATE)


@pytest.mark.parametrize("workbook", ["sample", "template"])
def test_every_contract_tab_has_headers_naming_all_its_columns(workbook, request) -> None:
    sheets = request.getfixturevalue(workbook)
    assert list(sheets)[0] == INSTRUCTIONS_TITLE
    for tab in TABS:
        headers = {normalise(h) for h in sheets[tab.default_title][0] if h}
        assert set(tab.column_names) <= headers, tab.default_title


def test_the_template_has_header_rows_only_bold_and_frozen() -> None:
    book = openpyxl.load_workbook(TEMPLATE)
    for tab in TABS:
        ws = book[tab.default_title]
        assert ws.max_row == 1, tab.default_title
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1])


def test_the_template_offers_dropdowns_for_every_closed_list() -> None:
    book = openpyxl.load_workbook(TEMPLATE)
    for tab in TABS:
        ws = book[tab.default_title]
        lists = {
            str(v.sqref).split(":")[0].rstrip("0123456789"): v.formula1 for v in ws.data_validations.dataValidation
        }
        for index, column in enumerate(tab.columns, start=1):
            letter = get_column_letter(index)
            if column.kind is Kind.BOOL:
                assert lists.get(letter) == '"TRUE,FALSE"', (tab.key, column.name)
            if column.kind is Kind.ENUM:
                assert lists.get(letter) == '"' + ",".join(column.choices) + '"'


def test_the_instructions_explain_every_column_to_office_staff(sample) -> None:
    text = " ".join(str(v) for row in sample[INSTRUCTIONS_TITLE] for v in row if v)
    for tab in TABS:
        assert tab.default_title in text
    for phrase in (
        "one row per participant",
        "7/14/2026",
        "2026-07-14",
        "TRUE or FALSE",
        "00123 stays 00123",
        "in_progress",
    ):
        assert phrase in text


def test_the_sample_keeps_blank_rows_in_the_coaching_log_with_honest_row_numbers(readme, bad_rows) -> None:
    raw = XlsxSource(SAMPLE).read().tabs["Coaching Log"].rows
    empty = [number for number, row in enumerate(raw, start=1) if all(blank(v) for v in row)]
    assert len(empty) == 2 and 2 < empty[0] < empty[1] < len(raw)
    assert f"sheet rows {empty[0]} and {empty[1]}" in readme
    # Rows after the blank ones are read at the sheet row numbers data/README.md states.
    header, listed = list(raw[0]), bad_rows[bad_rows["tab"].eq("Coaching Log")]
    assert listed["row"].gt(empty[1]).any()
    for bad in listed.itertuples():
        assert str(raw[bad.row - 1][header.index(bad.column)]) == bad.value


def test_every_bad_row_of_the_readme_is_in_the_sample_where_it_says(sample, bad_rows) -> None:
    assert 6 <= len(bad_rows) <= 10
    assert "Programs" not in set(bad_rows["tab"])
    for bad in bad_rows.itertuples():
        rows = sample[bad.tab]
        cell = rows[bad.row - 1][list(rows[0]).index(bad.column)]
        shown = cell.date().isoformat() if isinstance(cell, datetime) else str(cell)
        assert shown == bad.value, (bad.tab, bad.row)
    for title, count in bad_rows.groupby("tab").size().items():
        data_rows = [r for r in sample[title][1:] if any(v not in (None, "") for v in r)]
        assert count <= 0.05 * len(data_rows), title


def test_the_readme_lists_every_row_that_breaks_the_contract(typed, bad_rows) -> None:
    errors = bad_rows[bad_rows["severity"].eq("error")]
    titles = {tab.default_title: tab.key for tab in TABS}
    listed = {key: set(errors.loc[errors["tab"].map(titles).eq(key), "row"]) for key in titles.values()}
    for key, rows in contract_errors(typed).items():
        assert rows == listed[key], key
    warnings = bad_rows[bad_rows["severity"].eq("warning")]
    assert set(warnings["column"]) == {"Email", "Duration (minutes)"}
    emails = typed["staff"]["email"].dropna()
    assert set(emails.index[~emails.str.match(EMAIL)]) == set(warnings.loc[warnings["column"].eq("Email"), "row"])


def test_the_sample_tells_the_designed_stories(sample, records) -> None:
    programs, staff, log = records["programs"], records["staff"], records["coaching_log"]
    assert any("&" in name for name in programs["program_name"])
    leads = staff.set_index("staff_id").loc[programs["coaching_lead_id"].dropna()]
    assert leads["end_date"].between(pd.Timestamp("2026-07-01"), pd.Timestamp("2026-09-29")).any()
    assert programs["coaching_lead_id"].isna().sum() == 1
    assert (~staff["requires_coaching"].astype(bool)).any()
    joined, left = staff["start_date"], staff["end_date"]
    assert joined.between(pd.Timestamp("2026-07-02"), pd.Timestamp("2026-09-30")).any()
    assert left.between(pd.Timestamp("2026-07-01"), pd.Timestamp("2026-09-29")).any()
    per_quarter = log["session_date"].dt.quarter.value_counts()
    assert per_quarter[3] >= 0.6 * per_quarter[2]
    assert log.groupby("session_id")["staff_id"].count().max() >= 3  # group sessions
    assert set(log["session_date"].dt.to_period("Q").astype(str)) == {"2026Q1", "2026Q2", "2026Q3"}


def test_the_sample_mixes_cell_types_like_real_exports(sample) -> None:
    cells = [v for title, rows in sample.items() if title != INSTRUCTIONS_TITLE for row in rows[1:] for v in row]
    texts = {v for v in cells if isinstance(v, str)}
    assert any(isinstance(v, datetime) for v in cells) and any(isinstance(v, bool) for v in cells)
    assert {"yes", "x", "N"} <= texts
    assert any(re.fullmatch(r"\d{1,2}/\d{1,2}/2026", v) for v in texts)
    assert any(re.fullmatch(r"2026-\d\d-\d\d", v) for v in texts)
    assert "00123" in texts and "In progress" in texts
    stamps = [row[0] for row in sample["Satisfaction Survey"][1:]]
    assert any(re.fullmatch(r"\d{1,2}/\d{1,2}/2026 \d{1,2}:\d\d:\d\d", str(s)) for s in stamps)


def test_survey_comments_include_markup_and_a_formula_stored_as_plain_text() -> None:
    ws = openpyxl.load_workbook(SAMPLE)["Satisfaction Survey"]
    comments = {cell.value: cell.data_type for cell in ws["E"][1:] if cell.value}
    assert any("<script>alert(1)</script>" in c for c in comments)
    formulas = [c for c in comments if c.startswith("=")]
    assert formulas and all(comments[c] == "s" for c in formulas)


def test_a_few_coaches_have_fewer_than_three_survey_responses_in_2026_q3(records) -> None:
    survey = records["satisfaction"]
    first, last, _ = quarter_span("2026-Q3")
    q3 = survey[survey["timestamp"].between(first, last)]
    per_coach = q3["coach_id"].value_counts()
    assert (per_coach < 3).sum() >= 2 and (per_coach >= 3).sum() >= 2


def test_nothing_in_the_sample_is_dated_after_2026_11_20(typed) -> None:
    for frame in typed.values():
        dates = frame.select_dtypes("datetime")
        assert not (dates > LATEST_DATE).any().any()


@pytest.mark.parametrize("quarter", ["2026-Q3", "2026-Q2"])
def test_independent_scores_match_the_readme_table(records, readme, quarter) -> None:
    expected = markdown_table(readme, "Expected scores")
    expected = expected[expected["quarter"].eq(quarter)].set_index("program_id")
    computed = as_table_text(score_quarter(records, quarter)).set_index("program_id")
    assert sorted(expected.index) == sorted(computed.index)
    for column in expected.columns:
        if column in ("quarter", "program"):
            continue
        assert computed.loc[expected.index, column].tolist() == expected[column].tolist(), column


def test_the_template_formats_every_id_column_as_text_so_leading_zeros_survive_typing() -> None:
    book = openpyxl.load_workbook(TEMPLATE)
    for tab in TABS:
        ws = book[tab.default_title]
        for index, column in enumerate(tab.columns, start=1):
            style = ws.column_dimensions[get_column_letter(index)].number_format
            assert (style == "@") is (column.kind is Kind.ID), (tab.key, column.name, style)
