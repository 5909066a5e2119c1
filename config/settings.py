"""Settings: `config/settings.yaml`, overridden by environment variables (COACHING_…).

Secrets (the SendGrid key, the Google service-account JSON) are SecretStr and come only from the
environment or Prefect Secret blocks, never from the YAML file or a flow parameter.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from coaching import scoring
from coaching.contract import TABS
from coaching.records import ReadingOptions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_FILE = PROJECT_ROOT / "config" / "settings.yaml"

CommaList = Annotated[list[str], NoDecode]


_TITLES = {tab.key: tab.default_title for tab in TABS}  # the contract's titles are the defaults
_TARGETS = scoring.Targets()  # as are its targets


class TabTitles(BaseModel):
    programs: str = _TITLES["programs"]
    staff: str = _TITLES["staff"]
    coaching_log: str = _TITLES["coaching_log"]
    coaching_plan: str = _TITLES["coaching_plan"]
    fidelity: str = _TITLES["fidelity"]
    satisfaction: str = _TITLES["satisfaction"]
    improvement_actions: str = _TITLES["improvement_actions"]


# Per tab key, the sheet's own header of contract columns named otherwise, e.g. a Google Forms
# survey: {"satisfaction": {"program_id": "Which program are you in?"}}. A plain mapping, so that a
# per-agency setting merges over the shared one key by key.
ColumnMapping = dict[str, dict[str, str]]


def _check_column_mapping(value: ColumnMapping) -> ColumnMapping:
    """Every tab key and column of the mapping must be the contract's: a typo must not read as a
    mapping that silently maps nothing."""
    from coaching.contract import TABS_BY_KEY

    problems = []
    for key, mapping in value.items():
        if key not in TABS_BY_KEY:
            problems.append(f"'{key}' is not a tab (use one of {', '.join(TABS_BY_KEY)})")
            continue
        columns = TABS_BY_KEY[key].column_names
        problems += [
            f"'{key}.{name}' is not a column of that tab (use one of {', '.join(columns)})"
            for name in mapping
            if name not in columns
        ]
        headers = [header.strip().lower() for header in mapping.values()]
        problems += [
            f"'{key}': the header '{h}' is mapped to two columns" for h in sorted(set(headers)) if headers.count(h) > 1
        ]
    if problems:
        raise ValueError("; ".join(problems))
    return value


class Targets(BaseModel):
    monthly_coverage: float = Field(_TARGETS.monthly_coverage, ge=0, le=1)
    multi_source_rate: float = Field(_TARGETS.multi_source_rate, ge=0, le=1)
    plan_components: int = Field(_TARGETS.plan_components, ge=1, le=5)
    effectiveness_sources: int = Field(_TARGETS.effectiveness_sources, ge=1, le=3)


class Quality(BaseModel):
    max_error_share: float = Field(0.10, ge=0, le=1)
    min_log_volume_ratio: float = Field(0.5, ge=0, le=1)
    min_responses_per_coach: int = Field(3, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COACHING_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    organisation: str = "Our agency"
    source: str = str(PROJECT_ROOT / "data" / "sample_workbook.xlsx")
    state_dir: Path = Path(".coaching-state")
    timezone: str = "America/New_York"
    date_format: Literal["M/D/YYYY", "D/M/YYYY"] = "M/D/YYYY"
    fiscal_year_start_month: int = Field(1, ge=1, le=12)

    tabs: TabTitles = TabTitles()
    columns: ColumnMapping = {}
    targets: Targets = Targets()
    quality: Quality = Quality()

    email_backend: Literal["auto", "outbox", "sendgrid"] = "auto"
    email_from: str = "coaching-reports@example.org"
    report_recipients: CommaList = []
    data_stewards: CommaList = []
    allowed_recipient_domains: CommaList = []
    # The leadership report names staff (who was not coached, the coaching lead, coaches' satisfaction)
    # only when this is on; otherwise it gives counts per program. The coaching leads' nudges always name.
    report_names_staff: bool = False
    # Who the Prefect Automations email when a run fails, crashes or is late (python -m ops.alerts).
    admin_emails: CommaList = []
    # Where the admin-alert runs write their emails (outbox/ inside it) when SendGrid is not configured.
    alerts_dir: Path = Path("reports") / "alerts"
    # Where runs write when no `output_dir` is given (a folder per quarter, month or day in it). A run
    # started from a deployment (the UI's Run form) writes only inside this folder: its `output_dir`
    # parameter is refused elsewhere (flows/cli.py: check_deployed_run_paths).
    reports_dir: Path = Path("reports")

    # The delivery ledger's database: None keeps the SQLite file in state_dir; a URL such as
    # postgresql+psycopg://user:password@host/db (COACHING_LEDGER_URL) shares it between hosts.
    ledger_url: SecretStr | None = None
    # The PostgreSQL schema of those records: each agency of a network has its own (config/registry.py);
    # None keeps the database's default schema.
    ledger_schema: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_]*$")

    sendgrid_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SENDGRID_API_KEY", "COACHING_SENDGRID_API_KEY")
    )
    sendgrid_api_url: str = "https://api.sendgrid.com"
    sendgrid_sandbox_mode: bool = False  # SendGrid validates the email but delivers nothing
    sendgrid_secret_block: str = "sendgrid-api-key"
    # The whole of one Mail Send call, first byte to last; a send that outlasts it is "unknown".
    sendgrid_timeout_seconds: float = Field(30.0, gt=0)

    google_credentials_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("GOOGLE_APPLICATION_CREDENTIALS", "COACHING_GOOGLE_CREDENTIALS_FILE"),
    )
    google_secret_block: str = "google-service-account"
    sheets_api_url: str = "https://sheets.googleapis.com"
    # FORMATTED_VALUE reads cells as the sheet shows them (text); both give the same records.
    sheets_value_render: Literal["UNFORMATTED_VALUE", "FORMATTED_VALUE"] = "UNFORMATTED_VALUE"
    # Append the quarter's recommendations to Improvement Actions as `proposed` (needs Editor access).
    sheets_write_back: bool = False

    @field_validator("report_recipients", "data_stewards", "allowed_recipient_domains", "admin_emails", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("report_recipients", "data_stewards", "admin_emails", mode="after")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        _require_valid_addresses(value)
        return value

    @field_validator("columns", mode="after")
    @classmethod
    def _known_columns(cls, value: ColumnMapping) -> ColumnMapping:
        return _check_column_mapping(value)

    @field_validator("email_from", mode="after")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        _require_valid_addresses([value])
        return value

    @field_validator("source", mode="after")
    @classmethod
    def _resolve_relative_path(cls, value: str) -> str:
        # A relative workbook path in settings.yaml means relative to the project, not the caller.
        if value.lower().endswith(".xlsx") and not Path(value).is_absolute():
            candidate = PROJECT_ROOT / value
            if candidate.exists() and not Path(value).exists():
                return str(candidate)
        return value

    def reading_options(self) -> ReadingOptions:
        """How these settings have a workbook parsed: the validate step's parse and the command's
        parse ahead (config.wiring.reading_ahead) both take them from here, so they cannot differ."""
        return ReadingOptions(self.tabs.model_dump(), self.date_format, dict(self.columns))

    def today(self) -> dt.date:
        """The day of the run in the configured timezone: a month or a quarter ends there, not in UTC."""
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    def output_folder(self, output_dir: str | None, *default: str) -> Path:
        """Where a run writes: its `output_dir` when one is given, else its own folder inside
        `reports_dir` (e.g. `default` ("nudges", "2026-08") gives reports/nudges/2026-08/)."""
        return Path(output_dir) if output_dir else self.reports_dir.joinpath(*default)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("COACHING_SETTINGS_FILE", DEFAULT_SETTINGS_FILE))
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file))


def _require_valid_addresses(addresses: list[str]) -> None:
    """A typo in a configured address stops the run at its start, naming the address."""
    from coaching.recipients import address_problem

    problems = [f"'{address}' ({problem})" for address in addresses if (problem := address_problem(address))]
    if problems:
        raise ValueError("not a valid email address: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Read the settings afresh (no module-level singleton: tests and flows each load their own).

    A setting that cannot be used (a typo in an address, say) raises UsageError naming the setting
    and the value's problem, so a run stops at its start with one line."""
    from pydantic import ValidationError

    from coaching.records import UsageError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise UsageError(f"Settings (config/settings.yaml or COACHING_… variables): {problems}") from None
