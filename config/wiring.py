"""The one place that turns settings into adapters (the composition root). A flow builds one
`RunAdapters` bundle per run and passes its parts down; tasks receive what it builds."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Self

from pydantic import SecretStr
from sqlalchemy import Engine

from adapters.ledger import DeliveryLedger
from adapters.mailers import Mailer, OutboxMailer
from adapters.read_ahead import ReadAhead
from adapters.report_history import ReportHistory
from adapters.sources import ProposalWriter, RecordSource, XlsxSource
from adapters.store import open_store
from coaching.parsing import parsed_where_read
from coaching.records import ReadingOptions
from config.settings import Settings

if TYPE_CHECKING:  # imported where a source is built: gspread and google-auth cost seconds
    from adapters.google_sheets import ServiceAccounts


def _secret_block(name: str) -> object | None:
    """The value of a Prefect Secret block (text or JSON), or None when there is no such block."""
    from prefect.blocks.system import Secret

    try:
        return Secret.load(name).get()
    except ValueError:  # Prefect raises ValueError for an unknown block name
        return None


# The source the command line started reading and parsing (reading_ahead): its reference and the
# reading options it is parsed with.
_read_ahead: ContextVar[tuple[str, ReadingOptions, ReadAhead] | None] = ContextVar("read_ahead", default=None)
# The service-account keys that the runs of one process share (sharing_service_accounts).
_service_accounts: ContextVar[ServiceAccounts | None] = ContextVar("service_accounts", default=None)


def build_source(settings: Settings, reference: str | None = None) -> RecordSource:
    """An `.xlsx` path gives the local workbook; a Sheets URL or key gives Google Sheets; the source
    being read ahead (reading_ahead), that read, when these settings parse it as it was parsed."""
    from adapters.google_sheets import GoogleSheetsSource, ServiceAccounts, spreadsheet_key_from

    reference = reference or settings.source
    ahead = _read_ahead.get()
    if ahead is not None and ahead[:2] == (reference, settings.reading_options()):
        return ahead[2]
    key = spreadsheet_key_from(reference)
    if key is None:
        return XlsxSource(Path(reference))
    accounts = _service_accounts.get() or ServiceAccounts()
    if settings.google_credentials_file is not None:
        info = accounts.load(path=settings.google_credentials_file)
    else:
        info = accounts.load(text=_secret_block(settings.google_secret_block), block_name=settings.google_secret_block)
    return GoogleSheetsSource(
        key,
        info,
        api_url=settings.sheets_api_url,
        value_render=settings.sheets_value_render,
        write_back=settings.sheets_write_back,
    )


@contextmanager
def sharing_service_accounts() -> Iterator[None]:
    """Within the block, the runs' Google Sheets sources read and check each service-account key
    once and share its access token: for a process that runs many agencies, one after the other,
    with the network's one service account."""
    from adapters.google_sheets import ServiceAccounts

    token = _service_accounts.set(ServiceAccounts())
    try:
        yield
    finally:
        _service_accounts.reset(token)


@contextmanager
def reading_ahead(settings: Settings, reference: str | None) -> Iterator[None]:
    """Within the block, the source `reference` (default the configured one) is read and parsed in
    a child process from the start (adapters/read_ahead.py), and a run's `build_source` of it takes
    that read. Only a process with a single thread forks (the command line, before Prefect is imported),
    and only for a source that needs no Prefect block (a Sheets key from a Secret block would need
    the server that is still starting): otherwise the run reads as usual."""
    from adapters.google_sheets import spreadsheet_key_from

    reference = reference or settings.source
    needs_block = spreadsheet_key_from(reference) is not None and settings.google_credentials_file is None
    source = None if threading.active_count() > 1 or needs_block else build_source(settings, reference)
    try:
        options = settings.reading_options()
        ahead = ReadAhead(source, partial(parsed_where_read, options=options)) if source is not None else None
    except OSError:  # no process or temporary file to spare: the run reads, as without reading ahead
        ahead = None
    if ahead is None:
        yield
        return
    token = _read_ahead.set((reference, options, ahead))
    try:
        yield
    finally:
        _read_ahead.reset(token)
        ahead.close()


def sendgrid_api_key(settings: Settings) -> SecretStr | None:
    """From SENDGRID_API_KEY, else from the Prefect Secret block named in the settings."""
    if settings.sendgrid_api_key is not None:
        return settings.sendgrid_api_key
    value = _secret_block(settings.sendgrid_secret_block)
    return SecretStr(str(value)) if value else None


