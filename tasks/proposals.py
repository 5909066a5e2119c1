"""Writing the quarter's recommendations back to the spreadsheet as proposals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from adapters.sources import ProposalWriter


@task(name="write-back-proposals", cache_policy=NO_CACHE)
def write_back_proposals(writer: ProposalWriter, tab_title: str, proposals: Sequence[Mapping[str, object]]) -> int:
    return writer.append_proposals(tab_title, proposals)
