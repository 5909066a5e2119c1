"""A network of agencies: every agency's quarterly report, then one roll-up for the centre.

    python -m flows.network_report [--registry FILE] [--quarter YYYY-Qn] [--agencies ID,…]
                                   [--output-dir DIR] [--no-send] [--force-resend]

Each agency of the registry (config/registry.py) gets exactly the single agency's quarterly report
(flows/quarterly_report.py: report_quarter) with its own settings, recipients and records, as its
own flow run `<agency>-<quarter>` into DIR/<agency>/. One agency's failure is its outcome, never
the others'. Reads of Google Sheets are paced by a Prefect global concurrency limit with slot decay,
so that all agencies together stay within the service account's read quota.
"""

from __future__ import annotations

if __name__ == "__main__":  # the command line checks its arguments before the imports below (seconds)
    from flows.cli import network_report_command, run_as_main

    run_as_main(network_report_command)

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast
from uuid import UUID

import pandas as pd
from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed, State
from pydantic import Field

from adapters.google_sheets import spreadsheet_key_from
from adapters.ledger import DeliveryReport
from coaching.network import AgencyOutcome, AgencyRun, network_scorecard, outcomes_frame, roll_up
from coaching.outputs import csv_bytes
from coaching.quarterly import resolve_quarter
from coaching.recipients import check_recipients
from coaching.records import PipelineError
from coaching.report.network import network_report_email, render_roll_up
from config.registry import Agency, Registry, agency_settings, ledger_schema, load_registry, registry_path
from config.settings import Settings, load_settings
from config.wiring import build_delivery_adapters, sharing_service_accounts
from flows.cli import (
    check_deployed_run_paths,
    collect_cycles_less_often,
    hide_tracebacks_of_pipeline_errors,
    network_report_command,
    without_heartbeats,
)
from flows.quarterly_report import QUARTER_PATTERN, QuarterlyRunResult, ReportRequest, report_quarter
from tasks.artifacts import publish_table
from tasks.delivery import deliver_email, finish_run, run_tags
from tasks.report import write_files

# The Sheets quota of one service account is 60 read requests a minute. The limit lets a burst of
# READ_BURST reads through and frees READ_SLOTS_PER_SECOND slots a second, so that no minute ever
# holds more than READ_BURST + 60 × READ_SLOTS_PER_SECOND = 60 reads (54 a minute when it is busy).
SHEETS_READ_LIMIT = "sheets-reads"
READ_BURST = 6
READ_SLOTS_PER_SECOND = 0.9
# Prefect frees a rate limit's slots in whole slots, counted from the limit's last change, and every
# request for a slot, granted or denied, changes it: with a slot per read, up to a read's worth of
# decay was lost at each request, and while parts waited the limit let through far fewer than 0.9
# reads a second (43 agencies a minute at 500 agencies). A read takes SLOTS_PER_READ slots, so that
# at most a tenth of a read is lost each time; the quota's arithmetic above is unchanged.
SLOTS_PER_READ = 10
# GoogleSheetsSource.read: one spreadsheets.get with the grid data (values, formulas and merges).
READS_PER_AGENCY = 1
PART_DEPLOYMENT = "network_part/network-part"
PART_POLL_SECONDS = 2
PAGE_OF_RUNS = 200  # the most a Prefect server answers at once (PREFECT_SERVER_API_DEFAULT_LIMIT's default)
_OUTCOME_OF_WORD = {
    "sent": AgencyOutcome.SENT,
    "already-sent": AgencyOutcome.ALREADY_SENT,
    "not-sent": AgencyOutcome.NOT_SENT,
    "held-back": AgencyOutcome.HELD_BACK,
}


@dataclass(frozen=True)
class NetworkRunResult:
    quarter: str
    output_dir: Path
    runs: list[AgencyRun]
    delivery: str  # what happened to the roll-up's email, in one sentence

    @property
    def needing_a_person(self) -> list[AgencyRun]:
        return [run for run in self.runs if run.outcome.needs_a_person]


def _quarter_label(asked: str | None) -> str:
    settings = load_settings()
    try:
        return resolve_quarter(asked, settings.today(), settings.fiscal_year_start_month).label
    except PipelineError:
        return f"invalid-{asked}"


def _agency_run_name() -> str:
    return f"{flow_run.parameters.get('agency')}-{_quarter_label(flow_run.parameters.get('quarter'))}"


def _part_run_name() -> str:
    part = flow_run.parameters.get("part")
    return f"network-{_quarter_label(flow_run.parameters.get('quarter'))}-part-{part}"


def _network_run_name() -> str:
    return f"network-{_quarter_label(flow_run.parameters.get('quarter'))}"


