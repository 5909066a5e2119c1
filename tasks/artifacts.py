"""What an admin sees of a run in the Prefect UI without opening files."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    # JSON-friendly cells: blanks as empty strings, numbers as numbers.
    return frame.astype(object).where(frame.notna(), "").to_dict(orient="records")


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    """Markdown built with coaching.report.summary.escape_markdown around any text from the sheets."""
    create_markdown_artifact(key=key, markdown=markdown, description=description)


@task(name="publish-table", cache_policy=NO_CACHE)
def publish_table(key: str, frame: pd.DataFrame, description: str) -> None:
    create_table_artifact(key=key, table=_records(frame), description=description)
