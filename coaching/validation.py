"""Typed frames → valid rows and one list of issues, by the Great Expectations suites.

A tab's suite is its column rules, generated from the contract, plus the rules between cells and
rows, kept as data in `expectations/<key>.json`. Each expectation's `meta` says how bad a failure is
(`error`: the row is quarantined; `warning`: the value is treated as blank) and how to tell an office
worker what to fix; it stays here, and GX is handed the expectations without it (see `Suite`). The
few checks GX has no cheap expectation for (a value that repeats an earlier row; an ID that is not
among the valid IDs of another tab, a value set GX would copy for every check) are computed here as
derived columns, named in the suite's `meta.derived`, and checked by an expectation of that suite.

Cell-reading errors were listed by the parser; their rows are quarantined here too, but a cell that
could not be read is not reported a second time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from string import Formatter
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult

# GX's own class behind `ValidationDefinition.run` and `Batch.validate`, imported from its module (not
# part of GX's public API): the public way costs 15-50 % more validation time (docs/validation.md).
# Pinned with great-expectations==1.24.1 (an upgrade that moves it fails every validation test at import).
from great_expectations.validator.v1_validator import Validator

from coaching.contract import QUARTER_PATTERN, TABS, TABS_BY_KEY, Column, Kind, Tab
from coaching.recipients import address_problem
from coaching.records import CheckedRecords, DataIssue, ParsedTab, ParsedWorkbook, Severity

SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"

# Tabs whose valid IDs other tabs are checked against: key -> (name in `meta.derived`, ID column).
# TABS lists them first, so their valid rows are known before a tab that refers to them.
ID_SOURCES = {
    "programs": ("valid_program_ids", "program_id"),
    "staff": ("valid_staff_ids", "staff_id"),
}
# Each tab is validated in two passes: every expectation for whether it holds (GX's BOOLEAN_ONLY: about
# half of its work per expectation), then only the ones that failed for the rows that break them.
PASS_OR_FAIL: dict[str, object] = {"result_format": "BOOLEAN_ONLY"}
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["row"],
    # Row numbers only, as one list per expectation: the values are read from the frames below.
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}


def suite_definition(key: str) -> dict[str, Any]:
    """The suite of one tab as GX's JSON: the column rules generated from the contract (a column that
    must be filled in, a closed list of choices, a quarter, an email address), then the rules
    between cells and rows kept in `expectations/<key>.json`. Each fact lives in one place; the
    JSON's `meta.blank` holds only the words for a blank cell of each column that must be filled."""
    with open(SUITES_DIR / f"{key}.json", encoding="utf-8") as f:
        stored = json.load(f)
    blank = stored["meta"].get("blank", {})
    generated = [rule for column in TABS_BY_KEY[key].columns for rule in _column_rules(column, blank)]
    derived, pointers = _pointer_rules(key, stored["meta"].get("derived", {}))
    meta = {**stored["meta"], "derived": derived}
    return {**stored, "meta": meta, "expectations": generated + stored["expectations"] + pointers}