def pace_sheets_reads(settings: Settings, reads: int = READS_PER_AGENCY) -> None:
    """Wait for `reads` of the service account's Sheets quota; nothing to wait for with an .xlsx."""
    if spreadsheet_key_from(settings.source) is None:
        return
    from prefect.concurrency.sync import rate_limit

    rate_limit(SHEETS_READ_LIMIT, occupy=reads * SLOTS_PER_READ, strict=True)


def ensure_read_limit() -> None:
    """Create the global concurrency limit that paces the Sheets reads. A limit too small for one
    read was made in reads, a slot each (by an earlier version, limit 6 and decay 0.9, or by an admin
    then): it is scaled to SLOTS_PER_READ, keeping its pace. Any other limit is an admin's, kept."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    limit, decay = READ_BURST * SLOTS_PER_READ, READ_SLOTS_PER_SECOND * SLOTS_PER_READ
    with get_client(sync_client=True) as client:
        try:
            current = client.read_global_concurrency_limit_by_name(SHEETS_READ_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=SHEETS_READ_LIMIT, limit=limit, slot_decay_per_second=decay)
            )
            return
        if current.limit < SLOTS_PER_READ:
            scaled = GlobalConcurrencyLimitUpdate(
                limit=current.limit * SLOTS_PER_READ,
                slot_decay_per_second=current.slot_decay_per_second * SLOTS_PER_READ,
            )
            client.update_global_concurrency_limit(SHEETS_READ_LIMIT, scaled)


@flow(name="agency_report", flow_run_name=_agency_run_name, log_prints=True, timeout_seconds=3600)
def agency_report(
    agency: str,
    quarter: Annotated[str | None, Field(pattern=QUARTER_PATTERN)] = None,
    registry: str | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
) -> State:  # its result is a QuarterlyRunResult
    """One agency of the network: its quarterly report, exactly as a single agency's, into a folder named after it.

    Args:
        agency: The agency's id in the registry.
        quarter: The quarter to report on, as YYYY-Qn; default the last completed one.
        registry: The registry file; default COACHING_REGISTRY or config/agencies.yaml.
        send: Email the report (False writes the files and a preview .eml, and records nothing).
        force_resend: Send even if this exact report was already sent to this agency.
        output_dir: The network's folder; default network/QUARTER/ in reports_dir (COACHING_REPORTS_DIR, else reports/) (the agency writes into a folder named after its id in it).
    """
    hide_tracebacks_of_pipeline_errors()
    collect_cycles_less_often()
    shared = load_settings()
    entry = load_registry(registry_path(registry), shared, only=agency).agency(agency)
    settings = agency_settings(shared, entry)
    label = resolve_quarter(quarter, shared.today(), shared.fiscal_year_start_month).label
    folder = shared.output_folder(output_dir, "network", label) / agency
    pace_sheets_reads(settings)
    request = ReportRequest(label, None, send, force_resend, str(folder), list(entry.report_recipients))
    return report_quarter(settings, request)


def _read_csv(path: Path) -> pd.DataFrame | None:
    """A file the run wrote, cell for cell as text (a rate stays 0.7500)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else None


def agency_result(agency: Agency, state: State, folder: Path, outcome_word: str | None) -> AgencyRun:
    """What an agency's run gave: its outcome from the run's final state (and, once completed, the
    one word it ended with), its figures from its files."""
    if not state.is_completed():
        return AgencyRun(agency.id, agency.name, AgencyOutcome.FAILED, state.message or f"The run ended {state.name}.")
    outcome = _OUTCOME_OF_WORD.get(outcome_word or "")
    if outcome is None:
        detail = f"The run completed, but what happened to its email cannot be read ({outcome_word!r})."
        return AgencyRun(agency.id, agency.name, AgencyOutcome.FAILED, detail)
    return AgencyRun(
        agency.id,
        agency.name,
        outcome,
        state.message or "",
        _read_csv(folder / "scorecard.csv"),
        _read_csv(folder / "history.csv"),
    )


def _word(state: State) -> str | None:
    """The one word a completed agency run ended with (its result)."""
    return cast(QuarterlyRunResult, state.result()).outcome if state.is_completed() else None


def _run_in_process(agencies: tuple[Agency, ...], parameters: dict[str, object], folder: Path) -> list[AgencyRun]:
    """Each agency as a subflow run of this process, one after the other."""
    runs = []
    # This run's own heartbeats cover the process (see network_part); one service-account key for all.
    with without_heartbeats(), sharing_service_accounts():
        for agency in agencies:
            state = agency_report(agency=agency.id, **parameters, return_state=True)
            runs.append(agency_result(agency, state, folder / agency.id, _word(state)))
    return runs


