"""The network's registry (`config/agencies.yaml`): who the agencies are, and one `Settings` per agency.

    network:
      name: Statewide Coaching Network
      report_recipients: [ta-centre@network.example.org]
      allowed_recipient_domains: [network.example.org]
    agencies:
      - id: brightpath                 # lowercase letters, digits, dashes; unique
        name: BrightPath Family Services
        source: "https://docs.google.com/spreadsheets/d/KEY/edit"   # or an .xlsx path
        report_recipients: [director@brightpath.example.org]
        allowed_recipient_domains: [brightpath.example.org]
        data_stewards: [data@brightpath.example.org]                # optional
        timezone: America/Chicago      # optional: any other setting of config/settings.yaml

An agency's settings are its values over the shared ones (config/settings.yaml and COACHING_…),
nested sections (tabs, targets, quality) merged key by key. Each agency keeps its own records of
what was sent and reported: its own SQLite file under `<state_dir>/agencies/<id>/`, or, on a shared
PostgreSQL ledger (COACHING_LEDGER_URL), its own schema `agency_<id>` (after COACHING_LEDGER_SCHEMA
and an underscore when that is set). The file is checked as a
whole when it is loaded: every problem is one line naming the agency and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import PROJECT_ROOT, Settings

DEFAULT_REGISTRY = PROJECT_ROOT / "config" / "agencies.yaml"
REGISTRY_VARIABLE = "COACHING_REGISTRY"
AGENCY_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# The keys that give an agency its identity and its recipients; any other key is a setting.
_AGENCY_KEYS = ("id", "name", "source", "report_recipients", "allowed_recipient_domains", "data_stewards")
_NETWORK_KEYS = ("name", "report_recipients", "allowed_recipient_domains")
# Settings the registry decides per agency and never takes from an agency's entry.
_NOT_PER_AGENCY = frozenset({"state_dir", "ledger_schema", "organisation"})


def registry_path(asked: str | None = None) -> Path:
    """`--registry` when given, else COACHING_REGISTRY, else config/agencies.yaml."""
    return Path(asked or os.environ.get(REGISTRY_VARIABLE) or DEFAULT_REGISTRY)


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    source: str
    report_recipients: tuple[str, ...]
    allowed_recipient_domains: tuple[str, ...]
    data_stewards: tuple[str, ...]
    settings: Mapping[str, Any]  # the agency's other settings, as written


@dataclass(frozen=True)
class Network:
    name: str
    report_recipients: tuple[str, ...]
    allowed_recipient_domains: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    path: Path
    network: Network
    agencies: tuple[Agency, ...]

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        from coaching.records import UsageError

        raise UsageError(f"No agency '{agency_id}' in {self.path} (agencies: {', '.join(self.ids)}).")

    @property
    def ids(self) -> list[str]:
        return [agency.id for agency in self.agencies]

    def select(self, asked: Sequence[str] | None) -> tuple[Agency, ...]:
        """The agencies named in `asked` (registry order), every one when None or empty; an unknown id is refused."""
        if not asked:
            return self.agencies
        from coaching.records import UsageError

        unknown = [agency_id for agency_id in asked if agency_id not in self.ids]
        if unknown:
            raise UsageError(
                f"No agency {', '.join(map(repr, unknown))} in {self.path} (agencies: {', '.join(self.ids)})."
            )
        return tuple(agency for agency in self.agencies if agency.id in asked)


def _registry_error(path: Path, problems: Sequence[str]) -> Exception:
    from coaching.records import UsageError

    lines = "\n".join(f"  - {problem}" for problem in problems)
    return UsageError(f"The registry {path} cannot be used ({len(problems)} problem(s)):\n{lines}")


def _addresses(value: object, where: str, problems: list[str], *, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or (required and not value):
        problems.append(f"{where}: give a list of email addresses, e.g. [name@example.org]")
        return ()
    return tuple(item.strip() for item in value if item.strip())


def _check_recipients(addresses: tuple[str, ...], domains: tuple[str, ...], where: str, problems: list[str]) -> None:
    from coaching.recipients import RecipientError, check_recipients

    try:
        check_recipients(addresses, domains, where)
    except RecipientError as error:
        problems.append(f"{where}: {error}")


def _domains(value: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{where}: give a list of domains, e.g. [example.org]")
        return ()
    return tuple(value)


def _is_source(reference: str) -> bool:
    from adapters.google_sheets import spreadsheet_key_from

    return spreadsheet_key_from(reference) is not None or reference.strip().lower().endswith(".xlsx")


def _network(section: object, problems: list[str]) -> Network:
    if not isinstance(section, dict):
        problems.append("network: missing (name, report_recipients, allowed_recipient_domains)")
        return Network("", (), ())
    for key in section.keys() - set(_NETWORK_KEYS):
        problems.append(f"network: unknown key '{key}' (keys: {', '.join(_NETWORK_KEYS)})")
    name = section.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("network.name: give the network's name")
        name = ""
    domains = _domains(section.get("allowed_recipient_domains"), "network.allowed_recipient_domains", problems)
    recipients = _addresses(section.get("report_recipients"), "network.report_recipients", problems, required=True)
    if recipients:
        _check_recipients(recipients, domains, "network.report_recipients", problems)
    return Network(name.strip(), recipients, domains)


def _agency(entry: object, number: int, seen: set[str], problems: list[str]) -> Agency | None:
    if not isinstance(entry, dict):
        problems.append(f"agencies[{number}]: each agency is a mapping with id, name, source, report_recipients")
        return None
    agency_id = entry.get("id")
    if not isinstance(agency_id, str) or not AGENCY_ID.fullmatch(agency_id):
        problems.append(
            f"agencies[{number}].id: {agency_id!r} is not an id (lowercase letters, digits and dashes, e.g. north-county)"
        )
        return None
    if agency_id in seen:
        problems.append(f"agency '{agency_id}': the id is used twice (ids must be unique)")
        return None
    seen.add(agency_id)
    where = f"agency '{agency_id}'"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: give the agency's name")
    source = entry.get("source")
    if not isinstance(source, str) or not _is_source(source):
        problems.append(f"{where}.source: {source!r} is neither a Google Sheets URL or key nor an .xlsx path")
    domains = _domains(entry.get("allowed_recipient_domains"), f"{where}.allowed_recipient_domains", problems)
    recipients = _addresses(entry.get("report_recipients"), f"{where}.report_recipients", problems, required=True)
    if recipients:
        _check_recipients(recipients, domains, f"{where}.report_recipients", problems)
    stewards = _addresses(entry.get("data_stewards"), f"{where}.data_stewards", problems, required=False)
    if stewards:
        _check_recipients(stewards, domains, f"{where}.data_stewards", problems)
    others = {key: value for key, value in entry.items() if key not in _AGENCY_KEYS}
    for key in others:
        if key not in Settings.model_fields or key in _NOT_PER_AGENCY:
            problems.append(f"{where}: '{key}' is not a setting an agency can have")
    return Agency(
        agency_id, str(name or "").strip(), str(source or ""), recipients, domains, stewards or recipients, others
    )


def parse_registry(data: object, path: Path, shared: Settings, only: str | None = None) -> Registry:
    """The registry from the YAML's data, checked; UsageError listing every problem. With `only`, the
    settings of that agency alone are validated as a whole (one agency's run in a network: checking
    every agency's settings in every agency's run would cost each run time in proportion to N)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise _registry_error(path, ["the file should hold a mapping with 'network' and 'agencies'"])
    for key in data.keys() - {"network", "agencies"}:
        problems.append(f"unknown top-level key '{key}' (keys: network, agencies)")
    network = _network(data.get("network"), problems)
    entries = data.get("agencies")
    if not isinstance(entries, list) or not entries:
        problems.append("agencies: give a list of at least one agency")
        entries = []
    seen: set[str] = set()
    agencies = [agency for number, entry in enumerate(entries) if (agency := _agency(entry, number, seen, problems))]
    registry = Registry(path, network, tuple(agencies))
    if not problems:  # each agency's settings must validate as a whole
        for agency in agencies:
            if only is not None and agency.id != only:
                continue
            try:
                agency_settings(shared, agency)
            except ValueError as error:
                problems.append(f"agency '{agency.id}': {error}")
    if problems:
        raise _registry_error(path, problems)
    return registry


