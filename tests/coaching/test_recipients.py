"""Who may receive email: plain addresses, only at the allowed domains when those are set."""

from __future__ import annotations

import pytest

from coaching.recipients import RecipientError, check_recipients


def test_addresses_are_trimmed_and_deduplicated_ignoring_case_keeping_the_first_spelling_and_order():
    addresses = [" Director@Example.org", "ops@example.org ", "director@example.ORG", "", "  "]

    assert check_recipients(addresses, []) == ("Director@Example.org", "ops@example.org")


def test_an_address_outside_the_allowed_domains_is_refused_naming_it_and_the_domains():
    with pytest.raises(RecipientError) as refusal:
        check_recipients(["lead@agency.gov", "friend@gmail.com"], ["agency.gov", "partner.org"])

    message = str(refusal.value)
    assert "friend@gmail.com" in message and "lead@agency.gov" not in message
    assert "allowed recipient domains (agency.gov, partner.org" in message
    assert refusal.value.offending == ("friend@gmail.com",)


@pytest.mark.parametrize(
    "address",
    ["lead@mail.agency.gov", "lead@agency.gov.attacker.net", "lead@notagency.gov"],
)
def test_subdomains_and_look_alike_domains_are_not_allowed_unless_listed(address):
    with pytest.raises(RecipientError, match="exact match, subdomains must be listed"):
        check_recipients([address], ["agency.gov"])

    assert check_recipients([address], ["agency.gov", address.partition("@")[2]]) == (address,)


def test_allowed_domains_match_whatever_their_case_or_a_leading_at_sign():
    assert check_recipients(["Lead@Agency.GOV"], [" @agency.gov "]) == ("Lead@Agency.GOV",)


def test_without_allowed_domains_any_plain_address_may_receive():
    addresses = ("a@example.org", "b@elsewhere.net", "mary.o'neil+coaching@health.state.ny.us")

    assert check_recipients(addresses, []) == addresses


@pytest.mark.parametrize(
    "address",
    [
        "Leadership <lead@agency.gov>",
        "lead at agency.gov",
        "lead@agency",
        "lead@@agency.gov",
        "lead@agency.gov\nBcc: everyone@agency.gov",
        "lead@agency.gov, other@agency.gov",
        '=HYPERLINK("http://x")@agency.gov',
        "=cmd@agency.gov",
        "lead.@agency.gov",
    ],
)
def test_anything_that_is_not_a_plain_email_address_is_refused(address):
    with pytest.raises(RecipientError, match="not a plain email address") as refusal:
        check_recipients(["ok@agency.gov", address], [])

    assert refusal.value.offending == (address,)


def test_every_offending_address_is_named_in_one_message():
    with pytest.raises(RecipientError) as refusal:
        check_recipients(["bad address", "x@gmail.com", "ok@agency.gov"], ["agency.gov"])

    assert refusal.value.offending == ("bad address", "x@gmail.com")
    assert "'bad address'" in str(refusal.value) and "x@gmail.com" in str(refusal.value)


def test_no_recipients_at_all_is_refused():
    with pytest.raises(RecipientError, match="No recipients"):
        check_recipients(["  ", ""], ["agency.gov"])


def test_an_address_the_plain_pattern_accepts_but_the_standard_does_not_is_refused_before_sending():
    too_long = "a" * 65 + "@agency.gov"  # a local part is at most 64 characters
    with pytest.raises(RecipientError) as refusal:
        check_recipients(["lead@agency.gov", too_long], [])
    assert refusal.value.offending == (too_long,)
