"""The plain-pandas floor: the same validation and scoring as the pipeline, as little code as
possible; and parsing, the plain pandas way, for a sheet without a single messy cell.

Not product code. It tells how fast the work could be with straight pandas on the same typed
frames, so that the benchmark can say what Great Expectations and the scoring's evidence cost on
top. It applies the same rules (the suites' JSON, read here without GX) and computes the same four
scores, and the benchmark checks that both agree with the pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coaching.contract import DECIDED_STATUSES, TABS, Kind, normalise
from coaching.parsing import SHEETS_EPOCH
from coaching.quarters import Quarter
from coaching.records import ParsedWorkbook, RawWorkbook, Severity
from coaching.scoring import Targets
from coaching.validation import ID_SOURCES, suite_definition, with_address_problems

BP = ["bp1_accountability", "bp2_coaching_delivery", "bp3_service_plan", "bp4_effectiveness_review"]


def _failing(frame: pd.DataFrame, rule: dict, parameters: Mapping[str, object]) -> pd.Series:
    """The rows one expectation of a suite fails, in pandas."""
    kw = {k: parameters[v["$PARAMETER"]] if isinstance(v, dict) else v for k, v in rule["kwargs"].items()}
    kind = rule["type"].removeprefix("expect_column_")
    if kind == "pair_values_a_to_be_greater_than_b":
        a, b = frame[kw["column_A"]], frame[kw["column_B"]]
        return a.notna() & b.notna() & ~(a.ge(b) if kw.get("or_equal") else a.gt(b))
    values = frame[kw["column"]]
    if kind == "values_to_not_be_null":
        return values.isna()
    if kind == "values_to_be_null":
        return values.notna()
    if kind == "values_to_be_in_set":
        return values.notna() & ~values.isin(kw["value_set"])
    if kind == "values_to_match_regex":
        return values.notna() & ~values.str.match(kw["regex"]).fillna(False).astype(bool)
    if kind == "values_to_be_between":
        outside = pd.Series(False, index=frame.index)
        if kw.get("min_value") is not None:
            outside |= values.le(kw["min_value"]) if kw.get("strict_min") else values.lt(kw["min_value"])
        if kw.get("max_value") is not None:
            outside |= values.gt(kw["max_value"])
        return values.notna() & outside
    raise ValueError(f"no floor for {rule['type']}")


def floor_validate(parsed: ParsedWorkbook, run_date: dt.date) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Valid rows per tab, and one (tab, row, column, severity) line per failed rule."""
    parameters: dict[str, object] = {"run_date": pd.Timestamp(run_date)}
    valid: dict[str, pd.DataFrame] = {}
    lines: list[pd.DataFrame] = []
    unreadable = pd.DataFrame(
        [(i.tab, i.row) for i in parsed.issues if i.severity is Severity.ERROR and i.row is not None],
        columns=["tab", "row"],
    )
    for spec in TABS:
        tab = parsed.tabs[spec.key]
        suite = suite_definition(spec.key)
        frame = with_address_problems(tab.frame.copy(), spec)  # the sending rule, as the pipeline checks emails
        for name, recipe in suite["meta"].get("derived", {}).items():
            if "repeats" in recipe:
                keys = recipe["repeats"]
                frame[name] = frame["row"].where(frame.duplicated(keys) & frame[keys].notna().all(axis=1))
            elif "unknown" in recipe:  # an ID on no valid row: the floor does not tell a row in error apart
                ids = frame[recipe["unknown"]]
                frame[name] = ids.where(ids.notna() & ~ids.isin(parameters[recipe["among"]]))
            else:  # the pointer to a row in error, and the near-ID notes: said by "unknown", or kept-value notes
                frame[name] = pd.Series(pd.NA, index=frame.index, dtype="object")
        error = frame.index.isin(unreadable.loc[unreadable["tab"].eq(tab.title), "row"])
        warned: dict[str, pd.Series] = {}
        for rule in suite["expectations"]:
            failing = _failing(frame, rule, parameters)
            column = rule["meta"].get("column", rule["kwargs"].get("column") or rule["kwargs"].get("column_A"))
            lines.append(
                pd.DataFrame(
                    {
                        "tab": tab.title,
                        "row": frame.index[failing],
                        "column": column,
                        "severity": rule["meta"]["severity"],
                    }
                )
            )
            if rule["meta"]["severity"] == Severity.ERROR.value:
                error |= failing.to_numpy()
            elif not rule["meta"].get("keeps_value"):
                warned[column] = warned.get(column, False) | failing
        kept = tab.frame[~error].copy()
        for column, mask in warned.items():
            kept[column] = kept[column].mask(mask[~error])
        valid[spec.key] = kept
        if spec.key in ID_SOURCES:
            parameter, column = ID_SOURCES[spec.key]
            parameters[parameter] = kept[column].dropna().unique()
    return valid, pd.concat(lines, ignore_index=True)


