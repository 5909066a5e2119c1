"""Write the sample network's workbooks: three agencies made from the sample agency's records.

Run from the project root: `.venv/bin/python -m data.make_network [--out DIR]`.

Each agency is the sample workbook (data/make_workbooks.py) under its own program names and staff
email domain, with a share of its coaching-log sessions left out, so that the three score
differently: Northfield keeps every session, Riverside leaves out every fourth, Lakeshore every
second. config/agencies.yaml points at them. The output is deterministic.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from data.make_workbooks import DATA_DIR, save

SAMPLE_DOMAIN = "brightpath.example.org"


@dataclass(frozen=True)
class SampleAgency:
    id: str
    domain: str
    program_prefix: str  # put before each program's name
    drop_every: int  # leave out every n-th coaching-log session (0: none)


AGENCIES = (
    SampleAgency("northfield", "northfield.example.org", "Northfield", 0),
    SampleAgency("riverside", "riverside.example.org", "Riverside", 4),
    SampleAgency("lakeshore", "lakeshore.example.org", "Lakeshore", 2),
)


def build_agency(sample: Path, agency: SampleAgency) -> openpyxl.Workbook:
    book = openpyxl.load_workbook(sample)
    for row in book["Programs"].iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].value = f"{agency.program_prefix} {row[0].value}"
    for row in book["Staff"].iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and SAMPLE_DOMAIN in cell.value:
                cell.value = cell.value.replace(SAMPLE_DOMAIN, agency.domain)
    if agency.drop_every:
        log = book["Coaching Log"]
        rows = [[cell.value for cell in row] for row in log.iter_rows(min_row=2)]
        kept = [row for number, row in enumerate(rows, start=1) if number % agency.drop_every]
        log.delete_rows(2, len(rows))
        for number, row in enumerate(kept, start=2):
            for column, value in enumerate(row, start=1):
                log.cell(number, column, value)
    return book


def write_network(out_dir: Path = DATA_DIR / "network") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for agency in AGENCIES:
        path = out_dir / f"{agency.id}.xlsx"
        save(build_agency(DATA_DIR / "sample_workbook.xlsx", agency), path)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.make_network", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR / "network")
    for path in write_network(parser.parse_args(argv).out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
