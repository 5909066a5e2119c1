"""The delivery ledger for admins: see what was sent, and resolve emails of unknown outcome.

    python -m ops.deliveries list [--status unknown] [--kind quarterly_report] [--limit 50]
    python -m ops.deliveries mark-sent ENTRY [--note TEXT]    # it arrived (seen in SendGrid)
    python -m ops.deliveries mark-failed ENTRY [--note TEXT]  # it did not: the next run sends it

An entry is `unknown` when SendGrid may have taken an email but its answer was lost (a dropped
connection, a time-out), and `pending` when a run stopped mid-send. Neither is sent again by a
later run: check SendGrid's Activity Feed (Email Activity, search the recipient and the subject,
or the custom arg `content_hash`), then mark the entry. The ledger is the one the settings name
(COACHING_LEDGER_URL, else the SQLite file in the state folder).
"""

from __future__ import annotations

import argparse
import sys

from adapters.ledger import STATUSES
from config.settings import load_settings
from config.wiring import build_delivery_adapters

COLUMNS = ("id", "status", "kind", "period", "recipient", "channel", "started_at", "finished_at", "receipt")


def _table(rows: list[dict[str, object]]) -> str:
    cells = [[str(row.get(name) or "") for name in COLUMNS] for row in rows]
    widths = [max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(COLUMNS)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(COLUMNS, widths))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.deliveries", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="recorded deliveries, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--kind", help="quarterly_report, monthly_nudge or data_quality")
    listing.add_argument("--limit", type=int, default=50)
    for name, meaning in (("mark-sent", "it arrived"), ("mark-failed", "it did not arrive: the next run sends it")):
        marking = commands.add_parser(name, help=f"resolve an unknown or pending entry: {meaning}")
        marking.add_argument("entry", type=int, help="the entry's id (from `list` or the run's message)")
        marking.add_argument("--note", default="", help="why, for the record (e.g. 'seen in the activity feed')")
    args = parser.parse_args(argv)

    settings = load_settings()
    with build_delivery_adapters(settings, outbox_dir=None) as delivery:
        ledger = delivery.ledger
        if args.command == "list":
            rows = ledger.history(kind=args.kind, status=args.status, limit=args.limit)
            print(_table(rows) if rows else "No deliveries recorded" + (f" with status {args.status}." if args.status else "."))
            return 0
        status = "sent" if args.command == "mark-sent" else "failed"
        note = f"marked {status} by an admin" + (f": {args.note}" if args.note else "")
        try:
            updated = ledger.resolve(args.entry, status, note)
        except LookupError as refused:
            print(f"error: {refused}", file=sys.stderr)
            return 2
        print(
            f"Entry {args.entry} ({updated['kind']} {updated['period']} to {updated['recipient']}) is now {status}"
            + (": later runs will not send it again." if status == "sent" else ": the next run sends it.")
        )
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
