"""What an admin sees of a run in the Prefect UI without opening files."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

import pandas as pd


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    # JSON-friendly cells: blanks as empty strings, numbers as numbers.
    return frame.astype(object).where(frame.notna(), "").to_dict(orient="records")


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(
    key_prefix: str, summary: str, scorecard: pd.DataFrame, data_quality: pd.DataFrame
) -> None:
    create_markdown_artifact(key=f"{key_prefix}-summary", markdown=summary, description="Headline and recommendations")
    create_table_artifact(key=f"{key_prefix}-scorecard", table=_records(scorecard), description="Scorecard")
    create_table_artifact(
        key=f"{key_prefix}-data-quality", table=_records(data_quality), description="Data-quality errors and warnings"
    )
