"""Reading ahead: the workbook the child process read is the one the source gives, the error it
raised is the run's error, and a child that died leaves the read to the run.

A read ahead forks, which only a process with a single thread may do: each case runs in a fresh
interpreter, as the command line does (the test process has pytest's threads)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from adapters.read_ahead import ReadAhead
from adapters.sources import XlsxSource
from tests.deadlines import scaled

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = PROJECT_ROOT / "data" / "sample_workbook.xlsx"


def run_python(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_workbook_read_ahead_is_the_one_the_source_reads_and_a_second_read_reads_again():
    out = run_python(
        f"""
        import os
        from pathlib import Path
        from adapters.read_ahead import ReadAhead
        from adapters.sources import XlsxSource

        class CountingSource(XlsxSource):
            readers = []
            def read(self):
                self.readers.append(os.getpid())
                return super().read()

        source = CountingSource(Path({str(SAMPLE)!r}))
        ahead = ReadAhead(source)
        first = ahead.read()
        print(first == XlsxSource(Path({str(SAMPLE)!r})).read(), CountingSource.readers == [])
        print(ahead.read() == first, CountingSource.readers == [os.getpid()])
        """
    )
    # The first read came from the child (this process never read); the second read here.
    assert out.split() == ["True", "True", "True", "True"]


def test_the_error_the_source_raised_in_the_child_is_raised_by_the_run_with_its_message(tmp_path):
    out = run_python(
        f"""
        from pathlib import Path
        from adapters.read_ahead import ReadAhead
        from adapters.sources import XlsxSource
        from coaching.records import WorkbookError

        ahead = ReadAhead(XlsxSource(Path({str(tmp_path / "gone.xlsx")!r})))
        try:
            ahead.read()
        except WorkbookError as error:
            print(type(error).__name__, "|", error, "|", "read ahead" in "".join(error.__notes__))
        """
    )
    assert out.strip() == f"WorkbookError | workbook not found: {tmp_path / 'gone.xlsx'} | True"


def test_a_child_that_dies_while_reading_leaves_the_read_to_the_run():
    out = run_python(
        f"""
        import os, signal
        from pathlib import Path
        from adapters.read_ahead import ReadAhead
        from adapters.sources import XlsxSource

        parent = os.getpid()

        class DyingInTheChild(XlsxSource):
            def read(self):
                if os.getpid() != parent:
                    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
                return super().read()

        workbook = ReadAhead(DyingInTheChild(Path({str(SAMPLE)!r}))).read()
        print(workbook == XlsxSource(Path({str(SAMPLE)!r})).read())
        """
    )
    assert out.strip() == "True"


def test_a_run_that_ends_before_reading_stops_its_child(tmp_path):
    out = run_python(
        f"""
        import os, time
        from pathlib import Path
        from adapters.read_ahead import ReadAhead

        pid_file = Path({str(tmp_path / "child.pid")!r})

        class Slow:
            def read(self):
                pid_file.write_text(str(os.getpid()))
                time.sleep(600)

        ahead = ReadAhead(Slow())
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.01)
        ahead.close()
        try:
            os.kill(int(pid_file.read_text()), 0)
            print("still there")
        except ProcessLookupError:
            print("gone")
        """
    )
    assert out.strip() == "gone"


def test_a_process_with_other_threads_does_not_fork():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with pytest.raises(RuntimeError, match="single thread"):
            ReadAhead(XlsxSource(SAMPLE))
    finally:
        release.set()
        other.join()


def test_the_command_reads_and_parses_ahead_for_a_run_with_its_settings_and_only_for_it():
    out = run_python(
        f"""
        import datetime as dt
        from pathlib import Path
        from adapters.sources import XlsxSource
        from coaching.quarterly import check_records
        from coaching.quarters import Quarter
        from config.settings import load_settings
        from config.wiring import build_source, reading_ahead

        sample = {str(SAMPLE)!r}
        settings = load_settings(source=sample)
        other = settings.model_copy(update={{"date_format": "D/M/YYYY"}})

        def checked(raw):
            return check_records(
                raw, settings.tabs.model_dump(), date_format=settings.date_format, columns=settings.columns,
                run_date=dt.date(2026, 10, 15), quarter=Quarter(2026, 3), max_error_share=0.5, min_log_volume_ratio=0.5,
            )

        with reading_ahead(settings, None):
            print(type(build_source(other)).__name__)
            ahead = build_source(settings).read()
            print(ahead.tabs == {{}}, ahead.parsed is not None)
            mine, direct = checked(ahead), checked(XlsxSource(Path(sample)).read())
            print(mine.issues == direct.issues, all(mine.valid[k].equals(v) for k, v in direct.valid.items()))
        """
    )
    # Settings that parse otherwise (another date format) read the workbook themselves.
    assert out.split() == ["XlsxSource", "True", "True", "True", "True"]
