"""Runs the probes when the engine says they are due: one asyncio task per checker, no threads.

Each task sleeps until its checker's absolute deadline (``loop.time()`` = monotonic seconds),
runs the probe, and feeds the result to the engine with ``now`` taken when the probe finished.
Lateness (how long after its deadline a probe started) is kept for status and the benchmark.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from hadaemon.checkers.decisions import Action, CheckerId, HealthEngine
from hadaemon.checkers.probes import ProbeResult, run_probe
from hadaemon.checkers.spec import CheckSpec

log = logging.getLogger("hadaemon.checkers")


def attempt_cap_s(spec: CheckSpec) -> float:
    """Hard limit for one attempt, against peers that drip bytes under every read timeout."""
    misc_s = spec.misc.misc_timeout_s if spec.misc and spec.misc.misc_timeout_s else 0.0
    return max(spec.connect_timeout_s, misc_s) + spec.delay_loop_s + 1.0


class CheckScheduler:
    """Drives a ``HealthEngine`` on the running asyncio loop."""

    def __init__(
        self,
        engine: HealthEngine,
        execute: Callable[[list[Action]], None],
        *,
        suspended: Callable[[CheckerId], bool] | None = None,
        probe: Callable[[CheckSpec], Awaitable[ProbeResult]] = run_probe,
        rng: random.Random | None = None,
        on_attempt: Callable[[CheckerId, ProbeResult], None] | None = None,
    ) -> None:
        self.engine = engine
        self._execute = execute
        self._suspended = suspended or (lambda cid: False)
        self._probe = probe
        self._rng = rng or random.Random()
        self._on_attempt = on_attempt
        self._tasks: dict[CheckerId, asyncio.Task[None]] = {}
        #: worst and last lateness of a probe start after its deadline (seconds)
        self.max_late_s = 0.0
        self.late_samples: list[float] = []
        self.keep_late_samples = False

    def start(self) -> None:
        """Arm every checker (random warmup) and start its task."""
        loop = asyncio.get_running_loop()
        fractions = {cid: self._rng.random() for cid in self.engine.checker_ids()}
        self._execute(self.engine.start(loop.time(), fractions))
        for cid in self.engine.checker_ids():
            self._tasks[cid] = loop.create_task(self._run(cid), name=f"check{cid}")

    async def stop(self) -> None:
        """Cancel every checker task (probes in flight are cancelled; scripts get killed)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, cid: CheckerId) -> None:
        loop = asyncio.get_running_loop()
        spec = self.engine.spec(cid)
        state = self.engine.state(cid)
        while True:
            at = state.get_timer()
            assert at is not None
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = loop.time() - at
            self.max_late_s = max(self.max_late_s, late)
            if self.keep_late_samples:
                self.late_samples.append(late)
            if self._suspended(cid):
                state.postpone(loop.time() + spec.delay_loop_s)
                continue
            try:
                async with asyncio.timeout(attempt_cap_s(spec)):
                    result = await self._probe(spec)
            except TimeoutError:
                result = ProbeResult(
                    False, f"{spec.kind} attempt exceeded {attempt_cap_s(spec):.1f} s (slow peer)"
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one checker kill the loop
                log.exception("checker %s crashed", spec.kind)
                result = ProbeResult(False, f"{spec.kind} internal error: {exc!r}")
            if self._on_attempt is not None:
                self._on_attempt(cid, result)
            try:
                actions = self.engine.checker_result(
                    cid, result.ok, loop.time(), reason=result.reason, weight=result.weight
                )
                self._execute(actions)
            except Exception:
                log.exception("acting on %s result failed", spec.kind)
