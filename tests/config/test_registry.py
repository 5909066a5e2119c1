"""The registry: each agency's settings are its own values over the shared ones, and its records are its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from coaching.records import UsageError
from config.registry import agency_settings, parse_registry
from config.settings import load_settings

NETWORK = {
    "name": "Test Network",
    "report_recipients": ["centre@network.example.org"],
    "allowed_recipient_domains": ["network.example.org"],
}


def agency(agency_id: str, **more: object) -> dict[str, object]:
    return {
        "id": agency_id,
        "name": f"{agency_id.title()} Services",
        "source": f"data/network/{agency_id}.xlsx",
        "report_recipients": [f"director@{agency_id}.example.org"],
        "allowed_recipient_domains": [f"{agency_id}.example.org"],
        **more,
    }


def test_an_agency_gets_its_own_values_over_the_shared_settings_and_keeps_the_rest(tmp_path):
    shared = load_settings(state_dir=tmp_path / "state")
    data = {
        "network": NETWORK,
        "agencies": [
            agency("lakeshore", timezone="America/Chicago", tabs={"coaching_log": "Sessions"}),
            agency("north"),
        ],
    }
    lakeshore, north = (
        agency_settings(shared, a) for a in parse_registry(data, Path("agencies.yaml"), shared).agencies
    )
    assert (lakeshore.timezone, north.timezone) == ("America/Chicago", shared.timezone)
    assert lakeshore.tabs.coaching_log == "Sessions" and lakeshore.tabs.staff == shared.tabs.staff
    assert lakeshore.organisation == "Lakeshore Services"
    assert lakeshore.report_recipients == ["director@lakeshore.example.org"]
    assert lakeshore.data_stewards == ["director@lakeshore.example.org"]  # no stewards: its recipients hear
    assert lakeshore.targets == shared.targets and lakeshore.email_from == shared.email_from
    # Its own record of what was sent and reported, whichever database holds it.
    assert (lakeshore.state_dir, north.state_dir) == (
        tmp_path / "state/agencies/lakeshore",
        tmp_path / "state/agencies/north",
    )
    assert (lakeshore.ledger_schema, north.ledger_schema) == ("agency_lakeshore", "agency_north")


def test_a_key_that_is_not_a_setting_an_agency_can_have_is_named_with_the_agency():
    shared = load_settings()
    data = {
        "network": NETWORK,
        "agencies": [agency("one", state_dir="/elsewhere", colour="blue")],
    }
    with pytest.raises(UsageError) as refused:
        parse_registry(data, Path("agencies.yaml"), shared)
    message = str(refused.value)
    assert "agency 'one': 'state_dir' is not a setting an agency can have" in message
    assert "agency 'one': 'colour' is not a setting an agency can have" in message
    assert "(2 problem(s))" in message


def test_a_value_that_does_not_validate_is_named_with_the_agency_and_the_setting():
    shared = load_settings()
    data = {"network": NETWORK, "agencies": [agency("two", fiscal_year_start_month=13)]}
    with pytest.raises(
        UsageError, match=r"agency 'two': fiscal_year_start_month: Input should be less than or equal to 12"
    ):
        parse_registry(data, Path("agencies.yaml"), shared)


def test_one_agencys_run_checks_that_agencys_settings_and_not_every_other_agencys():
    # The network run has checked the whole file before any agency runs; each agency's run then
    # checks its own settings only, so that its cost does not grow with the size of the network.
    shared = load_settings()
    data = {"network": NETWORK, "agencies": [agency("good"), agency("bad", fiscal_year_start_month=13)]}
    (good, bad) = parse_registry(data, Path("agencies.yaml"), shared, only="good").agencies
    assert (good.id, bad.id) == ("good", "bad")
    with pytest.raises(UsageError, match=r"agency 'bad': fiscal_year_start_month"):
        parse_registry(data, Path("agencies.yaml"), shared, only="bad")
