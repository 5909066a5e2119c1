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
