"""The delivery ledger for admins: see what was sent, and resolve emails of unknown outcome.

    python -m ops.deliveries list [--status unknown] [--kind quarterly_report] [--limit 50]
    python -m ops.deliveries mark-sent ENTRY [--note TEXT]    # it arrived (seen in SendGrid)
    python -m ops.deliveries mark-failed ENTRY [--note TEXT]  # it did not: the next run sends it
    python -m ops.deliveries resend ENTRY                     # send that one copy again, now
    python -m ops.deliveries unresolved                       # what waits for a decision, with advice

An entry is `unknown` when SendGrid may have taken an email but its answer was lost (a dropped
connection, a time-out), and `pending` when a run stopped mid-send. Neither is sent again by a
later run: check SendGrid's Activity Feed (Email Activity, search the recipient and the subject,
or the custom arg `content_hash`); if it arrived, mark it sent; if not, `resend` sends that one
copy again now, to that recipient alone, through the mailer these settings build (the same
channel as the entry's), or mark it failed and the next run sends it. The ledger is the one the settings name
(COACHING_LEDGER_URL, else the SQLite file in the state folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.ledger import STATUSES, UNRESOLVED, unresolved_lines
from coaching.email import EmailKind
from coaching.records import PipelineError
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
    listing.add_argument("--status", choices=(*STATUSES, "unresolved"), help="unresolved: pending or unknown")
    listing.add_argument("--kind", choices=[kind.value for kind in EmailKind])
    listing.add_argument("--limit", type=int, default=50)
    for name, meaning in (("mark-sent", "it arrived"), ("mark-failed", "it did not arrive: the next run sends it")):
        marking = commands.add_parser(name, help=f"resolve an unknown or pending entry: {meaning}")
        marking.add_argument("entry", type=int, help="the entry's id (from `list` or the run's message)")
        marking.add_argument("--note", default="", help="why, for the record (e.g. 'seen in the activity feed')")
    resending = commands.add_parser(
        "resend", help="send an entry's email again to its one recipient (an unknown entry is first marked failed)"
    )
    resending.add_argument("entry", type=int, help="the entry's id (from `list` or the run's message)")
    commands.add_parser("unresolved", help="the entries that wait for a decision, with what to do (nothing if none)")
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except PipelineError as exc:  # the ledger's database is not answering
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    # Without a SendGrid key, a re-sent copy goes to an outbox in the state folder.
    outbox = Path(settings.state_dir) / "resent" / "outbox" if args.command == "resend" else None
    with build_delivery_adapters(settings, outbox_dir=outbox) as delivery:
        ledger = delivery.ledger
        if args.command == "unresolved":
            for line in unresolved_lines(ledger):
                print(line)
            return 0
        if args.command == "resend":
            assert delivery.mailer is not None  # built with an outbox folder
            try:
                result = ledger.resend(delivery.mailer, args.entry)
            except LookupError as refused:
                print(f"error: {refused}", file=sys.stderr)
                return 2
            print(result.sentence)
            return 0 if result.outcome.value in ("sent", "already_sent") else 2
        if args.command == "list":
            status = UNRESOLVED if args.status == "unresolved" else args.status
            rows = ledger.history(kind=args.kind, status=status, limit=args.limit)
            print(
                _table(rows)
                if rows
                else "No deliveries recorded" + (f" with status {args.status}." if args.status else ".")
            )
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