@flow(name="network_part", flow_run_name=_part_run_name, log_prints=True, timeout_seconds=6 * 3600)
def network_part(
    agencies: list[str],
    quarter: Annotated[str | None, Field(pattern=QUARTER_PATTERN)] = None,
    registry: str | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
    part: int = 1,
) -> None:
    """Some agencies of the network, each as its own run inside this one: started by network_report
    on the work pool, so that one worker process pays the imports once for all its agencies.

    Args:
        agencies: The ids of the agencies this part runs.
        quarter: The quarter to report on, as YYYY-Qn.
        registry: The registry file; default COACHING_REGISTRY or config/agencies.yaml.
        send: Email the reports.
        force_resend: Send even what was already sent.
        output_dir: The network's folder.
        part: Which part of the network this is (its run's name says it).
    """
    hide_tracebacks_of_pipeline_errors()
    collect_cycles_less_often()  # one process runs many agencies: its heap grows
    if flow_run.parent_flow_run_id is None:  # started from the UI: its Run form is checked as the network's is
        # (A network run's own parts take what it chose: a deployed network run checked its form, and
        # a command-line one may use any shared folder, docs/network.md.)
        check_deployed_run_paths(load_settings(), None, output_dir, registry)
    parameters = {
        "quarter": quarter,
        "registry": registry,
        "send": send,
        "force_resend": force_resend,
        "output_dir": output_dir,
    }
    # Each agency's outcome is its own run's state, read by network_report. The agencies' runs send no
    # heartbeats: this part's run does, for the process they share, and each agency's end would
    # otherwise wait up to a second for its own heartbeat thread (half a second on average). They
    # read with the network's one service account: its key is parsed once, its token shared.
    with without_heartbeats(), sharing_service_accounts():
        for agency in agencies:
            agency_report(agency=agency, **parameters, return_state=True)


def _parts(agencies: tuple[Agency, ...], count: int) -> list[list[str]]:
    """The agencies dealt round-robin into `count` parts (none empty)."""
    return [part for part in ([a.id for a in agencies[i::count]] for i in range(count)) if part]


