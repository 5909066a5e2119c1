"""Recommendations name their evidence and come in priority order."""

from coaching.quarters import Quarter
from coaching.recommendations import improvements, recommend, recommendations_frame
from coaching.scoring import Targets, score_quarter
from tests.coaching.workbooks import lead, practitioner, program_frames, session

Q3 = Quarter.parse("2026-Q3")
MONTHS = ["7/15/2026", "8/15/2026", "9/15/2026"]


def scored(staff, log, **tabs):
    frames = program_frames(staff, log, **tabs)
    return frames, score_quarter(frames, Q3, Targets())


def for_practice(recommendations, practice, program="P1"):
    return next(r for r in recommendations if r.best_practice == practice and r.program_id == program)


def test_coaching_gaps_name_the_staff_and_the_months_they_were_not_coached():
    staff = [lead(), practitioner("A1"), practitioner("B2")]
    log = [session("A1", m) for m in MONTHS] + [session("B2", MONTHS[0], second="")]
    _, scores = scored(staff, log)
    rec = for_practice(recommend(scores, Targets()), 2)
    assert "Name B2 (B2): August, September" in rec.evidence
    assert "4 of 6 staff-months (67 %) had a coaching session (target: at least 90 %)" in rec.evidence
    assert "3 of 4 sessions (75 %) had direct observation plus a second source (target: at least 80 %)" in rec.evidence
    assert rec.action.startswith("Schedule coaching at least monthly")


def test_a_missing_plan_names_the_missing_components():
    _, scores = scored([lead()], [], plan=[["P1", "skill_sets", "yes"], ["P1", "feedback", "yes"]])
    rec = for_practice(recommend(scores, Targets()), 3)
    assert rec.score == 1
    assert "frequency, methods, communication" in rec.action
    assert "2 of 5 plan components documented (target: at least 3); missing: frequency" in rec.evidence


def test_the_effectiveness_review_names_missing_sources_and_the_lack_of_decided_actions():
    _, scores = scored([lead()], [], survey=[["8/1/2026", "P1", 4]], actions=[["2026-Q2", "P1", "idea", "proposed"]])
    rec = for_practice(recommend(scores, Targets()), 4)
    assert "missing: practitioner fidelity assessment, coach fidelity assessment" in rec.evidence
    assert (
        "No improvement action decided on 2026-Q2 data (target: at least 1 planned, in progress or done" in rec.evidence
    )
    assert "proposed ones do not count" in rec.evidence


def test_a_lead_who_left_is_named_with_what_to_do():
    _, scores = scored([lead(end="8/31/2026")], [])
    rec = for_practice(recommend(scores, Targets()), 1)
    assert rec.evidence == "Coaching lead Lee Lead (L1): not active on the last day of the quarter."
    assert rec.action.startswith("Name a new coaching lead")


def test_practices_not_in_place_come_before_partial_ones_and_priorities_count_up():
    _, scores = scored([lead()], [], plan=[["P1", "skill_sets", "yes"]], survey=[["8/1/2026", "P1", 4]])
    recs = recommend(scores, Targets())
    assert [r.priority for r in recs] == list(range(1, len(recs) + 1))
    urgencies = [r.urgency for r in recs]
    assert urgencies == sorted(urgencies, key=["High", "Medium"].index)
    assert all(r.score == 0 for r in recs if r.urgency == "High")
    assert all(r.score < 2 for r in recs)


def test_a_practice_in_place_gets_no_recommendation():
    _, scores = scored([lead()], [])
    assert all(r.best_practice != 1 for r in recommend(scores, Targets()) if r.program_id == "P1")


def test_what_improved_since_last_quarter_is_listed():
    staff = [lead(), practitioner("A1", start="1/1/2025")]
    log = [session("A1", d) for d in ["4/15/2026", "7/15/2026", "8/15/2026", "9/15/2026"]]
    frames, current = scored(staff, log)
    previous = score_quarter(frames, Quarter.parse("2026-Q2"), Targets())
    found = improvements(current, previous)
    assert [(i.program_id, i.best_practice, i.before, i.after) for i in found] == [("P1", 2, 1, 2)]
    assert found[0].sentence == (
        "Home Visiting: coaching at least monthly, from direct observation plus another source is now "
        "in place (was partially in place)."
    )


def test_the_recommendations_file_has_one_row_per_recommendation_with_its_evidence():
    _, scores = scored([lead()], [])
    frame = recommendations_frame(recommend(scores, Targets()))
    assert list(frame.columns[:5]) == ["priority", "urgency", "program_id", "program_name", "best_practice"]
    assert frame["evidence"].str.len().gt(10).all()
