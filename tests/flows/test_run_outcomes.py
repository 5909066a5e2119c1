"""What an admin sees of a run in the Prefect UI: a name and a final message that say what
happened to the email, a quarter the Run form can check, artifacts on the run itself."""

from __future__ import annotations

from uuid import uuid4

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError

from flows.monthly_nudge import monthly_nudge
from flows.quarterly_report import quarterly_report
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid, Fault
from tests.flows.mail import outbox


def name_of(state) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def test_a_rerun_of_the_same_quarter_sends_nothing_and_says_so_in_its_name_and_message_unless_forced(
    tmp_path, state_dir, monkeypatch
):
    first = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), return_state=True)
    again = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), return_state=True)

    assert name_of(first) == "quarterly-2026-Q3-sent"
    assert first.is_completed() and first.message.startswith("Sent the quarterly report for 2026-Q3 to leadership@")
    assert name_of(again) == "quarterly-2026-Q3-already-sent"
    assert again.message.startswith("Not sent again: the quarterly report for 2026-Q3 to leadership@")
    assert again.result().delivery == again.message and len(outbox(tmp_path)) == 1
    assert "--force-resend" in again.message  # started from the command line

    # Started from the Run form (a deployment's run: Prefect's runtime override of its id), the way to
    # force it is the run's parameter, not the command's flag.
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(uuid4()))
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path))
    from_the_ui = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), return_state=True)
    assert from_the_ui.message.startswith("Not sent again: the quarterly report for 2026-Q3 to leadership@")
    assert "the run's force_resend parameter" in from_the_ui.message and "--force-resend" not in from_the_ui.message

    forced = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), force_resend=True)
    assert "forced" in forced.delivery
    assert len(outbox(tmp_path)) == 2


def test_a_run_that_sends_nothing_is_named_so(tmp_path, state_dir):
    state = monthly_nudge(month="2026-08", output_dir=str(tmp_path), send=False, return_state=True)

    assert name_of(state) == "nudge-2026-08-not-sent"
    assert state.message == state.result().summary


@pytest.mark.parametrize("quarter", ["2026-Q9", "2026-Q0", "Q3-2026"])
def test_a_quarter_outside_the_parameter_schema_is_refused_before_the_run_starts(quarter, tmp_path, state_dir):
    with pytest.raises(ParameterTypeError, match="String should match pattern"):
        quarterly_report(quarter=quarter, output_dir=str(tmp_path))

    assert not tmp_path.joinpath("report.html").exists()


def test_the_artifacts_belong_to_the_flow_run_and_the_scorecard_has_readable_titles(tmp_path, state_dir):
    state = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), send=False, return_state=True)

    scorecard = Artifact.get("quarterly-2026-q3-scorecard")
    assert scorecard.flow_run_id == state.state_details.flow_run_id and scorecard.task_run_id is None
    assert '"BP1 Accountability"' in scorecard.data and '"Program ID"' in scorecard.data
    assert "bp1_accountability" not in scorecard.data
    # The UI follows the leadership email's rule: no lead named by default, no cell's value.
    assert "Coaching Lead" not in scorecard.data and "Fiona Jones" not in scorecard.data
    quality = Artifact.get("quarterly-2026-q3-data-quality").data
    assert "is not a date" in quality and "8/32/2026" not in quality and "2026-08-03" not in quality


def test_a_run_whose_email_is_of_unknown_outcome_ends_failed_saying_what_to_check(tmp_path, state_dir, monkeypatch):
    with FakeSendGrid() as fake:
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", fake.url)
        fake.fail_next(Fault(None, accepted=True))

        state = quarterly_report(quarter="2026-Q3", output_dir=str(tmp_path), return_state=True)

    assert state.is_failed() and name_of(state) == "quarterly-2026-Q3-unknown"
    assert "Unknown whether the quarterly report for 2026-Q3 to leadership@" in state.message
    assert "SendGrid's Activity Feed" in state.message and "python -m ops.deliveries mark-sent" in state.message
    assert len(fake.messages) == 1
    summary = Artifact.get("quarterly-2026-q3-summary")  # published before the run failed
    assert summary.flow_run_id == state.state_details.flow_run_id and "Unknown whether" in summary.data


def test_a_run_that_fails_before_its_email_is_named_failed_and_one_whose_email_failed_keeps_its_outcome(
    tmp_path, state_dir
):
    state = quarterly_report(quarter="2026-Q3", programs=["Knitting Club"], output_dir=str(tmp_path), return_state=True)

    assert state.is_failed() and name_of(state) == "quarterly-2026-Q3-failed"
