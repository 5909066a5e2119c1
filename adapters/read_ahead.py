"""A source read ahead: in a child process, while the command line imports its flow (Prefect and
Great Expectations, about 4 s) and its temporary Prefect server starts, so that the two cores of a
small machine both work during the start.

The child can also prepare what it read for the run (`prepare`: the command has it parsed, and the
run's parse step then only takes the frames): frames pickle and load far faster than rows of cells
(at 2.4 million cells 0.16 s against 0.85 s; at 10 million 0.9 s against 4.2 s). The child is a
fork of the command, made before any thread exists; the workbook, or the error the source raised,
comes back pickled in an anonymous temporary file, so nothing is left on disk even when the
command is killed. A child that died (killed, out of memory) leaves the read to the run, as
without reading ahead.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable
from typing import Any

from adapters.sources import RecordSource
from coaching.records import RawWorkbook


class ReadAhead:
    """`prepare(source.read())`, started at once in a child process. A RecordSource: `read()` gives
    the child's workbook, or raises the error the source raised there; a second `read()` reads
    again (and does not prepare)."""

    def __init__(self, source: RecordSource, prepare: Callable[[RawWorkbook], RawWorkbook] | None = None) -> None:
        if threading.active_count() > 1:  # a fork copies one thread, and the locks the others hold
            raise RuntimeError("a read ahead is started only by a process with a single thread")
        self.source = source
        self._prepare = prepare
        self._file = tempfile.TemporaryFile()  # already unlinked: the child writes, the parent reads
        self._pid: int | None = os.fork()
        if self._pid == 0:
            self._read_in_child()

    def _read_in_child(self) -> None:
        code = 0
        try:
            outcome: tuple[str, Any]
            try:
                workbook = self.source.read()
                outcome = ("workbook", self._prepare(workbook) if self._prepare else workbook)
            except Exception as error:  # the run raises it, as if it had read the source itself
                error.add_note(
                    "Raised in the process that read ahead:\n" + "".join(traceback.format_tb(error.__traceback__))
                )
                outcome = ("error", error)
            pickle.dump(outcome, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._file.flush()
        except BaseException:  # interrupted, or an error that does not pickle: the run reads itself
            code = 1
        finally:
            os._exit(code)  # neither the command's exit handlers nor its buffered output are the child's

    def read(self) -> RawWorkbook:
        if self._pid is None:
            return self.source.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status != 0:
            return self.source.read()
        self._file.seek(0)
        try:
            kind, value = pickle.load(self._file)
        except Exception:  # an error whose class does not unpickle: the run reads, and raises it, itself
            return self.source.read()
        finally:
            self._file.close()
        if kind == "error":
            raise value
        workbook: RawWorkbook = value
        return workbook

    def close(self) -> None:
        """Stop a child whose workbook was not needed (the run ended before reading)."""
        if self._pid is not None:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
        self._file.close()