def load_registry(path: Path, shared: Settings, only: str | None = None) -> Registry:
    """The registry in `path`, checked (see `parse_registry` for `only`)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise _registry_error(path, [f"cannot read it ({error.strerror or error})"]) from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10× faster
    except yaml.YAMLError as error:
        raise _registry_error(path, [f"not valid YAML: {error}"]) from None
    return parse_registry(data, path, shared, only)


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = _merged(base[key], value)
        else:
            merged[key] = value
    return merged


def ledger_schema(shared: Settings, name: str) -> str:
    """The PostgreSQL schema of an agency (`agency_<id>`) or of the network (`network`) on a shared
    ledger, after the shared `ledger_schema` when one is set (several networks in one database)."""
    prefix = f"{shared.ledger_schema}_" if shared.ledger_schema else ""
    return prefix + name.replace("-", "_")


def agency_settings(shared: Settings, agency: Agency) -> Settings:
    """The agency's values over the shared settings; its own state folder and ledger schema.
    Raises ValueError naming each setting that does not validate."""
    from pydantic import ValidationError

    values = _merged(
        shared.model_dump(),
        {
            **agency.settings,
            "organisation": agency.name,
            "source": agency.source,
            "report_recipients": list(agency.report_recipients),
            "allowed_recipient_domains": list(agency.allowed_recipient_domains),
            "data_stewards": list(agency.data_stewards),
            "state_dir": shared.state_dir / "agencies" / agency.id,
            "ledger_schema": ledger_schema(shared, f"agency-{agency.id}"),
        },
    )
    try:
        return Settings.model_validate(values, by_name=True)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
                for error in exc.errors()
            )
        ) from None