def _pointer_rules(
    key: str, derived: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """For each ID checked against another tab, the rule that points at the row there when the ID
    is on a row with an error: one message for one cause, never "not on the tab: add it" (which
    would make someone add the person twice)."""
    derived = dict(derived)
    rules = []
    for recipe in list(derived.values()):
        if "unknown" not in recipe:
            continue
        column = recipe["unknown"]
        name = f"{column}_row_in_error"
        derived[name] = {"in_error": column, "among": recipe["among"]}
        label = TABS_BY_KEY[key].column(column).label
        rule = _rule(
            "expect_column_values_to_be_null",
            name,
            "error",
            f"{label} '{{value}}' is on {{cause_tab}} row {{found}}, which has an error: fix that row first",
        )
        rule["meta"].update(column=column, cause=recipe["among"])
        rules.append(rule)
    return derived, rules


def _column_rules(column: Column, blank: dict[str, str]) -> list[dict[str, Any]]:
    rules = []
    if column.filled:
        problem = blank.get(column.name) or f"The {column.label} cell is blank; fill it in"
        rules.append(_rule("expect_column_values_to_not_be_null", column.name, "error", problem))
    if column.choices:
        allowed = ", ".join(choice.replace("_", " ") for choice in column.choices)
        rules.append(
            _rule(
                "expect_column_values_to_be_in_set",
                column.name,
                "error",
                f"'{{value}}' is not a valid {column.label.lower()}; use one of: {allowed}",
                value_set=list(column.choices),
            )
        )
    if column.kind is Kind.QUARTER:
        rules.append(
            _rule(
                "expect_column_values_to_match_regex",
                column.name,
                "error",
                "'{value}' is not a quarter; write it as YYYY-Qn, like 2026-Q3",
                regex=QUARTER_PATTERN,
            )
        )
    if column.kind is Kind.EMAIL:
        # Checked by the rule that sending applies (see with_address_problems).
        rule = _rule(
            "expect_column_values_to_be_null",
            _address_problem(column.name),
            "warning",
            "'{value}' does not look like an email address (like name@agency.org); it is ignored until it is corrected",
        )
        rule["meta"]["column"] = column.name
        rules.append(rule)
    return rules


def _address_problem(column: str) -> str:
    """The derived column that says why an address in `column` could not receive email."""
    return f"{column}_address_problem"


def _rule(kind: str, column: str, severity: str, problem: str, **kwargs: object) -> dict[str, Any]:
    return {"type": kind, "kwargs": {"column": column, **kwargs}, "meta": {"severity": severity, "problem": problem}}


@dataclass(frozen=True)
class Suite:
    """One tab's suite (see `suite_definition`) as GX runs it, and the rest of it, which stays here.

    GX gets each expectation with only its position in the suite as its `meta` (`{"rule": n}`): GX
    rebuilds an expectation's configuration from its model, `meta` included (copied and checked as
    JSON), about 37 times per expectation validated, and never reads `meta`. Each result is mapped
    back to its rule's `meta` by that position (GX returns the results grouped by column, not in the
    suite's order, and a suite stored in a GX context gets new expectation ids)."""

    checks: gx.ExpectationSuite
    meta: list[dict[str, Any]]  # each expectation's `meta`, in the suite's order
    derived: dict[str, dict[str, Any]]  # the suite's `meta.derived`


def load_suite(key: str) -> Suite:
    """The suite of one tab (see `suite_definition` and `Suite`)."""
    definition = suite_definition(key)
    checks = [
        {**{field: value for field, value in rule.items() if field != "meta"}, "meta": {"rule": position}}
        for position, rule in enumerate(definition["expectations"])
    ]
    return Suite(
        checks=gx.ExpectationSuite(name=definition["name"], expectations=checks),
        meta=[rule.get("meta", {}) for rule in definition["expectations"]],
        derived=definition["meta"].get("derived", {}),
    )


@dataclass(frozen=True)
class KnownIds:
    """The IDs of one tab that others refer to: those of its valid rows, and the first row of each
    ID whose rows all have errors (to point at, as the cause)."""

    title: str
    valid: pd.Series
    in_error: pd.Series  # ID -> sheet row


def validate_records(parsed: ParsedWorkbook, run_date: dt.date) -> CheckedRecords:
    """Run every tab's suite; quarantine rows with errors, blank values with warnings.

    Whether the errors are too many for a report is a question about one quarter: see
    `coaching.quality.blocking_reasons`.
    """
    run = suite_runner()
    parameters: dict[str, object] = {"run_date": pd.Timestamp(run_date)}
    known: dict[str, KnownIds] = {}
    valid: dict[str, pd.DataFrame] = {}
    issues: list[DataIssue] = []
    for spec in TABS:
        tab = parsed.tabs[spec.key]
        parse_issues = [issue for issue in parsed.issues if issue.tab == tab.title]
        if spec.key in NAMES_READ_AS_IDS:
            tab, name_issues = _names_read_as_ids(tab, NAMES_READ_AS_IDS[spec.key], valid)
            parse_issues += name_issues
            issues += name_issues
        rule_issues = _check_tab(run, tab, load_suite(spec.key), parameters, known, run_date)
        rule_issues = _without_unreadable_cells(rule_issues, parse_issues)
        valid[spec.key] = _valid_rows(tab, parse_issues + rule_issues)
        issues += rule_issues
        if spec.key in ID_SOURCES:
            name, column = ID_SOURCES[spec.key]
            ids = valid[spec.key][column].dropna()
            errored = tab.frame.loc[~tab.frame.index.isin(valid[spec.key].index), column].dropna()
            errored = errored[~errored.isin(ids)]
            known[name] = KnownIds(
                tab.title, ids, pd.Series(errored.index, index=errored.to_numpy()).groupby(level=0).first()
            )
    rows_read = {key: len(parsed.tabs[key].frame) for key in valid}
    rows_quarantined = {key: rows_read[key] - len(valid[key]) for key in valid}
    return CheckedRecords(
        valid=valid,
        issues=in_sheet_order(parsed, parsed.issues + issues),
        rows_read=rows_read,
        rows_quarantined=rows_quarantined,
        titles={key: parsed.tabs[key].title for key in valid},
        absent=dict(parsed.absent),
    )


# Tabs where an ID column may hold the name of what it refers to (a Google Forms dropdown shows
# names): key -> (column, tab referred to, its ID column, its name column).
NAMES_READ_AS_IDS = {"satisfaction": ("program_id", "programs", "program_id", "program_name")}


def _names_read_as_ids(
    tab: ParsedTab, reference: tuple[str, str, str, str], valid: dict[str, pd.DataFrame]
) -> tuple[ParsedTab, list[DataIssue]]:
    """The tab with each name that is not an ID read as the ID of the one valid row of that name; a
    name that several rows share is an error on its row (the value is left blank)."""
    column, other, id_column, name_column = reference
    table = valid[other]
    names = table[name_column].str.strip().str.casefold()
    ids_by_name = table[id_column].groupby(names.to_numpy()).agg(lambda ids: sorted(set(ids)))
    values = tab.frame[column]
    by_name = values[values.notna() & ~values.isin(table[id_column])].str.strip().str.casefold()
    matched = by_name.map(ids_by_name).dropna()
    if matched.empty:
        return tab, []
    single = matched[matched.map(len).eq(1)]
    several = matched[matched.map(len).gt(1)]
    frame = tab.frame.copy()
    frame.loc[single.index, column] = single.map(lambda ids: ids[0]).astype("string")
    frame.loc[several.index, column] = pd.NA
    header = tab.headers.get(column, column)
    letter = tab.letters.get(column, "")
    issues = [
        DataIssue(
            tab.title,
            row,
            header,
            name,
            f"'{name}' is the name of {len(ids)} programs ({', '.join(ids)}): write the program's ID instead, "
            "or give the programs different names",
            Severity.ERROR,
            f"{letter}{row}",
        )
        for row, ids in zip(several.index.astype(int).tolist(), several.tolist())
        for name in [str(tab.text.at[row, column])]
    ]
    return replace(tab, frame=frame), issues


# Validates one frame: by a suite, with a result format (see PASS_OR_FAIL), and the expectation parameters.
FrameCheck = Callable[[gx.ExpectationSuite, dict[str, object]], ExpectationSuiteValidationResult]
SuiteRunner = Callable[[pd.DataFrame, dict[str, object]], FrameCheck]


def suite_runner() -> SuiteRunner:
    """A fresh in-memory GX context for one validation run, without progress bars or chatter, and
    how it validates one frame: the validator a validation definition would build, built directly
    (GX's public `ValidationDefinition.run` also stores the suite, itself and its result in the
    context first, and builds a validator and its batch for every run: docs/validation.md). One
    validator serves both passes over a frame: GX builds the batch (and hashes the frame) once."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    # GX reads this setting as a mapping; its ProgressBarsConfig type is not part of GX's public API.
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    # One asset for every tab: each frame is handed over as the batch's parameter. GX saves its whole
    # configuration on every asset added, which cost a tenth of a validation with one asset per tab.
    rows = context.data_sources.add_pandas("coaching_records").add_dataframe_asset("tab")
    batch_definition = rows.add_batch_definition_whole_dataframe("all rows")

    def run(checked: pd.DataFrame, parameters: dict[str, object]) -> FrameCheck:
        validator = Validator(batch_definition, batch_parameters={"dataframe": checked})

        def check(suite: gx.ExpectationSuite, result_format: dict[str, object]) -> ExpectationSuiteValidationResult:
            validator.result_format = result_format  # read by each validation (a public attribute)
            return validator.validate_expectation_suite(suite, expectation_parameters=parameters)

        return check

    return run


def _check_tab(
    run: SuiteRunner,
    tab: ParsedTab,
    suite: Suite,
    parameters: dict[str, object],
    known: dict[str, KnownIds],
    run_date: dt.date,
) -> list[DataIssue]:
    """One batch: the tab's frame plus its derived columns, validated by its suite (see PASS_OR_FAIL)."""
    checked = with_address_problems(_with_derived_columns(tab.frame, suite.derived, known), tab.spec)
    check = run(checked, parameters)
    results = check(suite.checks, PASS_OR_FAIL).results
    # Broken by a row, or could not run (then _issues_from says so).
    failed = [result.expectation_config for result in results if not result.success and result.expectation_config]
    if not failed:
        return []
    outcome = check(gx.ExpectationSuite(name=f"{suite.checks.name}: failed", expectations=failed), RESULT_FORMAT)
    return _issues_from(outcome, tab, checked, run_date, suite, known)


def _visible(text: str) -> str:
    """The text without invisible characters: zero-width and other format characters, control
    characters and spaces of any kind (all arrive by copy and paste)."""
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc"))


def _near_key(identifier: str) -> str:
    """What an ID reads as once the characters that slip in by accident are gone: invisible
    characters, a leading apostrophe, capital letters, and (for a number) leading zeros."""
    key = _visible(identifier).lstrip("'").casefold()
    return key.lstrip("0") or "0" if key.isdigit() and key.isascii() else key


def _has_invisible(text: str) -> bool:
    """Whether the text holds a character that shows as nothing, or as a space without being the
    ordinary one: an ordinary space between words is as visible as a letter ('Staff 12')."""
    return any(ch != " " and (ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc")) for ch in text)


def _pasted(identifier: str) -> bool:
    return _has_invisible(identifier) or identifier.startswith("'")


def _near_reason(value: str, known: str) -> str:
    """Why `value` is not `known` although they are near, and what to do about it."""
    if _has_invisible(value):
        return (
            "The cell holds invisible characters (often pasted from another program): delete the cell's "
            "content and type the ID again"
        )
    if value.startswith("'"):
        return (
            "The cell holds an apostrophe before the ID: delete the apostrophe (to keep leading zeros, "
            "format the column as Plain text instead)"
        )
    if _pasted(known):
        return (
            "The other tab holds that ID with an apostrophe or invisible characters: type the ID again "
            "there, without them"
        )
    if value.isdigit() and value.isascii() and known.isdigit():
        return (
            "Format the column as Plain text (Sheets: Format → Number → Plain text; Excel: Format Cells → "
            "Text) so leading zeros stay, then type the ID again"
        )
    # What is left to differ: ordinary spaces (matched loosely, not invisible) and capital letters.
    differences = [
        kind
        for kind, differs in (
            ("spaces", value.casefold() != known.casefold()),
            ("capital letters", value.replace(" ", "") != known.replace(" ", "")),
        )
        if differs
    ]
    return f"IDs are matched exactly, {' and '.join(differences)} included: write it as '{known}'"


def _with_id_suggestions(issues: list[DataIssue], known: pd.Series) -> list[DataIssue]:
    """An unknown ID that is a known one but for its leading zeros (Excel and Sheets turn 00202
    typed in a number column into 202), invisible characters, a leading apostrophe or capital
    letters says which it is."""
    by_key: dict[str, list[str]] = {}
    for identifier in set(known):
        by_key.setdefault(_near_key(identifier), []).append(identifier)
    suggested = []
    for issue in issues:
        near = by_key.get(_near_key(issue.value), []) if issue.value else []
        if len(near) == 1:
            head = issue.problem.split("; ", 1)[0]
            issue = replace(issue, problem=f"{head}; did you mean '{near[0]}'? {_near_reason(issue.value, near[0])}")
        suggested.append(issue)
    return suggested


def _with_derived_columns(
    frame: pd.DataFrame, derived: dict[str, dict[str, Any]], known: dict[str, KnownIds]
) -> pd.DataFrame:
    """A copy of the frame with the suite's derived columns added.

    `{"repeats": [columns]}`: the sheet row where the same values first appear, on every later
    row that repeats them (blank elsewhere, and where any of the values is blank); with
    `"ignore_case": true`, text is compared without regard to capitals and surrounding spaces.
    `{"unknown": column, "among": ids}`: true where the column is filled but neither among the valid
    IDs of `known[ids]` nor on one of its rows in error (blank elsewhere).
    `{"in_error": column, "among": ids}`: the sheet row in error of `known[ids]` that holds the
    column's ID, where no valid row holds it (blank elsewhere).
    `{"near": column}`: "'ID' on row N" where an earlier row holds an ID that differs from this one
    only by invisible characters, a leading apostrophe, capitals or leading zeros (blank elsewhere).
    `{"pasted": column}`: true where the ID holds invisible characters or starts with an apostrophe.
    """
    checked = frame.copy()
    for name, recipe in derived.items():
        if "repeats" in recipe:
            keys = list(recipe["repeats"])
            grouped = checked[keys].copy()
            if recipe.get("ignore_case"):
                for key in keys:
                    if pd.api.types.is_string_dtype(grouped[key]):
                        grouped[key] = grouped[key].str.strip().str.casefold()
            grouped["row"] = checked["row"]
            first = grouped.groupby(keys, dropna=True, sort=False)["row"].transform("first")
            checked[name] = first.where(first.ne(checked["row"])).astype("Int64")
        elif "near" in recipe:
            values = checked[recipe["near"]]
            keys = values.dropna().map(_near_key)
            first = pd.DataFrame({"key": keys, "row": checked["row"]}).dropna().groupby("key")["row"].first()
            first_row = keys.map(first)
            first_id = first_row.map(dict(zip(checked["row"], values)))
            differs = first_row.ne(checked["row"].reindex(keys.index)) & first_id.ne(values.reindex(keys.index))
            checked[name] = (
                ("'" + first_id[differs].astype(str) + "' on row " + first_row[differs].astype(str))
                .reindex(checked.index)
                .astype("string")
            )
        elif "pasted" in recipe:
            values = checked[recipe["pasted"]].dropna()
            pasted = pd.Series([_pasted(v) for v in values], index=values.index, dtype=bool).reindex(
                checked.index, fill_value=False
            )
            checked[name] = pasted.astype("boolean").mask(~pasted)
        else:
            ids = known[recipe["among"]]
            values = checked[recipe.get("unknown") or recipe["in_error"]]
            elsewhere = values.notna() & ~values.isin(ids.valid)
            if "unknown" in recipe:
                unknown = elsewhere & ~values.isin(ids.in_error.index)
                checked[name] = unknown.astype("boolean").mask(~unknown)
            else:
                checked[name] = values.where(elsewhere).map(ids.in_error).astype("Int64")
    # GX compares datetime64[ns] columns vectorised and any other resolution one value at a time.
    for name in checked.columns:
        if pd.api.types.is_datetime64_dtype(checked[name]) and checked[name].dtype != "datetime64[ns]":
            checked[name] = checked[name].astype("datetime64[ns]")
    return checked


def with_address_problems(checked: pd.DataFrame, spec: Tab) -> pd.DataFrame:
    """For each email column, why each filled address could not receive email (blank where it can), by
    the one rule that sending applies (coaching/recipients.py): an address the sheet accepts is never
    refused when the email goes out."""
    for column in spec.columns:
        if column.kind is Kind.EMAIL:
            values = checked[column.name]
            problems = {address: address_problem(address) for address in values.dropna().unique()}
            checked[_address_problem(column.name)] = values.map(problems)
    return checked


def _issues_from(
    outcome: ExpectationSuiteValidationResult,
    tab: ParsedTab,
    checked: pd.DataFrame,
    run_date: dt.date,
    suite: Suite,
    known: dict[str, KnownIds],
) -> list[DataIssue]:
    issues: list[DataIssue] = []
    for result in outcome.results:
        config = result.expectation_config
        assert config is not None, "GX returns each result with the expectation it checked"
        if "unexpected_index_list" not in result.result:
            # A rule that could not run must stop the run, not pass silently.
            raise RuntimeError(
                f"The check {config.type} on tab '{tab.title}' could not run: "
                f"{result.exception_info.get('exception_message', result.exception_info)}"
            )
        if not result.result["unexpected_index_list"]:
            continue
        rows = list(result.result["unexpected_index_list"][0]["row"])
        checked_column = config.kwargs.get("column") or config.kwargs["column_A"]
        meta = suite.meta[config.meta["rule"]]
        column = meta.get("column", checked_column)
        cause = known[meta["cause"]].title if "cause" in meta else None
        lines = _issue_lines(
            tab,
            rows,
            column,
            found=checked.loc[rows, checked_column],
            problem=meta["problem"],
            severity=Severity(meta["severity"]),
            run_date=run_date,
            cause_tab=cause,
        )
        if meta.get("keeps_value"):
            lines = [replace(line, keeps_value=True) for line in lines]
        recipe = suite.derived.get(checked_column, {})
        if "unknown" in recipe:
            lines = _with_id_suggestions(lines, known[recipe["among"]].valid)
        issues += lines
    return issues


def _issue_lines(
    tab: ParsedTab,
    rows: list[int],
    column: str,
    found: pd.Series,
    problem: str,
    severity: Severity,
    run_date: dt.date,
    cause_tab: str | None = None,
) -> list[DataIssue]:
    """One DataIssue per failing row, the problem worded with that row's cells as the sheet shows them.
    With `cause_tab`, `found` is the row of that tab the issue follows from."""
    header = tab.headers.get(column, column)
    letter = tab.letters.get(column, "")
    # Only the cells the problem mentions: a tab may have many issues of one kind.
    named = {name for _, name, _, _ in Formatter().parse(problem) if name}
    shown = tab.text.loc[rows, [column, *sorted(named & set(tab.text.columns) - {column})]]
    values = found.astype("string").fillna("") if "found" in named else [""] * len(rows)
    return [
        DataIssue(
            tab=tab.title,
            row=int(row),
            column=header,
            value=cells[column],
            problem=problem.format_map(
                {
                    **{str(name): text for name, text in cells.items()},
                    "value": cells[column],
                    "found": value,
                    "run_date": run_date.isoformat(),
                    "cause_tab": cause_tab or "",
                }
            ),
            severity=severity,
            cell=f"{letter}{row}" if letter else "",
            cause=(cause_tab, int(value)) if cause_tab else None,
        )
        for row, cells, value in zip(rows, shown.to_dict("records"), values)
    ]


def _without_unreadable_cells(rule_issues: list[DataIssue], parse_issues: list[DataIssue]) -> list[DataIssue]:
    """Drop a rule's complaint about a cell the parser already reported (it is blank only because
    it could not be read)."""
    unreadable = {(i.row, i.column) for i in parse_issues if i.severity is Severity.ERROR}
    return [i for i in rule_issues if (i.row, i.column) not in unreadable]


def _valid_rows(tab: ParsedTab, issues: list[DataIssue]) -> pd.DataFrame:
    """The tab without rows that have an error, and with warned-about values blanked."""
    errors = {i.row for i in issues if i.severity is Severity.ERROR and i.row is not None}
    frame = tab.frame[~tab.frame.index.isin(errors)].copy()
    column_by_header = {tab.headers.get(c, c): c for c in tab.spec.column_names}
    warned: dict[str, list[int]] = {}
    for issue in issues:
        if issue.keeps_value:
            continue
        if issue.severity is Severity.WARNING and issue.row is not None and issue.column in column_by_header:
            warned.setdefault(column_by_header[issue.column], []).append(issue.row)
    for column, rows in warned.items():
        frame[column] = frame[column].mask(frame.index.isin(rows))
    return frame


def in_sheet_order(parsed: ParsedWorkbook, issues: list[DataIssue]) -> list[DataIssue]:
    """By tab (contract order), then sheet row (tab-level notes first), then column (contract
    order), then problem."""
    tab_rank: dict[str, int] = {}
    column_rank: dict[tuple[str, str], int] = {}
    for position, spec in enumerate(TABS):
        tab = parsed.tabs[spec.key]
        tab_rank[tab.title] = position
        for rank, name in enumerate(spec.column_names):
            column_rank[(tab.title, name)] = rank
            column_rank[(tab.title, tab.headers.get(name, name))] = rank

    def key(issue: DataIssue) -> tuple[int, int, int, str]:
        return (
            tab_rank.get(issue.tab, len(TABS)),
            issue.row or 0,
            column_rank.get((issue.tab, issue.column), -1),
            issue.problem,
        )

    return sorted(issues, key=key)
