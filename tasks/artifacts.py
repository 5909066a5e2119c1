"""What an admin sees of a run in the Prefect UI without opening files.

Plain functions, not tasks: called from the flow, the artifacts belong to the flow run (its
Artifacts tab), not to a task run inside it.
"""

from __future__ import annotations

import re

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    # JSON-friendly cells: blanks as empty strings, numbers as numbers.
    return frame.astype(object).where(frame.notna(), "").to_dict(orient="records")


def readable_title(column: str) -> str:
    """A column name as a table heading: "bp1_accountability" -> "BP1 Accountability",
    "monthly_coverage" -> "Monthly Coverage", "program_id" -> "Program ID"."""
    words = column.split("_")
    return " ".join(word.upper() if re.fullmatch(r"bp\d|id", word) else word.capitalize() for word in words)


def publish_markdown(key: str, markdown: str, description: str) -> None:
    """Markdown built with coaching.report.summary.escape_markdown around any text from the sheets."""
    create_markdown_artifact(key=key, markdown=markdown, description=description)


def publish_table(key: str, frame: pd.DataFrame, description: str) -> None:
    create_table_artifact(key=key, table=_records(frame), description=description)
