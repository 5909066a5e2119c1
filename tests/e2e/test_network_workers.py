"""The network on the work pool as an admin sets it up for several machines: a Prefect server, the
deployments of prefect.yaml, two workers sharing one PostgreSQL ledger (COACHING_LEDGER_URL), and
the network's run split into parts that the workers take, on the tests' PostgreSQL
(tests/conftest.py: postgres_server)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import create_engine, text

from config.settings import PROJECT_ROOT
from ops.stack import Stack, running, stop_group
from tests.deadlines import scaled
from tests.e2e.test_deployments import free_port
from tests.flows.mail import outbox

NETWORK = PROJECT_ROOT / "data" / "network"
RUN_DEADLINE = 240  # seconds for the network's run and its parts, idle machine (scaled to the load)


@pytest.fixture
def postgres_base(postgres_server: str) -> Iterator[tuple[str, str]]:
    """The tests' PostgreSQL and a schema prefix of this test's own; its schemas are dropped afterwards."""
    base = postgres_server
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield base, prefix
    admin = create_engine(base)
    with admin.begin() as db:
        schemas = db.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :prefix"), {"prefix": f"{prefix}\\_%"}
        ).scalars()
        for schema in list(schemas):
            db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def write_registry(folder: Path) -> Path:
    agencies = [
        {
            "id": agency,
            "name": f"{agency.title()} Services",
            "source": str(NETWORK / f"{agency}.xlsx"),
            "report_recipients": [f"director@{agency}.example.org"],
            "allowed_recipient_domains": [f"{agency}.example.org"],
        }
        for agency in ("northfield", "riverside", "lakeshore")
    ]
    network = {"name": "Two-worker Network", "report_recipients": ["centre@network.example.org"]}
    path = folder / "agencies.yaml"
    path.write_text(yaml.safe_dump({"network": network, "agencies": agencies}))
    return path


def run_network(client: SyncPrefectClient, parameters: dict[str, object]) -> FlowRun:
    deployment = client.read_deployment_by_name("network_report/network-coaching-report")
    run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    deadline = time.monotonic() + scaled(RUN_DEADLINE)
    while time.monotonic() < deadline:
        run = client.read_flow_run(run.id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(1)
    pytest.fail(f"the network's run did not end within {scaled(RUN_DEADLINE):.0f} s")


def test_two_workers_sharing_a_postgresql_ledger_report_every_agency_once(tmp_path, postgres_base):
    base, prefix = postgres_base
    worker_env = {
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "COACHING_STATE_DIR": str(tmp_path / "state"),
        "COACHING_LEDGER_URL": base,
        "COACHING_LEDGER_SCHEMA": prefix,
    }
    stack = Stack(home=tmp_path / "prefect-home", port=free_port(), worker_env=worker_env)
    out = tmp_path / "network"
    parameters = {"quarter": "2026-Q3", "registry": str(write_registry(tmp_path)), "output_dir": str(out)}
    with running(stack, say=lambda _: None):
        with (tmp_path / "second-worker.log").open("wb") as log:
            second = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "coaching-pool", "--name", "second"],
                cwd=PROJECT_ROOT,
                env=stack.env(worker_env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with stack.client() as client:
                first = run_network(client, {**parameters, "workers": 2})
                # Again, every agency in the network run's own process on a worker: what the parts
                # sent from other processes is in the shared ledger, so nothing goes out twice.
                again = run_network(client, {**parameters, "workers": 0})
                part = client.read_deployment_by_name("network_part/network-part")
                parts = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[part.id]))
                )
        finally:
            # Prefect's worker (3.9) sometimes misses its SIGTERM: it logs the SIGINT it forwards to itself,
            # then polls on, and answers any later signal with SIGKILL. A graceful stop takes about a second;
            # the test needs none, so SIGKILL follows after a short grace.
            stop_group(second.pid, timeout=scaled(5))

    assert first.state_name == "Completed", first.state.message if first.state else first
    assert again.state_name == "Completed", again.state.message if again.state else again
    assert sorted(run.name for run in parts) == ["network-2026-Q3-part-1", "network-2026-Q3-part-2"]
    outcomes = pd.read_csv(out / "agency_outcomes.csv")
    assert dict(zip(outcomes["agency_id"], outcomes["outcome"])) == dict.fromkeys(
        ("northfield", "riverside", "lakeshore"), "already sent"
    )
    for agency in ("northfield", "riverside", "lakeshore"):
        assert len(outbox(out / agency)) == 1, agency  # once, though two runs and two workers saw it
    assert len(outbox(out)) == 1
    engine = create_engine(base)
    with engine.connect() as db:
        for agency in ("northfield", "riverside", "lakeshore"):
            sent = db.execute(text(f'SELECT recipient, status FROM "{prefix}_agency_{agency}".email_deliveries'))
            assert sent.all() == [(f"director@{agency}.example.org", "sent")]
    engine.dispose()