def floor_scores(valid: Mapping[str, pd.DataFrame], quarters: Sequence[Quarter], targets: Targets) -> pd.DataFrame:
    """quarter, program_id and the four scores, with group-bys only."""
    programs, staff, log = valid["programs"], valid["staff"], valid["coaching_log"]
    plan, fidelity, survey, actions = (
        valid[k] for k in ("coaching_plan", "fidelity", "satisfaction", "improvement_actions")
    )
    # Best practice 3 does not depend on the quarter.
    components = plan[plan["documented"]].drop_duplicates(["program_id", "component"]).groupby("program_id").size()
    bp3 = programs["program_id"].map(components).fillna(0)
    bp3 = np.where(bp3 >= targets.plan_components, 2, np.where(bp3 >= 1, 1, 0))
    lead = programs[["program_id", "coaching_lead_id"]].merge(
        staff[["staff_id", "email", "start_date", "end_date"]],
        left_on="coaching_lead_id",
        right_on="staff_id",
        how="left",
    )
    coached = staff[staff["requires_coaching"]]
    cards = []
    for quarter in quarters:
        first, last = pd.Timestamp(quarter.start), pd.Timestamp(quarter.end)
        # 1. A lead active on the last day, with a valid email.
        ok = lead["start_date"].le(last) & (lead["end_date"].isna() | lead["end_date"].ge(last)) & lead["email"].notna()
        bp1 = np.where(lead["coaching_lead_id"].isna(), 0, np.where(ok, 2, 1))
        # 2. Covered ÷ eligible staff-months; multi-source share of the program's sessions.
        in_quarter = log[log["session_date"].between(first, last)]
        seen = pd.MultiIndex.from_arrays([in_quarter["staff_id"], in_quarter["session_date"].dt.month])
        eligible = pd.concat(
            [
                coached.loc[
                    coached["start_date"].le(m.end_time)
                    & (coached["end_date"].isna() | coached["end_date"].ge(m.start_time)),
                    ["program_id", "staff_id"],
                ].assign(month=m.month)
                for m in quarter.months
            ]
        )
        eligible["covered"] = pd.MultiIndex.from_frame(eligible[["staff_id", "month"]]).isin(seen)
        coverage = eligible.groupby("program_id")["covered"].mean()
        multi = in_quarter["direct_observation"] & in_quarter[
            ["reflection", "document_review", "stakeholder_interview"]
        ].any(axis=1)
        multi_rate = multi.groupby(in_quarter["program_id"]).mean()
        ids = programs["program_id"]
        bp2 = ids.map(coverage).ge(targets.monthly_coverage - 1e-9).astype(int) + ids.map(multi_rate).ge(
            targets.multi_source_rate - 1e-9
        ).astype(int)
        # 4. Effectiveness sources in the quarter; decided actions of the previous quarter.
        assessed = fidelity[fidelity["assessment_date"].between(first, last)]
        answered = survey[survey["timestamp"].ge(first) & survey["timestamp"].lt(last + pd.Timedelta(days=1))]
        sources = (
            ids.isin(assessed.loc[assessed["subject_type"].eq("practitioner"), "program_id"]).astype(int)
            + ids.isin(assessed.loc[assessed["subject_type"].eq("coach"), "program_id"]).astype(int)
            + ids.isin(answered["program_id"]).astype(int)
        )
        decided = actions[actions["quarter"].eq(quarter.previous.label) & actions["status"].isin(DECIDED_STATUSES)]
        acted = ids.isin(decided["program_id"])
        bp4 = np.where(sources.ge(targets.effectiveness_sources) & acted, 2, np.where(sources.ge(1), 1, 0))
        cards.append(
            pd.DataFrame(
                {
                    "quarter": quarter.label,
                    "program_id": ids.to_numpy(),
                    BP[0]: bp1,
                    BP[1]: bp2.to_numpy(),
                    BP[2]: bp3,
                    BP[3]: bp4,
                }
            )
        )
    return pd.concat(cards, ignore_index=True)


def floor_parse(raw: RawWorkbook) -> dict[str, pd.DataFrame]:
    """The floor of parsing: the typed frames of the contract's tabs the plain pandas way (the rows
    into one frame, one conversion per column), as if every cell already had its column's type (a
    perfectly clean sheet). It reads no text date, yes/no word or numeric text, and reports
    nothing, so parse ÷ this floor says what the reading rules and the error reports cost over
    plain pandas."""
    frames = {}
    for spec in TABS:
        tab = raw.tabs.get(spec.default_title)
        if tab is None or not tab.rows:
            continue
        grid = pd.DataFrame(tab.rows[1:], dtype=object)  # each cell as delivered: 1001 stays 1001
        grid = grid.mask(grid.eq(""))  # the API's blank cell in the middle of a row
        grid = grid.dropna(how="all")
        positions = {normalise(str(label)): at for at, label in enumerate(tab.rows[0]) if label is not None}
        columns = {}
        for column in spec.columns:
            if column.name not in positions:
                continue
            cells = grid[positions[column.name]] if positions[column.name] in grid else pd.Series(index=grid.index)
            if column.kind is Kind.BOOL:
                columns[column.name] = cells.fillna(False).astype(bool)
            elif column.kind in (Kind.DATE, Kind.DATETIME):
                days = pd.to_timedelta(pd.to_numeric(cells, errors="coerce"), unit="D")
                stamps = (SHEETS_EPOCH + days).dt.round("s")
                columns[column.name] = stamps.dt.normalize() if column.kind is Kind.DATE else stamps
            elif column.kind in (Kind.NUMBER, Kind.INTEGER):
                columns[column.name] = pd.to_numeric(cells, errors="coerce").astype("float64")
            elif column.kind is Kind.ENUM:
                columns[column.name] = cells.astype("string").str.strip().str.lower()
            else:
                columns[column.name] = cells.astype("string").str.strip()
        frames[spec.key] = pd.DataFrame(columns)
    return frames
