"""The monthly nudge end to end on the sample workbook: the outbox, SendGrid, the ledger, the gate.

In the sample's August 2026, Family Preservation (lead Fiona Jones) and Youth Mentoring (Wesley
Flores) have something to report; Check & Connect's lead left on 2026-09-11 and Parent Education
names no lead, so those two are skipped. The settings allow the sample's domain.
"""

from __future__ import annotations

from coaching.nudges import NO_ALLOWED_DOMAINS
from flows.monthly_nudge import main, monthly_nudge
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid
from tests.flows.mail import outbox


def test_each_reachable_lead_gets_one_nudge_in_the_months_folder_of_reports_dir_and_a_rerun_sends_nothing(
    tmp_path, state_dir, capsys, monkeypatch
):
    monkeypatch.setenv("COACHING_REPORTS_DIR", str(tmp_path / "shared"))  # no --output-dir: the default
    monkeypatch.chdir(tmp_path)  # a run that ignored it would write in the test's reports/, not the checkout's
    out = tmp_path / "shared" / "nudges" / "2026-08"
    assert main(["--month", "2026-08"]) == 0
    printed = capsys.readouterr().out
    assert "2026-08: 4 program(s): 2 sent, 2 skipped." in printed
    assert "CC (Check & Connect): Not sent: the coaching lead 00116 (Felix Nguyen) is not active on" in printed
    assert "PE (Parent Education): Not sent: no coaching lead is named on the Programs tab." in printed

    messages = {message["To"]: message for message in outbox(out)}
    assert set(messages) == {"fiona.jones@brightpath.example.org", "wesley.flores@brightpath.example.org"}
    youth = messages["wesley.flores@brightpath.example.org"]
    assert youth["Subject"] == "Coaching check-in for Youth Mentoring, August 2026"
    text = youth.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "AUGUST SESSIONS WITHOUT DIRECT OBSERVATION PLUS A SECOND SOURCE (10)" in text
    assert "- 31 Aug, session 1304: Chloe Cruz, coached by Wesley Flores: observation only" in text
    assert "NOT COACHED" not in text  # everyone in Youth Mentoring was coached in August

    assert main(["--month", "2026-08"]) == 0
    assert "2 already sent before, 2 skipped" in capsys.readouterr().out
    assert len(outbox(out)) == 2


def test_without_allowed_domains_no_nudge_goes_to_an_address_from_the_sheet(tmp_path, state_dir, monkeypatch):
    monkeypatch.setenv("COACHING_ALLOWED_RECIPIENT_DOMAINS", "")
    result = monthly_nudge(month="2026-08", output_dir=str(tmp_path / "nudges"))
    family = next(outcome for outcome in result.outcomes if outcome.program_id == "FP")
    assert (family.status, family.message) == ("skipped", f"Not sent: {NO_ALLOWED_DOMAINS}.")
    assert result.count("sent") == 0
    assert not (tmp_path / "nudges" / "outbox").exists()


def test_through_sendgrid_each_nudge_is_one_call_to_its_lead_only(tmp_path, state_dir, monkeypatch):
    with FakeSendGrid() as fake:
        monkeypatch.setenv("SENDGRID_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("COACHING_SENDGRID_API_URL", fake.url)
        result = monthly_nudge(month="2026-08", programs=["FP", "Youth Mentoring"], output_dir=str(tmp_path / "n"))
    assert result.count("sent") == 2 and len(result.outcomes) == 2
    recipients = sorted([to["email"] for to in message["personalizations"][0]["to"]] for message in fake.messages)
    assert recipients == [["fiona.jones@brightpath.example.org"], ["wesley.flores@brightpath.example.org"]]
    family = next(m for m in fake.messages if m["subject"].endswith("Family Preservation, August 2026"))
    assert family["categories"] == ["monthly_nudge", "2026-08"]
    assert [content["type"] for content in family["content"]] == ["text/plain", "text/html"]
    assert family["custom_args"]["program_id"] == "FP"
    assert not (tmp_path / "n" / "outbox").exists()


def test_a_bad_month_ends_with_one_clear_line(capsys):
    assert main(["--month", "2026-13"]) == 2
    assert "error: '2026-13' is not a month: write it as YYYY-MM, like 2026-08" in capsys.readouterr().err


def test_without_sending_each_nudge_is_written_as_a_preview_and_the_real_nudges_still_go_afterwards(
    tmp_path, state_dir, capsys
):
    import email
    import email.policy

    out = tmp_path / "nudges"
    assert main(["--month", "2026-08", "--output-dir", str(out), "--no-send"]) == 0
    assert "2026-08: 4 program(s): 2 not sent (sending off), 2 skipped." in capsys.readouterr().out
    previews = {
        path.name: email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in out.glob("preview-*.eml")
    }
    assert {name: message["To"] for name, message in previews.items()} == {
        "preview-monthly_nudge-2026-08-FP.eml": "fiona.jones@brightpath.example.org",
        "preview-monthly_nudge-2026-08-YM.eml": "wesley.flores@brightpath.example.org",
    }
    assert not outbox(out)
    # Nothing was recorded: the next run with sending on nudges both leads.
    assert main(["--month", "2026-08", "--output-dir", str(out)]) == 0
    assert "2 sent, 2 skipped" in capsys.readouterr().out
    assert len(outbox(out)) == 2
