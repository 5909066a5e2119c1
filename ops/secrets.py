"""Save the pipeline's secrets and its report recipients in Prefect, from environment values.

    export PREFECT_API_URL=http://127.0.0.1:4200/api        # the server (python -m ops.stack up)
    export SENDGRID_API_KEY=SG....                           # -> Secret block sendgrid-api-key
    export GOOGLE_APPLICATION_CREDENTIALS=/path/key.json     # -> Secret block google-service-account
    export COACHING_REPORT_RECIPIENTS=director@agency.gov    # -> Variable report-recipients
    python -m ops.secrets

Each value that is set is created or replaced; the others are left as they are. The block names
are the settings `sendgrid_secret_block` and `google_secret_block`. No value is ever printed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from adapters.google_sheets import load_service_account_info
from coaching.recipients import check_recipients
from coaching.records import UsageError
from config.settings import Settings, load_settings
from config.wiring import REPORT_RECIPIENTS_VARIABLE
from flows.cli import run_command

RECIPIENTS_ENV = "COACHING_REPORT_RECIPIENTS"


def _require_server() -> None:
    """Without a server address Prefect would save into a throw-away temporary server."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise UsageError(
            "No Prefect server to save into: set PREFECT_API_URL (python -m ops.stack up prints it, "
            "e.g. http://127.0.0.1:4200/api)."
        )


def save_to_prefect(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Create or replace the Secret blocks and the recipients Variable whose value is configured in
    the environment; one line per item saying what was done (never a value)."""
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    done: list[str] = []
    if settings.sendgrid_api_key is not None:
        Secret(value=settings.sendgrid_api_key.get_secret_value()).save(settings.sendgrid_secret_block, overwrite=True)
        done.append(f"Secret block '{settings.sendgrid_secret_block}' saved from SENDGRID_API_KEY.")
    if settings.google_credentials_file is not None:
        load_service_account_info(path=settings.google_credentials_file)  # refuses a broken key, naming the file
        text = settings.google_credentials_file.read_text(encoding="utf-8")
        Secret(value=text).save(settings.google_secret_block, overwrite=True)
        done.append(f"Secret block '{settings.google_secret_block}' saved from {settings.google_credentials_file}.")
    if environ.get(RECIPIENTS_ENV, "").strip():
        recipients = list(check_recipients(settings.report_recipients, settings.allowed_recipient_domains))
        Variable.set(REPORT_RECIPIENTS_VARIABLE, recipients, overwrite=True)
        done.append(f"Variable '{REPORT_RECIPIENTS_VARIABLE}' set from {RECIPIENTS_ENV}: {', '.join(recipients)}.")
    if not done:
        raise UsageError(
            "Nothing to save: set SENDGRID_API_KEY, GOOGLE_APPLICATION_CREDENTIALS (a key file) or "
            f"{RECIPIENTS_ENV} (comma-separated addresses)."
        )
    return done


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m ops.secrets",
        description="Save the SendGrid key, the Google key and the report "
        "recipients from environment values into Prefect (Secret blocks and a Variable).",
    ).parse_args(argv)

    def run() -> None:
        _require_server()
        settings = load_settings()
        for line in save_to_prefect(settings, os.environ):
            print(line)

    return run_command(run)


if __name__ == "__main__":
    raise SystemExit(main())
