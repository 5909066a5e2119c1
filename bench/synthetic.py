"""Synthetic coaching-records workbooks of any size, shaped like the Google Sheets API's answer.

`synthetic_workbook(cells, seed)` builds, in memory, what `values:batchGet` with UNFORMATTED_VALUE
and SERIAL_NUMBER dates returns: JSON numbers (dates as serial days, date-times with a fraction),
booleans and strings; a blank cell in the middle of a row is `""`, trailing blanks are trimmed and
a blank row is `[]`. The knob is the number of cells (the unit of Google Sheets' 10 million limit):
at 10 M cells about 333 programs, 20 000 staff and 800 000 coaching-log rows.

The records have the sample's realistic gaps (blank optional cells, a few dates and booleans typed
as text, numeric text, blank rows) and about 0.6 % deliberate bad rows, each listed in `planted`
so that a test can check that exactly those rows are quarantined. Every column is built with
numpy for the whole tab and turned into Python values once (`.tolist()`); the same seed gives the
same workbook. The rows go through `json.dumps`/`json.loads` last, so that every cell is its own
Python object, as in the API's parsed answer (shared objects would make hashing and memory cheaper
than they are in a real run).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import reduce

import numpy as np

from coaching.contract import (
    COACHING_LOG,
    COACHING_PLAN,
    FIDELITY,
    IMPROVEMENT_ACTIONS,
    PLAN_COMPONENTS,
    PROGRAMS,
    SATISFACTION,
    STAFF,
    Tab,
)
from coaching.records import RawTab, RawWorkbook, Severity
from data.make_workbooks import LABELS

SHEETS_EPOCH = dt.date(1899, 12, 30)
FIRST_DAY = dt.date(2025, 1, 1)  # the records cover 2025-Q1 … 2026-Q3
LAST_DAY = dt.date(2026, 9, 30)
RUN_DATE = dt.date(2026, 10, 15)
QUARTER = "2026-Q3"
QUARTER_LABELS = [f"{year}-Q{n}" for year in (2025, 2026) for n in (1, 2, 3, 4)]  # actions up to 2026-Q4
# Cells per staff member, all tabs together (most of them coaching-log rows), and team sizes.
CELLS_PER_STAFF = 500
STAFF_PER_PROGRAM = 60
MIN_PROGRAMS = 4
MIN_STAFF_PER_PROGRAM = 6  # two coaches, a supervisor, a leader, two practitioners at least
LOG_ENTERED_BY = "Entered By"  # an extra column the pipeline ignores, as in the sample
BAD_ROW_SHARE = 0.006  # rows with a deliberate error, per tab
WARNING_SHARE = 0.002  # rows with a doubtful value (kept, value ignored)
TEXT_SHARE = 0.01  # dates, booleans and numbers typed as text
BLANK_ROW_SHARE = 0.0005
DOMAIN = "agency.example.org"
NOTES = ("Reviewed case plan", "Observed home visit", "Follow-up on safety plan", "Role play", "Shadowed intake")
COMMENTS = ("Very helpful", "Good feedback", "More observation please", "Sessions ran late", "Clear next steps")
ACTIONS = (
    "Schedule monthly observations",
    "Name a backup coach",
    "Write the feedback protocol",
    "Start coach fidelity checks",
    "Review the coaching plan",
)
LONG_COMPONENTS = {
    "skill_sets": "Skill sets to be coached",
    "frequency": "Frequency of coaching",
    "methods": "Coaching methods",
    "feedback": "Feedback methods and timeframe",
    "communication": "Communication protocols for coach and supervisor",
}
STATUS_SPELLINGS = ("Proposed", "Planned", "In progress", "Done", "Dropped", "planned", "in_progress", "done")


@dataclass(frozen=True)
class Planted:
    """A deliberate mistake: where it is and whether it quarantines its row."""

    tab: str  # tab title
    row: int  # sheet row (header = 1)
    column: str  # header as in the sheet
    severity: Severity


@dataclass(frozen=True)
class SyntheticWorkbook:
    raw: RawWorkbook
    planted: tuple[Planted, ...]
    cells: int  # grid cells of all tabs, header rows included
    rows: int  # data rows of all tabs (blank rows included)


def serial(day: dt.date) -> int:
    """A date as Google Sheets' serial number (days since 1899-12-30)."""
    return (day - SHEETS_EPOCH).days


