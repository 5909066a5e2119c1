"""Deadlines that scale with how busy the machine is right now.

A deadline in a test catches a hang; it must not fail a run that is merely slow because another
test suite shares the two cores. The time a fresh Python process takes to import pandas (0.3 s on
the idle 2-core machine) is measured once per session; every deadline is stretched by how much
longer it takes now.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time

IDLE_IMPORT_SECONDS = 0.3  # `python -c "import pandas"`, idle 2-core machine, November 2026


@functools.cache
def slowness() -> float:
    """How many times slower than idle the machine is now (at least 1)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pandas"], check=True, timeout=300)
    return max(1.0, (time.perf_counter() - start) / IDLE_IMPORT_SECONDS)


def scaled(seconds: float) -> float:
    """`seconds` on an idle machine, stretched to the machine as it is now."""
    return seconds * slowness()
