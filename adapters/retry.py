"""Bounded retries and total deadlines for calls to outside services (Google Sheets, SendGrid).

Each call has a rule (`RetryRule`): how many attempts, how long any wait may be, how long the
whole thing may take, and how long one call may take from the first byte sent to the last byte
received (a per-read timeout lets a reply that trickles a byte every few seconds last for ever;
`call_with_deadline` has its own clock). Which faults are retried is the caller's decision:
idempotent reads retry any transient fault; a write retries only when the request provably never
left. Sleep and clock are injectable, so tests check attempts and planned waits, not wall time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetryRule:
    call_deadline: float = 30.0  # seconds for one call, the whole reply included
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0  # cap on any single wait, Retry-After included
    budget: float = 120.0  # no new attempt once this many seconds have passed since the first

    @property
    def socket_timeout(self) -> float:
        """The client's own timeout, per connect and per read: shorter than the call's deadline,
        so that a connection that cannot be made fails as such (nothing sent: retried) before the
        deadline abandons the call as of unknown outcome."""
        return self.call_deadline * 0.8

    def wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return min(asked, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Jitter spreads the retries of runs that failed together.
        return random.uniform(ceiling / 2, ceiling)


class DeadlineExceeded(TimeoutError):
    """A call did not finish within its total deadline."""


class GaveUp(Exception):
    """A transient fault outlasted the rule's attempts or budget; `last` is the final fault."""

    def __init__(self, last: BaseException, attempts: int, seconds: float) -> None:
        super().__init__(str(last))
        self.last, self.attempts, self.seconds = last, attempts, seconds


def call_with_deadline(call: Callable[[], T], seconds: float) -> T:
    """`call()`, or DeadlineExceeded after `seconds` whatever the call is doing.

    The call runs in a daemon thread that is abandoned when the deadline passes (a socket read
    cannot be interrupted from outside); whatever it does afterwards is never looked at, which is
    why a write that passed its deadline is reported as of unknown outcome, not as failed.
    """
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed over to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="call-with-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeadlineExceeded(f"no complete answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def with_retries(
    call: Callable[[], T],
    rule: RetryRule,
    *,
    retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], str | None] = lambda _exc: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`call()` under its deadline, retried while `retryable(fault)` within the rule's bounds.

    A fault that is not retryable is raised as it is; a retryable one that outlasts the attempts
    or the budget is raised as GaveUp (with the count and the time spent).
    """
    started = clock()

    def planned_wait(state: tenacity.RetryCallState) -> float:
        fault = state.outcome.exception() if state.outcome else None
        wait = rule.wait(state.attempt_number, retry_after(fault) if fault else None)
        return max(0.0, min(wait, rule.budget - (clock() - started)))

    def out_of_bounds(state: tenacity.RetryCallState) -> bool:
        return state.attempt_number >= rule.max_attempts or clock() - started >= rule.budget

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retryable),
        stop=out_of_bounds,
        wait=planned_wait,
        sleep=sleep,
        reraise=True,
    )
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return call_with_deadline(call, rule.call_deadline)

    try:
        return retrying(attempt)
    except BaseException as exc:
        if isinstance(exc, Exception) and retryable(exc):
            raise GaveUp(exc, attempts, clock() - started) from exc
        raise


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
