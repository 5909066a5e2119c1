"""For a flow run that several tests of one file observe: a module-scoped fixture makes it once, in
the environment each test's own run would have had, and returns what the tests look at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.environment import without_pipeline_settings


@contextmanager
def settings_of_a_test(state_dir: Path) -> Iterator[pytest.MonkeyPatch]:
    """The settings a test's own run gets (tests/conftest.py, tests/flows/conftest.py): none from the
    developer's environment, a delivery ledger of its own in `state_dir`. A module-scoped fixture is
    set up before those function-scoped ones, so it sets them itself; all undone when the block ends."""
    with pytest.MonkeyPatch.context() as environment:
        without_pipeline_settings(environment)
        environment.setenv("COACHING_STATE_DIR", str(state_dir))
        yield environment
