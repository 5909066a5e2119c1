"""Bounded retries for calls to outside services (Google Sheets, SendGrid).

Only transient faults are retried (408, 429, 5xx, no answer), a bounded number of times, each wait
capped: a run must end, with a clear message, even when a service stays down.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 30.0  # seconds per call
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0  # cap on any single wait, Retry-After included

    def wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return min(asked, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Jitter spreads the retries of runs that failed together.
        return random.uniform(ceiling / 2, ceiling)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_transient(status: int) -> bool:
    return status in (408, 429) or status >= 500
