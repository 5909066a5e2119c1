"""The network benchmark: N agencies through `python -m flows.network_report`, all reading Google
Sheets through one service account, against a loopback Google that enforces the 60-reads-a-minute
quota and a loopback SendGrid.

    python -m bench.network --agencies N

Every agency is a spreadsheet holding the sample workbook's tabs. The run is the command as an
admin types it (one process: a temporary Prefect server, every agency a run of its own, the
roll-up), so the expensive imports are paid once. Prints agencies a minute, reads per agency,
answers of 429, CPU seconds per agency, peak memory, and the quota floor (the reads the run needs
÷ 60 a minute) beside the measured time; then as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from bench.pipeline import _peak_rss_mb, print_figures
from config.settings import PROJECT_ROOT
from tests.fakes.google_api import FakeGoogle, tabs_from_xlsx
from tests.fakes.sendgrid_api import TEST_API_KEY, FakeSendGrid

READS_PER_MINUTE = 60  # Google Sheets: read requests a minute per user (a service account is one user)
SERVICE_ACCOUNT = "network-reader@bench.iam.gserviceaccount.com"
SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"


def _registry(folder: Path, keys: list[str]) -> Path:
    agencies = [
        {
            "id": f"agency-{number:04d}",
            "name": f"Agency {number}",
            "source": key,
            "report_recipients": [f"director@agency-{number:04d}.example.org"],
            "allowed_recipient_domains": [f"agency-{number:04d}.example.org"],
        }
        for number, key in enumerate(keys, start=1)
    ]
    network = {
        "name": "Benchmark Network",
        "report_recipients": ["centre@network.example.org"],
        "allowed_recipient_domains": ["network.example.org"],
    }
    path = folder / "agencies.yaml"
    path.write_text(yaml.safe_dump({"network": network, "agencies": agencies}))
    return path


def run(agencies: int) -> dict[str, object]:
    from flows.cli import network_report_command

    tabs = tabs_from_xlsx(SAMPLE)
    with (
        tempfile.TemporaryDirectory(prefix="bench-network-") as temp,
        FakeGoogle(read_quota=READS_PER_MINUTE) as google,
        FakeSendGrid() as mail,
    ):
        folder = Path(temp)
        keys = [f"bench{number:04d}-{'k' * 30}" for number in range(1, agencies + 1)]
        for key in keys:
            google.add_spreadsheet(key, key, tabs, shared_with={SERVICE_ACCOUNT: "reader"})
        credentials = folder / "service-account.json"
        credentials.write_text(json.dumps(google.new_service_account(SERVICE_ACCOUNT)))
        os.environ.update(
            {
                "COACHING_STATE_DIR": str(folder / "state"),
                "COACHING_SHEETS_API_URL": google.url,
                "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
                "SENDGRID_API_KEY": TEST_API_KEY,
                "COACHING_SENDGRID_API_URL": mail.url,
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
        )
        registry = _registry(folder, keys)
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        code = network_report_command(
            ["--registry", str(registry), "--quarter", "2026-Q3", "--output-dir", str(folder / "out")]
        )
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        sheets = google.sheets_calls
        read_keys = Counter(
            call.path.removeprefix("/v4/spreadsheets/").split("/")[0] for call in sheets if call.status == 200
        )
        answered_429 = sum(call.status == 429 for call in sheets)
        delivered = len(mail.messages)
    reads = sum(read_keys.values())
    floor_seconds = reads / READS_PER_MINUTE * 60
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "agencies": agencies,
        "exit_code": code,
        "emails_delivered": delivered,
        "seconds": round(seconds, 1),
        "agencies_per_minute": round(agencies / seconds * 60, 1),
        "reads_per_agency": round(reads / agencies, 2),
        "answers_429": answered_429,
        "quota_floor_seconds": round(floor_seconds, 1),
        "measured_over_floor": round(seconds / floor_seconds, 2) if floor_seconds else None,
        "cpu_seconds_per_agency": round(cpu / agencies, 2),
        "peak_rss_mb": _peak_rss_mb(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, required=True, help="how many agencies the network has")
    args = parser.parse_args(argv)
    if args.agencies < 1:
        parser.error("--agencies must be positive")
    figures = run(args.agencies)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