def _run_on_workers(
    agencies: tuple[Agency, ...], parameters: dict[str, object], folder: Path, workers: int
) -> list[AgencyRun]:
    """The agencies split into `workers` runs of the network-part deployment, all submitted at once
    for the work pool's workers (on any machine) to take; once every part has ended, each agency's
    outcome is the final state of its own run inside its part."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.deployments import run_deployment

    parts: list[UUID] = []
    for number, part in enumerate(_parts(agencies, workers), start=1):
        submitted: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here: the run itself
            PART_DEPLOYMENT,
            parameters={"agencies": part, "part": number, **parameters},
            timeout=0,
            # A retried network run finds the parts it already started instead of starting more.
            idempotency_key=f"{flow_run.id}-part-{number}",
        )
        parts.append(submitted.id)
    with get_client(sync_client=True) as client:
        while True:
            ended = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=parts)))
            if all(run.state is not None and run.state.is_final() for run in ended):
                break
            time.sleep(PART_POLL_SECONDS)
        inside: list[FlowRun] = []
        while True:  # page by page: the server answers at most PAGE_OF_RUNS runs at a time
            page = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parts)),
                sort=FlowRunSort.ID_DESC,
                limit=PAGE_OF_RUNS,
                offset=len(inside),
            )
            inside += page
            if len(page) < PAGE_OF_RUNS:
                break
    by_agency = {run.parameters.get("agency"): run for run in inside}
    runs = []
    for agency in agencies:
        run = by_agency.get(agency.id)
        if run is None or run.state is None:
            part_states = ", ".join(sorted({str(p.state_name) for p in ended}))
            detail = f"The agency's run never started: its part of the network ended {part_states}."
            runs.append(AgencyRun(agency.id, agency.name, AgencyOutcome.FAILED, detail))
            continue
        # The run's name ends with what happened to its email (tasks.delivery.label_run).
        word = run.name.removeprefix(f"{agency.id}-{parameters['quarter']}-") if run.state.is_completed() else None
        runs.append(agency_result(agency, run.state, folder / agency.id, word))
    return runs


@flow(name="network_report", flow_run_name=_network_run_name, log_prints=True, timeout_seconds=6 * 3600)
def network_report(
    quarter: Annotated[str | None, Field(pattern=QUARTER_PATTERN)] = None,
    registry: str | None = None,
    agencies: list[str] | None = None,
    send: bool = True,
    force_resend: bool = False,
    output_dir: str | None = None,
    workers: int = Field(0, ge=0),
) -> State:  # its result is a NetworkRunResult
    """Every agency's quarterly report, each as its own run, then the network's roll-up for the centre.

    Args:
        quarter: The quarter to report on, as YYYY-Qn; default the last completed one.
        registry: The registry file; default COACHING_REGISTRY or config/agencies.yaml.
        agencies: The ids of the agencies to run (e.g. the ones that failed); default every agency.
        send: Email the reports and the roll-up (False writes the files and previews, records nothing).
        force_resend: Send even what was already sent (with `agencies`, to those agencies alone).
        output_dir: Where the files go; default network/QUARTER/ in reports_dir (COACHING_REPORTS_DIR, else reports/), one folder per agency in it.
            With workers, a folder every worker reaches at the same path (a shared drive).
        workers: Split the agencies into this many runs of the network-part deployment, for the work
            pool's workers to run at once (on any machine); 0 runs every agency in this run.
    """
    hide_tracebacks_of_pipeline_errors()
    collect_cycles_less_often()
    logger = get_run_logger()
    shared = load_settings()
    check_deployed_run_paths(shared, None, output_dir, registry)  # what the Run form may name
    path = registry_path(registry)
    loaded = load_registry(path, shared)
    selected = loaded.select(agencies)
    target = resolve_quarter(quarter, shared.today(), shared.fiscal_year_start_month).label
    folder = shared.output_folder(output_dir, "network", target)
    ensure_read_limit()
    parameters = {
        "quarter": target,
        "registry": str(path),
        "send": send,
        "force_resend": force_resend,
        "output_dir": str(folder),
    }
    if workers:
        runs = _run_on_workers(selected, parameters, folder, workers)
    else:
        runs = _run_in_process(selected, parameters, folder)
    runs = _with_earlier_outcomes(loaded, runs, folder)
    for run in runs:
        logger.info("%s: %s. %s", run.agency_id, run.outcome.value, run.detail)
    delivery, sent = _roll_up(loaded, shared, runs, target, folder, send, force_resend and not agencies)
    publish_table(f"network-{target.lower()}-outcomes", outcomes_frame(runs), "What happened to each agency's report")
    result = NetworkRunResult(target, folder, runs, delivery)
    needing = result.needing_a_person
    if needing:
        for run in needing:
            logger.error("%s (%s): %s. %s", run.agency_name, run.agency_id, run.outcome.value, run.detail)
        return Failed(
            message=f"{len(needing)} of {len(runs)} agencies need a person: "
            + ", ".join(run.agency_id for run in needing)
            + ". "
            + delivery,
            data=result,
        )
    return finish_run(result, sent, f"Network roll-up for {target}", delivery)


def _with_earlier_outcomes(registry: Registry, runs: list[AgencyRun], folder: Path) -> list[AgencyRun]:
    """This run's agencies, and for the others of the registry what the last run into `folder` said
    (agency_outcomes.csv and their files), so that re-running a few agencies keeps the whole network."""
    earlier = _read_csv(folder / "agency_outcomes.csv")
    done = {run.agency_id: run for run in runs}
    if earlier is not None:
        for row in earlier.fillna("").itertuples(index=False):
            if row.agency_id in done or row.agency_id not in registry.ids:
                continue
            agency = registry.agency(str(row.agency_id))
            done[agency.id] = AgencyRun(
                agency.id,
                agency.name,
                AgencyOutcome(row.outcome),
                str(row.detail),
                _read_csv(folder / agency.id / "scorecard.csv"),
                _read_csv(folder / agency.id / "history.csv"),
            )
    return [done[agency_id] for agency_id in registry.ids if agency_id in done]


def _roll_up(
    registry: Registry, shared: Settings, runs: list[AgencyRun], quarter: str, folder: Path, send: bool, force: bool
) -> tuple[str, DeliveryReport | None]:
    """Write the network's files and email the roll-up to the centre (once)."""
    roll = roll_up(registry.network.name, quarter, runs)
    rendered = render_roll_up(roll)
    files = {
        "network_scorecard.csv": csv_bytes(network_scorecard(runs)),
        "agency_outcomes.csv": csv_bytes(outcomes_frame(runs)),
    }
    write_files(folder, {**files, "network_report.html": rendered.html.encode("utf-8")})
    recipients = check_recipients(
        registry.network.report_recipients,
        registry.network.allowed_recipient_domains,
        f"network.report_recipients ({registry.path})",
    )
    email = network_report_email(
        rendered, roll, sender=shared.email_from, recipients=recipients, files=files, tags=run_tags()
    )
    if not send:
        return "The roll-up was not sent: sending was turned off for this run.", None
    network_settings = shared.model_copy(
        update={"state_dir": shared.state_dir / "network", "ledger_schema": ledger_schema(shared, "network")}
    )
    with build_delivery_adapters(network_settings, folder / "outbox") as adapters:
        assert adapters.mailer is not None
        sent = deliver_email(adapters.mailer, adapters.ledger, email, force)
    return sent.sentence, sent
