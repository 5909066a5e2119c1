"""What the tests keep out of the environment they run the pipeline in."""

from __future__ import annotations

import os

import pytest

# The pipeline's settings and keys as a developer's shell may hold them.
PIPELINE_SECRETS = ("SENDGRID_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS")


def without_pipeline_settings(environment: pytest.MonkeyPatch) -> None:
    """Remove every COACHING_… setting and the keys from the environment, until `environment` undoes it."""
    for name in list(os.environ):
        if name.startswith("COACHING_") or name in PIPELINE_SECRETS:
            environment.delenv(name)
