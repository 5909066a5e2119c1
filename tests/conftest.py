"""Shared test set-up: no telemetry, no settings leaking in from the developer's environment."""

import os

# Before anything imports Prefect (it reads these once, at import).
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_coaching_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("COACHING_") or name in ("SENDGRID_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
            monkeypatch.delenv(name)
