"""Scoring a quarter exactly as data-contract.md, section 2, says."""

from __future__ import annotations

import math

import pytest

from coaching.quarters import Quarter
from coaching.scoring import Targets, score_quarter
from tests.coaching.workbooks import lead, practitioner, program_frames, session

Q3 = Quarter.parse("2026-Q3")


def score(staff_rows, log_rows, lead_id="L1", targets=Targets(), **tabs):
    frames = program_frames(staff_rows, log_rows, lead_id=lead_id, **tabs)
    return score_quarter(frames, Q3, targets).scorecard.set_index("program_id").loc["P1"]


MONTHS = ["7/15/2026", "8/15/2026", "9/15/2026"]


def test_a_lead_active_at_quarter_end_with_a_valid_email_is_in_place():
    assert score([lead()], [])["bp1_accountability"] == 2


@pytest.mark.parametrize(
    ("staff", "lead_id", "expected"),
    [
        ([lead(end="9/29/2026")], "L1", 1),  # left the agency during the quarter
        ([lead(end="9/30/2026")], "L1", 2),  # still active on the last day
        ([lead(email="")], "L1", 1),  # no email on file
        ([lead()], "NOBODY", 1),  # named, but not on the Staff tab
        ([lead()], "", 0),  # nobody named
    ],
)
def test_accountability_boundaries(staff, lead_id, expected):
    assert score(staff, [], lead_id=lead_id)["bp1_accountability"] == expected


def test_coverage_of_exactly_ninety_percent_meets_the_target():
    # 10 staff x 3 months = 30 staff-months; 27 covered = 0.90 exactly.
    staff = [lead()] + [practitioner(f"P{i}") for i in range(10)]
    log = [session(f"P{i}", month) for i in range(10) for month in MONTHS if not (i < 3 and month == MONTHS[2])]
    card = score(staff, log)
    assert card["monthly_coverage"] == pytest.approx(0.9)
    assert card["bp2_coaching_delivery"] == 2


def test_multi_source_of_exactly_eighty_percent_meets_the_target_and_just_below_does_not():
    staff = [lead()] + [practitioner(f"P{i}") for i in range(5)]
    log = [session(f"P{i}", m, second="yes" if i < 4 else "") for i in range(5) for m in MONTHS]
    card = score(staff, log)
    assert card["multi_source_rate"] == pytest.approx(0.8)
    assert card["bp2_coaching_delivery"] == 2
    log.append(session("P0", "8/20/2026", observed="", session_id="extra"))  # 12 of 16 = 0.75
    card = score(staff, log)
    assert card["multi_source_rate"] == pytest.approx(0.75)
    assert card["bp2_coaching_delivery"] == 1


def test_coverage_just_below_ninety_percent_is_partial_when_multi_source_is_met():
    staff = [lead()] + [practitioner(f"P{i}") for i in range(10)]
    log = [session(f"P{i}", m) for i in range(10) for m in MONTHS if not (i < 4 and m == MONTHS[2])]
    card = score(staff, log)
    assert card["monthly_coverage"] == pytest.approx(26 / 30)
    assert card["bp2_coaching_delivery"] == 1


def test_rates_with_nothing_to_divide_are_blank_and_do_not_meet_their_target():
    card = score([lead()], [])
    assert math.isnan(card["monthly_coverage"]) and math.isnan(card["multi_source_rate"])
    assert card["bp2_coaching_delivery"] == 0


def test_staff_joining_or_leaving_mid_quarter_are_eligible_only_in_months_they_were_active():
    staff = [
        lead(),
        practitioner("JOIN", start="8/31/2026"),  # active one day of August: eligible Aug, Sep
        practitioner("LEFT", start="1/1/2025", end="7/1/2026"),  # active one day of July: eligible Jul
        practitioner("GONE", start="1/1/2025", end="6/30/2026"),  # never active in Q3
        practitioner("LATER", start="10/1/2026"),  # starts after the quarter
    ]
    log = [session("JOIN", "9/2/2026"), session("LEFT", "7/1/2026")]
    card = score(staff, log)
    assert (card["eligible_staff_months"], card["covered_staff_months"]) == (3, 2)


