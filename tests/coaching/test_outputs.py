"""The run's CSV files: the contract's columns, and nothing a spreadsheet would run as a formula."""

import io

import pandas as pd

from coaching.outputs import csv_bytes, data_quality_frame, scorecard_frame
from coaching.quarters import Quarter
from coaching.records import DataIssue, Severity
from coaching.scoring import SCORECARD_COLUMNS, Targets, score_quarter
from tests.coaching.workbooks import lead, practitioner, program_frames, session


def test_text_that_looks_like_a_formula_is_written_as_text():
    frame = pd.DataFrame({"value": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "plain"], "n": [1, 2, 3, 4, 5]})
    written = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    assert written["value"].tolist() == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "plain"]
    assert written["n"].tolist() == [1, 2, 3, 4, 5]


def test_the_scorecard_has_the_contract_columns_first_and_rates_to_four_decimals():
    frames = program_frames(
        [lead(), practitioner("A"), practitioner("B"), practitioner("C")],
        [session("A", "7/15/2026"), session("B", "8/15/2026")],
    )
    card = scorecard_frame(score_quarter(frames, Quarter.parse("2026-Q3"), Targets()))
    written = pd.read_csv(io.BytesIO(csv_bytes(card)), dtype=str, keep_default_na=False)
    assert list(written.columns[: len(SCORECARD_COLUMNS)]) == SCORECARD_COLUMNS
    rates = written.set_index("program_id")[["monthly_coverage", "multi_source_rate"]]
    assert rates.loc["P1"].tolist() == ["0.2222", "1.0000"]
    assert rates.loc["P2"].tolist() == ["", ""]  # nothing to divide: blank, not 0


def test_the_data_quality_file_has_tab_row_column_value_problem_severity():
    issue = DataIssue("Staff", 7, "Email", "=cmd", "does not look like an email", Severity.WARNING, "C7")
    written = pd.read_csv(io.BytesIO(csv_bytes(data_quality_frame([issue]))))
    assert list(written.columns[:6]) == ["tab", "row", "column", "value", "problem", "severity"]
    assert written.iloc[0][["tab", "row", "value", "severity"]].tolist() == ["Staff", 7, "'=cmd", "warning"]