def _month_day_year(stamps: np.ndarray) -> np.ndarray:
    """datetime64[D] → "7/14/2026", the sheet's default date format."""
    months = stamps.astype("datetime64[M]")
    parts = (
        (months.astype(int) % 12 + 1).astype(str),
        "/",
        ((stamps - months).astype(int) + 1).astype(str),
        "/",
        (months.astype("datetime64[Y]").astype(int) + 1970).astype(str),
    )
    return reduce(np.char.add, parts)


def _blank_rows(size: int) -> int:
    """How many blank rows a tab of `size` data rows gets (never before its first row)."""
    return int(round(BLANK_ROW_SHARE * max(size - 1, 0)))


def _grid_rows(size: int) -> int:
    """Sheet rows of a tab: the header, the data rows and the blank rows among them."""
    return 1 + size + _blank_rows(size)


class _Tab:
    """A tab being built: header → object array of cells, "" for a blank cell."""

    def __init__(self, spec: Tab, size: int, order: tuple[str, ...] = ()) -> None:
        self.spec = spec
        self.size = size
        self.order = order or tuple(spec.column_names)
        self.columns: dict[str, np.ndarray] = {}
        self.planted: list[tuple[np.ndarray, str, Severity]] = []

    def set(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = np.asarray(values, dtype=object)

    def plant(self, rows: np.ndarray, name: str, values: object, severity: Severity = Severity.ERROR) -> None:
        """Overwrite cells of some rows with a mistake, and remember where it is."""
        self.columns[name][rows] = values
        self.planted.append((np.asarray(rows), name, severity))

    def raw(self, blank_rows: np.ndarray) -> tuple[RawTab, list[Planted]]:
        """The tab as the API returns it; a `[]` row goes before each data row listed in `blank_rows`."""
        grid = (
            np.column_stack([self.columns[name] for name in self.order])
            if self.size
            else np.empty((0, len(self.order)), dtype=object)
        )
        # Trailing blank cells are trimmed: each row is as long as its last filled cell.
        filled = (grid != "")[:, ::-1]
        lengths = np.where(filled.any(axis=1), len(self.order) - filled.argmax(axis=1), 0)
        rows = [row[:length] for row, length in zip(grid.tolist(), lengths.tolist())]
        blank_rows = np.sort(blank_rows)
        for offset, at in enumerate(blank_rows.tolist()):
            rows.insert(at + offset, [])
        sheet_row = np.arange(self.size) + 2 + np.searchsorted(blank_rows, np.arange(self.size), "right")
        # Through JSON, as the API's answer reaches the adapter: every cell its own Python object.
        rows = json.loads(json.dumps(rows))
        planted = [
            Planted(self.spec.default_title, int(sheet_row[at]), LABELS[name], severity)
            for where, name, severity in self.planted
            for at in where.tolist()
        ]
        headers = [LABELS.get(name, name) for name in self.order]
        return RawTab(self.spec.default_title, [headers, *rows]), planted


class _Generator:
    def __init__(self, cells: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.staff_count = max(cells // CELLS_PER_STAFF, MIN_PROGRAMS * MIN_STAFF_PER_PROGRAM)
        self.program_count = max(self.staff_count // STAFF_PER_PROGRAM, MIN_PROGRAMS)
        self.cells = cells

    # -- helpers ----------------------------------------------------------------------------

    def pick(self, size: int, share: float, minimum: int = 0, among: np.ndarray | None = None) -> np.ndarray:
        """Distinct positions (of `among`, default every row): `share` of them, at least `minimum`."""
        pool = np.arange(size) if among is None else among
        count = min(len(pool), max(minimum, int(round(share * len(pool)))))
        return np.sort(self.rng.choice(pool, count, replace=False)) if count else np.array([], dtype=int)

    def dates(self, days: np.ndarray, text_share: float = TEXT_SHARE) -> np.ndarray:
        """Serial numbers, a few written as text (M/D/YYYY or YYYY-MM-DD) the way people type them."""
        days = np.asarray(days, dtype=np.int64)
        cells = days.astype(object)
        typed = self.pick(len(days), text_share, 1)
        stamps = np.datetime64(SHEETS_EPOCH, "D") + days[typed].astype("timedelta64[D]")
        written = np.where(self.rng.random(len(typed)) < 0.7, _month_day_year(stamps), np.datetime_as_string(stamps))
        cells[typed] = written.astype(object)
        return cells

    def booleans(self, values: np.ndarray, blank_false_share: float = 0.0) -> np.ndarray:
        """Checkbox cells, a few typed as words, some FALSE cells left blank."""
        cells = values.astype(bool).astype(object)
        blank = self.pick(len(values), blank_false_share, among=np.flatnonzero(~values))
        cells[blank] = ""
        typed = self.pick(len(values), TEXT_SHARE, 1)
        words = np.where(
            values[typed],
            self.rng.choice(["yes", "Yes", "y", "x", "TRUE"], len(typed)),
            self.rng.choice(["no", "N", "FALSE", "0"], len(typed)),
        )
        cells[typed] = words.astype(object)
        return cells

    def blanks(self, values: np.ndarray, share: float) -> np.ndarray:
        values = np.asarray(values, dtype=object).copy()
        values[self.pick(len(values), share)] = ""
        return values

    def ids(self, prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
        return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)

    # -- tabs -------------------------------------------------------------------------------

    def people(self) -> None:
        """Who works where: every program gets its minimum team, the rest are spread unevenly."""
        n, p = self.staff_count, self.program_count
        weights = self.rng.lognormal(0, 0.5, p)
        extra = self.rng.choice(p, n - p * MIN_STAFF_PER_PROGRAM, p=weights / weights.sum())
        program = self.rng.permutation(np.concatenate([np.repeat(np.arange(p), MIN_STAFF_PER_PROGRAM), extra]))
        order = np.argsort(program, kind="stable")
        first = np.searchsorted(program[order], np.arange(p))
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n) - first[program[order]]
        self.program_of = program
        self.role = np.select([rank < 2, rank == 2, rank == 3], ["coach", "supervisor", "leader"], "practitioner")
        self.coaches = order[first[:, None] + np.array([0, 1])]  # program → its two coaches
        self.staff_ids = self.ids("", np.arange(n) + 101, 6)
        self.program_ids = self.ids("P", np.arange(p) + 1, 4)
        window = (serial(FIRST_DAY), serial(LAST_DAY))
        hired_before = self.rng.random(n) < 0.85
        start = np.where(
            hired_before,
            self.rng.integers(serial(dt.date(2016, 1, 1)), window[0], n),
            self.rng.integers(window[0], window[1] - 30, n),
        )
        start[self.role != "practitioner"] = self.rng.integers(
            serial(dt.date(2012, 1, 1)), window[0], (self.role != "practitioner").sum()
        )
        leaves = (self.rng.random(n) < 0.10) & (self.role == "practitioner")
        # A few coaching leads leave during the last quarter: their program's lead is not active.
        leaves |= (rank == 0) & (self.rng.random(n) < 0.05)
        end = np.where(leaves, self.rng.integers(np.maximum(start, window[0]) + 30, window[1] + 1), -1)
        end[leaves & (rank == 0)] = self.rng.integers(
            serial(dt.date(2026, 7, 1)), window[1] - 1, (leaves & (rank == 0)).sum()
        )
        self.start, self.end = start, end
        # Program intensity: how many sessions its practitioners get, and how many of them are multi-source.
        self.intensity = self.rng.uniform(0.5, 1.6, p)
        self.observed = self.rng.uniform(0.6, 1.0, p)
        self.second = self.rng.uniform(0.3, 0.8, p)

    def programs(self) -> _Tab:
        p = self.program_count
        bad = self.pick(p, BAD_ROW_SHARE)
        tab = _Tab(PROGRAMS, p + len(bad))
        ids = np.concatenate([self.program_ids, self.program_ids[self.rng.choice(p, len(bad))]])
        tab.set("program_id", ids)
        tab.set("program_name", np.char.add("Program ", ids.astype(str)).astype(object))
        leads = self.blanks(self.staff_ids[self.coaches[:, 0]], 0.08)
        tab.set("coaching_lead_id", np.concatenate([leads, leads[: len(bad)]]))
        if len(bad):  # a program entered twice, further down: the repeat is quarantined
            tab.plant(np.arange(p, p + len(bad)), "program_id", ids[p:])
        return tab

    def staff(self) -> _Tab:
        n = self.staff_count
        # Extra rows nobody refers to carry the errors; half repeat an ID, half swap the end date.
        extra = 2 * max(1, round(n * BAD_ROW_SHARE / 2))
        tab = _Tab(
            STAFF,
            n + extra,
            order=("staff_id", "name", "role", "program_id", "email", "requires_coaching", "start_date", "end_date"),
        )
        ids = np.concatenate([self.staff_ids, self.ids("", np.arange(extra) + 101 + n, 6)])
        names = np.char.add("Person ", ids.astype(str)).astype(object)
        emails = np.char.add(np.char.add("p", ids.astype(str)), "@" + DOMAIN).astype(object)
        program = np.concatenate([self.program_of, self.rng.choice(self.program_count, extra)])
        role = np.concatenate([self.role, np.full(extra, "practitioner")])
        start = np.concatenate([self.start, np.full(extra, serial(dt.date(2026, 8, 3)))])
        ends = np.concatenate([self.end, np.full(extra, -1)])
        end = np.full(n + extra, "", dtype=object)
        end[ends >= 0] = self.dates(ends[ends >= 0])
        tab.set("staff_id", ids)
        tab.set("name", names)
        tab.set("role", role.astype(object))
        tab.set("program_id", self.program_ids[program])
        tab.set("email", self.blanks(emails, 0.02))
        tab.set("requires_coaching", self.booleans(role == "practitioner"))
        tab.set("start_date", self.dates(start))
        tab.set("end_date", end)
        repeated, swapped = np.arange(n, n + extra // 2), np.arange(n + extra // 2, n + extra)
        tab.plant(repeated, "staff_id", self.staff_ids[self.rng.choice(n, len(repeated), replace=False)])
        tab.plant(swapped, "end_date", np.full(len(swapped), serial(dt.date(2026, 3, 8))))
        warned = self.pick(n, WARNING_SHARE, 1, among=np.flatnonzero(tab.columns["email"][:n] != ""))
        tab.plant(
            warned, "email", np.char.replace(emails[warned].astype(str), "@", " ").astype(object), Severity.WARNING
        )
        return tab

    def coaching_log(self, size: int) -> _Tab:
        """Sessions of practitioners with their program's coaches; group sessions share an ID."""
        window = (serial(FIRST_DAY), serial(LAST_DAY))
        coached = np.flatnonzero(self.role == "practitioner")
        first = np.maximum(self.start[coached], window[0])
        last = np.where(self.end[coached] >= 0, np.minimum(self.end[coached], window[1]), window[1])
        weight = np.clip(last - first + 1, 0, None) * self.intensity[self.program_of[coached]]
        who = coached[self.rng.choice(len(coached), size, p=weight / weight.sum())]
        span = np.clip(
            np.where(self.end[who] >= 0, np.minimum(self.end[who], window[1]), window[1])
            - np.maximum(self.start[who], window[0])
            + 1,
            1,
            None,
        )
        day = np.maximum(self.start[who], window[0]) + (self.rng.random(size) * span).astype(int)
        program = self.program_of[who]
        coach = self.coaches[program, self.rng.integers(0, 2, size)]
        # One row per participant: rows of a program, day and coach join a group now and then.
        order = np.lexsort((who, coach, day))
        who, coach, day, program = who[order], coach[order], day[order], program[order]
        same_key = np.r_[False, (day[1:] == day[:-1]) & (coach[1:] == coach[:-1]) & (who[1:] != who[:-1])]
        session = 1000 + np.cumsum(~(same_key & (self.rng.random(size) < 0.6)))
        observed = self.rng.random(size) < self.observed[program]
        sources = self.rng.random((3, size)) < self.second[program]
        tab = _Tab(COACHING_LOG, size, order=(*COACHING_LOG.column_names, LOG_ENTERED_BY))
        tab.set("session_id", session.astype(object))
        tab.set("session_date", self.dates(day))
        tab.set("program_id", self.program_ids[program])
        tab.set("coach_id", self.staff_ids[coach])
        tab.set("staff_id", self.staff_ids[who])
        minutes = (15 * self.rng.integers(1, 9, size)).astype(object)
        minutes[self.pick(size, TEXT_SHARE, 1)] = "60"
        tab.set("duration_minutes", self.blanks(minutes, 0.05))
        tab.set("direct_observation", self.booleans(observed))
        for flag, values in zip(("reflection", "document_review", "stakeholder_interview"), sources):
            tab.set(flag, self.booleans(values, blank_false_share=0.3))
        notes = np.full(size, "", dtype=object)
        with_notes = self.pick(size, 0.15)
        notes[with_notes] = self.rng.choice(np.array(NOTES, dtype=object), len(with_notes))
        tab.set("notes", notes)
        tab.set(LOG_ENTERED_BY, self.blanks(np.char.add("C", self.staff_ids[coach].astype(str)).astype(object), 0.5))
        self.plant_log_errors(tab, session, who)
        return tab

    def plant_log_errors(self, tab: _Tab, session: np.ndarray, who: np.ndarray) -> None:
        """One kind of mistake per bad row, each a rule of the contract; a few doubtful durations."""
        bad = self.rng.permutation(self.pick(tab.size, BAD_ROW_SHARE, 7, among=np.arange(1, tab.size)))
        kinds = np.array_split(bad, 7)
        tab.plant(kinds[0], "staff_id", self.ids("X", kinds[0], 6))  # not on the Staff tab
        tab.plant(kinds[1], "session_date", "8/32/2026")  # a day that does not exist
        tab.plant(kinds[2], "stakeholder_interview", "maybe")
        tab.plant(kinds[3], "session_date", serial(dt.date(2026, 12, 15)))  # after the run date
        tab.plant(kinds[4], "program_id", "")
        tab.plant(kinds[5], "coach_id", self.ids("X", kinds[5], 6))
        # The same person and session entered again, further down (the first row is kept).
        clean = np.setdiff1d(np.arange(tab.size), bad)
        repeats = kinds[6]
        originals = clean[np.searchsorted(clean, repeats) - 1]
        tab.columns["session_id"][repeats] = session[originals]
        tab.plant(repeats, "staff_id", self.staff_ids[who[originals]])
        warned = self.pick(tab.size, WARNING_SHARE, 1, among=clean)
        tab.plant(warned, "duration_minutes", 900, Severity.WARNING)

    def coaching_plan(self) -> _Tab:
        count = self.rng.integers(0, 6, self.program_count)  # some programs have no plan at all
        program = np.repeat(np.arange(self.program_count), count)
        component = (
            np.concatenate([self.rng.permutation(len(PLAN_COMPONENTS))[:c] for c in count.tolist()])
            if len(program)
            else np.array([], dtype=int)
        )
        short = np.array(PLAN_COMPONENTS, dtype=object)[component]
        long = np.array([LONG_COMPONENTS[c] for c in PLAN_COMPONENTS], dtype=object)[component]
        tab = _Tab(COACHING_PLAN, len(program))
        tab.set("program_id", self.program_ids[program])
        tab.set("component", np.where(self.rng.random(len(program)) < 0.5, long, short))
        documented = self.rng.random(len(program)) < 0.8
        tab.set("documented", self.booleans(documented, blank_false_share=0.5))
        tab.set(
            "document_url",
            np.where(
                documented, np.char.add(f"https://docs.{DOMAIN}/plan/", self.program_ids[program].astype(str)), ""
            ).astype(object),
        )
        tab.set("last_reviewed", self.dates(self.rng.integers(serial(FIRST_DAY), serial(LAST_DAY), len(program))))
        bad = self.pick(len(program), BAD_ROW_SHARE)
        tab.plant(bad, "component", "Budget")
        return tab

    def fidelity(self) -> _Tab:
        size = int(0.8 * self.staff_count)
        assessed = np.flatnonzero(self.rng.random(self.program_count) < 0.75)  # the others never assess
        program = assessed[self.rng.integers(0, len(assessed), size)]
        is_coach = self.rng.random(size) < 0.25
        people = np.flatnonzero(self.role == "practitioner")
        members = people[np.argsort(self.program_of[people], kind="stable")]
        first = np.searchsorted(self.program_of[members], program)
        last = np.searchsorted(self.program_of[members], program, "right")
        practitioner = members[first + (self.rng.random(size) * (last - first)).astype(int)]
        subject = np.where(is_coach, self.coaches[program, 0], practitioner)
        top = np.where(is_coach, 20, 30)
        score = np.round(top * self.rng.uniform(0.6, 0.97, size)).astype(int)
        tab = _Tab(FIDELITY, size)
        tab.set("assessment_date", self.dates(self.rng.integers(serial(FIRST_DAY), serial(LAST_DAY) + 1, size)))
        tab.set("program_id", self.program_ids[program])
        tab.set("subject_type", np.where(is_coach, "Coach", "Practitioner").astype(object))
        tab.set("subject_id", self.staff_ids[subject])
        tab.set("score", score.astype(object))
        tab.set("max_score", top.astype(object))
        bad = self.pick(size, BAD_ROW_SHARE, 1)
        tab.plant(bad, "score", (top[bad] + 4).astype(object))  # above the tool's maximum
        return tab

    def satisfaction(self) -> _Tab:
        size = self.staff_count
        surveyed = np.flatnonzero(self.rng.random(self.program_count) < 0.8)
        program = surveyed[self.rng.integers(0, len(surveyed), size)]
        coach = self.blanks(self.staff_ids[self.coaches[program, self.rng.integers(0, 2, size)]], 0.1)
        # Google Forms time stamps: serial date-times (a fraction of a day), a few pasted as text.
        stamp = self.rng.integers(serial(FIRST_DAY), serial(LAST_DAY) + 1, size) + self.rng.uniform(0.3, 0.9, size)
        stamps = stamp.astype(object)
        typed = self.pick(size, TEXT_SHARE, 1)
        days = np.datetime64(SHEETS_EPOCH, "D") + stamp[typed].astype(int).astype("timedelta64[D]")
        seconds = np.round(stamp[typed] % 1 * 86400).astype(int)
        clock = (
            " ",
            (seconds // 3600).astype(str),
            ":",
            np.char.zfill((seconds // 60 % 60).astype(str), 2),
            ":",
            np.char.zfill((seconds % 60).astype(str), 2),
        )
        stamps[typed] = reduce(np.char.add, clock, _month_day_year(days)).astype(object)  # "7/14/2026 9:32:10"
        tab = _Tab(SATISFACTION, size)
        tab.set("timestamp", stamps)
        tab.set("program_id", self.program_ids[program])
        tab.set("coach_id", coach)
        tab.set("satisfaction", self.rng.choice([2, 3, 4, 4, 5, 5, 5], size).astype(object))
        comments = np.full(size, "", dtype=object)
        with_comment = self.pick(size, 0.3)
        comments[with_comment] = self.rng.choice(np.array(COMMENTS, dtype=object), len(with_comment))
        tab.set("comments", comments)
        bad = self.pick(size, BAD_ROW_SHARE, 1)
        tab.plant(bad, "satisfaction", 7)
        return tab

    def improvement_actions(self) -> _Tab:
        per_program = self.rng.integers(0, 3, (self.program_count, len(QUARTER_LABELS)))
        program, quarter = np.nonzero(per_program)
        repeat = per_program[program, quarter]
        program, quarter = np.repeat(program, repeat), np.repeat(quarter, repeat)
        size = len(program)
        tab = _Tab(IMPROVEMENT_ACTIONS, size)
        tab.set("quarter", np.array(QUARTER_LABELS, dtype=object)[quarter])
        tab.set("program_id", self.program_ids[program])
        tab.set("best_practice", self.blanks(self.rng.integers(1, 5, size).astype(object), 0.1))
        tab.set("action", self.rng.choice(np.array(ACTIONS, dtype=object), size))
        tab.set("owner", self.blanks(self.staff_ids[self.coaches[program, 0]], 0.3))
        tab.set("status", self.rng.choice(np.array(STATUS_SPELLINGS, dtype=object), size))
        due = serial(FIRST_DAY) + 91 * quarter + 120
        tab.set("due_date", self.blanks(self.dates(due), 0.3))
        bad = self.pick(size, BAD_ROW_SHARE)
        tab.plant(bad, "status", "Someday")
        return tab

    def workbook(self) -> SyntheticWorkbook:
        self.people()
        tabs = [
            self.programs(),
            self.staff(),
            self.coaching_plan(),
            self.fidelity(),
            self.satisfaction(),
            self.improvement_actions(),
        ]
        # The coaching log takes the cells the other tabs leave (header and blank rows count too).
        log_width = len(COACHING_LOG.column_names) + 1
        left = self.cells - sum(_grid_rows(t.size) * len(t.order) for t in tabs)
        log_rows = int(left / log_width / (1 + BLANK_ROW_SHARE))
        while log_rows > 10 * MIN_PROGRAMS and _grid_rows(log_rows) * log_width > left:
            log_rows -= 1
        tabs.insert(2, self.coaching_log(max(log_rows, 10 * MIN_PROGRAMS)))
        raw_tabs: dict[str, RawTab] = {}
        planted: list[Planted] = []
        rows = cells = 0
        for tab in tabs:
            blank_rows = self.rng.choice(np.arange(1, tab.size), _blank_rows(tab.size), replace=False)
            raw_tab, tab_planted = tab.raw(blank_rows)
            raw_tabs[raw_tab.title] = raw_tab
            planted += tab_planted
            rows += len(raw_tab.rows) - 1
            cells += len(raw_tab.rows) * len(tab.order)
        raw = RawWorkbook(raw_tabs, f"synthetic workbook ({cells:,} cells)")
        return SyntheticWorkbook(raw, tuple(planted), cells, rows)


def synthetic_workbook(cells: int, seed: int = 0) -> SyntheticWorkbook:
    """A workbook of about `cells` cells (header rows included), deterministic for a seed."""
    return _Generator(cells, seed).workbook()