def test_staff_who_do_not_require_coaching_are_not_eligible_but_their_sessions_count_for_multi_source():
    staff = [lead(), practitioner("P0"), practitioner("SUP", requires="no")]
    log = [session("P0", m) for m in MONTHS] + [session("SUP", "7/20/2026", second="")]
    card = score(staff, log)
    assert card["eligible_staff_months"] == 3 and card["monthly_coverage"] == 1.0
    assert card["multi_source_rate"] == pytest.approx(3 / 4)


def test_a_session_logged_under_another_program_still_covers_the_staff_member():
    staff = [lead(), practitioner("P0")]
    log = [session("P0", m, program="P2") for m in MONTHS]
    card = score(staff, log)
    assert card["monthly_coverage"] == 1.0
    assert card["sessions"] == 0  # the sessions belong to P2's multi-source rate


@pytest.mark.parametrize(
    ("plan", "components", "expected"),
    [
        ([["P1", "skill_sets", "yes"], ["P1", "frequency", "yes"], ["P1", "methods", "yes"]], 3, 2),
        ([["P1", "skill_sets", "yes"], ["P1", "Skill sets", "yes"], ["P1", "methods", "no"]], 1, 1),
        ([["P1", "skill_sets", ""], ["P2", "methods", "yes"]], 0, 0),
        (None, 0, 0),
    ],
)
def test_plan_components_count_distinct_documented_components(plan, components, expected):
    card = score([lead()], [], plan=plan)
    assert (card["plan_components"], card["bp3_service_plan"]) == (components, expected)


def test_two_sources_and_a_decided_action_from_the_previous_quarter_put_the_review_in_place():
    card = score(
        [lead()],
        [],
        fidelity=[["8/1/2026", "P1", "practitioner", "L1", 8, 10]],
        survey=[["9/1/2026 10:00:00", "P1", 4]],
        actions=[["2026-Q2", "P1", "More observation", "planned"]],
    )
    assert (card["effectiveness_sources"], card["improvement_actions"], card["bp4_effectiveness_review"]) == (2, 1, 2)


@pytest.mark.parametrize(
    ("actions", "expected_actions"),
    [
        ([["2026-Q2", "P1", "idea", "proposed"]], 0),  # proposals are not decisions
        ([["2026-Q3", "P1", "this quarter", "done"]], 0),  # must act on the previous quarter's data
        ([["2026-Q2", "P1", "a", "In progress"], ["2026-Q2", "P1", "b", "done"], ["2026-Q2", "P1", "c", "dropped"]], 2),
    ],
)
def test_only_decided_actions_on_the_previous_quarter_count(actions, expected_actions):
    card = score(
        [lead()],
        [],
        fidelity=[["8/1/2026", "P1", "practitioner", "L1", 8, 10], ["8/1/2026", "P1", "coach", "L1", 8, 10]],
        actions=actions,
    )
    assert card["improvement_actions"] == expected_actions
    assert card["bp4_effectiveness_review"] == (2 if expected_actions else 1)


def test_effectiveness_sources_count_only_entries_dated_in_the_quarter():
    card = score(
        [lead()],
        [],
        fidelity=[["6/30/2026", "P1", "practitioner", "L1", 8, 10], ["10/1/2026", "P1", "coach", "L1", 8, 10]],
        survey=[["9/30/2026 23:59:00", "P1", 4]],
    )
    assert (card["effectiveness_sources"], card["bp4_effectiveness_review"]) == (1, 1)
    assert score([lead()], [])["bp4_effectiveness_review"] == 0


def test_total_and_percent_add_up_the_four_scores():
    card = score([lead()], [], plan=[["P1", "skill_sets", "yes"]])
    assert card["total_score"] == 2 + 0 + 1 + 0
    assert card["percent"] == 37.5


def test_targets_are_configurable():
    card = score([lead()], [], plan=[["P1", "skill_sets", "yes"]], targets=Targets(plan_components=1))
    assert card["bp3_service_plan"] == 2
