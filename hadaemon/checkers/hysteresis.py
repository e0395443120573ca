"""Per-checker retry logic, pure: results and ``now`` go in, the next deadline comes out.

keepalived's rules (check_tcp.c and friends), which this module follows:

Rule 1. A checker starts UP, or DOWN with ``alpha``. Its first attempt is at ``start + warmup``
        (the caller passes the random fraction in, so tests stay deterministic).
Rule 2. A success makes the checker UP, clears the retry counter, and schedules the next attempt
        ``delay_loop`` later.
Rule 3. A failure of an UP checker with ``retry_it < retry`` only counts: ``retry_it += 1`` and the
        next attempt is ``delay_before_retry`` later. The checker stays UP.
Rule 4. A failure of an UP checker with the retries used up makes it DOWN; the counter is cleared
        and the next attempt is ``delay_loop`` later. So an UP checker goes DOWN on its
        ``retry + 1``-th consecutive failed attempt.
Rule 5. A failure of a DOWN checker changes nothing; the next attempt is ``delay_loop`` later.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What one attempt's result did to a checker."""

    #: the checker's state after the result
    up: bool
    #: True if ``up`` differs from the state before
    changed: bool
    #: True if this failure was absorbed by a retry (Rule 3)
    retrying: bool
    #: the absolute time of the next attempt (monotonic seconds)
    next_check_at: float


class CheckerState:
    """Retry/rise/fall state of one checker (see the module rules)."""

    def __init__(
        self,
        *,
        retry: int,
        delay_before_retry_s: float,
        delay_loop_s: float,
        warmup_s: float = 0.0,
        alpha: bool = False,
    ) -> None:
        if retry < 0 or delay_loop_s <= 0 or delay_before_retry_s < 0 or warmup_s < 0:
            raise ValueError("retry, delay_before_retry, warmup must be >= 0, delay_loop > 0")
        self.retry = retry
        self.delay_before_retry_s = delay_before_retry_s
        self.delay_loop_s = delay_loop_s
        self.warmup_s = warmup_s
        #: current verdict of this checker
        self.up = not alpha
        #: failures absorbed so far in the current run of failures (keepalived ``retry_it``)
        self.retry_it = 0
        #: absolute time of the next attempt; None until ``start``
        self.next_check_at: float | None = None
        #: counters for status/stats
        self.attempts = 0
        self.failures = 0

    def start(self, now: float, warmup_fraction: float = 0.0) -> float:
        """Arm the first attempt at ``now + warmup_fraction * warmup`` (fraction in [0, 1])."""
        frac = min(max(warmup_fraction, 0.0), 1.0)
        self.next_check_at = now + frac * self.warmup_s
        return self.next_check_at

    def handle_result(self, ok: bool, now: float) -> Outcome:
        """Apply one attempt's result at time ``now`` (Rules 2-5)."""
        self.attempts += 1
        before = self.up
        retrying = False
        if ok:
            self.up = True
            self.retry_it = 0
            delay = self.delay_loop_s
        else:
            self.failures += 1
            if self.up and self.retry_it < self.retry:
                self.retry_it += 1
                retrying = True
                delay = self.delay_before_retry_s
            else:
                self.up = False
                self.retry_it = 0
                delay = self.delay_loop_s
        self.next_check_at = now + delay
        return Outcome(self.up, self.up != before, retrying, self.next_check_at)

    def postpone(self, at: float) -> None:
        """Move the next attempt to ``at`` without a result (``ha_suspend``)."""
        self.next_check_at = at

    def get_timer(self) -> float | None:
        """Absolute time of the next attempt, or None before ``start``."""
        return self.next_check_at
