"""The outbox: each email becomes an .eml file any mail program opens, with everything in it."""

from __future__ import annotations

import email
import re
from email.policy import default
from pathlib import Path

from adapters.mailers import OutboxMailer
from tests.fakes.sendgrid_api import report_email


def unwrapped(text: str) -> str:
    """The body as written, without the CRLF line ends and final newline of the wire format."""
    return text.replace("\r\n", "\n").rstrip("\n")


def test_the_outbox_writes_an_eml_with_both_bodies_the_inline_chart_and_the_csvs(tmp_path):
    sent = report_email()

    receipt = OutboxMailer(tmp_path / "outbox").send(sent)

    path = Path(receipt.where)
    assert path.parent == tmp_path / "outbox" and path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert message["Subject"] == sent.subject
    assert message["From"] == sent.sender
    assert [address.addr_spec for address in message["To"].addresses] == list(sent.recipients)
    assert unwrapped(message.get_body(("plain",)).get_content()) == sent.text
    html = unwrapped(message.get_body(("html",)).get_content())
    assert html == sent.html

    # The chart sits next to the HTML in one multipart/related: that is what mail programs resolve cid: in.
    [related] = [part for part in message.walk() if part.get_content_type() == "multipart/related"]
    html_part, chart = related.iter_parts()
    assert (html_part.get_content_type(), chart.get_content_type()) == ("text/html", "image/png")
    assert chart["Content-ID"] == "<coverage-chart>"
    assert chart.get_content_disposition() == "inline"
    assert re.findall(r'src="cid:([^"]+)"', html) == ["coverage-chart"]
    assert chart.get_payload(decode=True) == sent.attachments[0].content

    files = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert files == {item.filename: item.content for item in sent.attachments if not item.inline}


def test_sending_the_same_email_again_writes_a_second_file_and_keeps_the_first(tmp_path):
    mailer = OutboxMailer(tmp_path)

    first = mailer.send(report_email())
    second = mailer.send(report_email())  # what a forced re-send does

    assert first != second
    assert sorted(tmp_path.iterdir()) == sorted([Path(first.where), Path(second.where)])