REPORT_RECIPIENTS_VARIABLE = "report-recipients"


def report_recipients(settings: Settings) -> list[str]:
    """Who receives the quarterly report: COACHING_REPORT_RECIPIENTS when set; else the Prefect
    Variable `report-recipients` when it exists (admins change it in the UI, no file to edit);
    else `report_recipients` in settings.yaml."""
    if "COACHING_REPORT_RECIPIENTS" in os.environ:  # the environment wins, as it does for secrets
        return settings.report_recipients
    from prefect.variables import Variable

    value = Variable.get(REPORT_RECIPIENTS_VARIABLE)
    if value is None:
        return settings.report_recipients
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        from coaching.records import UsageError

        raise UsageError(
            f"The Prefect Variable '{REPORT_RECIPIENTS_VARIABLE}' should hold a list of email addresses "
            "(or one text with the addresses separated by commas)."
        )
    return [str(address).strip() for address in value if str(address).strip()]


def build_mailer(settings: Settings, outbox_dir: Path) -> Mailer:
    """SendGrid when a key is configured (or the backend is forced); otherwise the outbox folder."""
    if settings.email_backend == "outbox":
        return OutboxMailer(outbox_dir)
    key = sendgrid_api_key(settings)
    if key is None:
        if settings.email_backend == "sendgrid":
            from coaching.records import UsageError

            raise UsageError(
                "email_backend is 'sendgrid' but no API key is configured: set SENDGRID_API_KEY or "
                f"create the Prefect Secret block '{settings.sendgrid_secret_block}'."
            )
        return OutboxMailer(outbox_dir)
    from adapters.sendgrid_mailer import SendGridMailer

    return SendGridMailer(
        key,
        api_url=settings.sendgrid_api_url,
        sandbox_mode=settings.sendgrid_sandbox_mode,
        timeout=settings.sendgrid_timeout_seconds,
    )


def build_store_engine(settings: Settings) -> Engine:
    """The database of the delivery ledger (and of other records kept next to it):
    COACHING_LEDGER_URL when set, else the SQLite file in the state folder. A sandbox (dry) run
    keeps its own SQLite file, so it never stands in for the real send."""
    url = settings.ledger_url.get_secret_value() if settings.ledger_url else None
    folder = settings.state_dir / "sandbox" if settings.sendgrid_sandbox_mode else settings.state_dir
    return open_store(folder, url, schema=settings.ledger_schema)


@dataclass
class DeliveryAdapters:
    """What sending talks to: the mailer (None when the run sends nothing), the ledger, and the
    database they keep their records in. Closed at the end of the run."""

    mailer: Mailer | None
    ledger: DeliveryLedger
    store_engine: Engine

    def close(self) -> None:
        self.store_engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class RunAdapters(DeliveryAdapters):
    """Everything one run of the pipeline talks to: delivery, the records' source and the record of
    delivered reports (in the ledger's database)."""

    source: RecordSource
    report_history: ReportHistory

    @property
    def proposal_writer(self) -> ProposalWriter | None:
        """The source when it can take proposals back (the live spreadsheet), else None."""
        source = self.source.source if isinstance(self.source, ReadAhead) else self.source
        return source if isinstance(source, ProposalWriter) else None


def build_delivery_adapters(settings: Settings, outbox_dir: Path | None) -> DeliveryAdapters:
    """The ledger and, unless `outbox_dir` is None (a run that sends nothing, or a command that
    only reads the ledger), the mailer. Builds no records source, so an alert or a ledger command
    never depends on Google credentials."""
    engine = build_store_engine(settings)
    mailer = build_mailer(settings, outbox_dir) if outbox_dir is not None else None
    return DeliveryAdapters(mailer=mailer, ledger=DeliveryLedger(engine), store_engine=engine)


def build_run_adapters(settings: Settings, *, source: str | None, outbox_dir: Path, send: bool) -> RunAdapters:
    """The bundle for one run: built once at its start, closed at its end."""
    records = build_source(settings, source)
    delivery = build_delivery_adapters(settings, outbox_dir if send else None)
    return RunAdapters(
        mailer=delivery.mailer,
        ledger=delivery.ledger,
        store_engine=delivery.store_engine,
        source=records,
        report_history=ReportHistory(delivery.store_engine),
    )
