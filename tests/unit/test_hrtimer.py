"""HrTimers (hadaemon/io/hrtimer.py): behaviour on a real event loop and a real timerfd.

Every test runs twice: on the timerfd and on the ``loop.call_at`` fallback. They assert order,
cancellation and "never before the deadline", never how late a callback was (that is
bench/bench_hrtimer.py's job).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from hadaemon.io.hrtimer import HrTimers

MODES = [pytest.param(True, id="timerfd"), pytest.param(False, id="call_at")]


def run(use_timerfd: bool, body: Callable[[HrTimers], Coroutine[Any, Any, None]]) -> None:
    """Run ``body(timers)`` on a fresh loop, then close the timers and check the fd is gone."""

    async def main() -> None:
        timers = HrTimers(asyncio.get_running_loop(), use_timerfd=use_timerfd)
        assert timers.uses_timerfd is use_timerfd
        fd = timers._fd
        try:
            await body(timers)
        finally:
            timers.close()
        if use_timerfd:
            with pytest.raises(OSError):
                os.fstat(fd)

    asyncio.run(asyncio.wait_for(main(), 20))


async def until(cond: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_runs_in_deadline_order_and_never_early(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[tuple[int, float, float]] = []
        now = time.monotonic()
        offsets = [0.030, 0.010, 0.020, 0.0101, 0.005, 0.0]
        for k, off in enumerate(offsets):
            t.call_at(now + off, lambda k=k, w=now + off: fired.append((k, w, time.monotonic())))
        assert len(t) == len(offsets)
        await until(lambda: len(fired) == len(offsets))
        assert [k for k, _, _ in fired] == sorted(range(len(offsets)), key=lambda k: offsets[k])
        for _, when, ran in fired:
            assert ran >= when
        assert len(t) == 0

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_equal_deadlines_run_in_scheduling_order(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[int] = []
        when = time.monotonic() + 0.005
        for k in range(20):
            t.call_at(when, fired.append, k)
        await until(lambda: len(fired) == 20)
        assert fired == list(range(20))

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_past_deadline_runs_soon(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[str] = []
        h = t.call_at(time.monotonic() - 10.0, fired.append, "late")
        assert h.when() < time.monotonic()
        await until(lambda: fired == ["late"])

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_cancel(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[str] = []
        now = time.monotonic()
        a = t.call_at(now + 0.005, fired.append, "a")
        b = t.call_at(now + 0.010, fired.append, "b")
        t.call_at(now + 0.020, fired.append, "c")
        a.cancel()
        a.cancel()  # idempotent
        assert a.cancelled() and not b.cancelled()
        assert len(t) == 2
        await until(lambda: fired == ["b", "c"])
        await asyncio.sleep(0.02)
        assert fired == ["b", "c"]
        b.cancel()  # after it ran: harmless, does not corrupt the count
        assert len(t) == 0

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_rearm_earlier_and_later(use_timerfd: bool) -> None:
    """The driver's pattern: cancel the router's timer and schedule its new deadline."""

    async def body(t: HrTimers) -> None:
        fired: list[tuple[str, float, float]] = []

        def cb(name: str, when: float) -> None:
            fired.append((name, when, time.monotonic()))

        now = time.monotonic()
        h = t.call_at(now + 5.0, cb, "far", now + 5.0)
        # earlier: must fire long before the original deadline
        h.cancel()
        h = t.call_at(now + 0.01, cb, "earlier", now + 0.01)
        # later than the armed deadline, after cancelling the armed one
        h.cancel()
        h = t.call_at(now + 0.03, cb, "later", now + 0.03)
        await until(lambda: len(fired) == 1)
        assert fired[0][0] == "later"
        assert fired[0][2] >= fired[0][1]
        assert len(t) == 0

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_callback_may_cancel_a_due_sibling(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[str] = []
        when = time.monotonic() + 0.005
        handles: dict[str, Any] = {}

        def first() -> None:
            fired.append("first")
            handles["second"].cancel()

        t.call_at(when, first)
        handles["second"] = t.call_at(when, fired.append, "second")
        t.call_at(when + 0.005, fired.append, "third")
        await until(lambda: "third" in fired)
        assert fired == ["first", "third"]

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_callbacks_schedule_new_timers(use_timerfd: bool) -> None:
    """A chain of periodic timers (an advert timer) and a due-now timer set from a callback."""

    async def body(t: HrTimers) -> None:
        ticks: list[tuple[float, float]] = []
        start = time.monotonic()
        period_s = 0.002

        def tick(n: int) -> None:
            when = start + n * period_s
            ticks.append((when, time.monotonic()))
            if n < 25:
                t.call_at(start + (n + 1) * period_s, tick, n + 1)

        t.call_at(start, tick, 0)
        await until(lambda: len(ticks) == 26)
        for when, ran in ticks:
            assert ran >= when

        # a callback scheduling an already-due timer: it runs on a later wake-up, not inside
        order: list[str] = []

        def outer() -> None:
            order.append("outer-start")
            t.call_at(time.monotonic() - 1.0, order.append, "inner")
            order.append("outer-end")

        t.call_at(time.monotonic(), outer)
        await until(lambda: "inner" in order)
        assert order == ["outer-start", "outer-end", "inner"]

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_many_timers_with_random_cancels(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        rng = random.Random(4)
        fired: list[tuple[int, float, float]] = []
        now = time.monotonic()
        handles = []
        whens = []
        for k in range(3000):
            w = now + rng.uniform(0.0, 0.2)
            whens.append(w)
            handles.append(t.call_at(w, lambda k=k, w=w: fired.append((k, w, time.monotonic()))))
        cancelled = set(rng.sample(range(3000), 2000))  # enough to trigger heap compaction
        for k in cancelled:
            handles[k].cancel()
        assert len(t) == 1000
        await until(lambda: len(fired) == 1000)
        await asyncio.sleep(0.01)
        assert {k for k, _, _ in fired} == set(range(3000)) - cancelled
        assert [w for _, w, _ in fired] == sorted(w for _, w, _ in fired)
        assert all(ran >= w for _, w, ran in fired)

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_exception_in_callback_goes_to_loop_handler(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        loop = asyncio.get_running_loop()
        errors: list[BaseException] = []
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))
        fired: list[str] = []

        def boom() -> None:
            raise ValueError("boom")

        when = time.monotonic() + 0.002
        t.call_at(when, boom)
        t.call_at(when, fired.append, "after")
        t.call_at(when + 0.005, fired.append, "later")
        await until(lambda: fired == ["after", "later"])
        assert len(errors) == 1 and isinstance(errors[0], ValueError)

    run(use_timerfd, body)


@pytest.mark.parametrize("use_timerfd", MODES)
def test_close_cancels_everything(use_timerfd: bool) -> None:
    async def body(t: HrTimers) -> None:
        fired: list[str] = []
        h = t.call_at(time.monotonic() + 0.005, fired.append, "x")
        t.close()
        t.close()  # idempotent
        assert h.cancelled()
        await asyncio.sleep(0.02)
        assert fired == []
        with pytest.raises(RuntimeError):
            t.call_at(time.monotonic(), fired.append, "y")

    run(use_timerfd, body)


def test_close_from_a_callback() -> None:
    async def body(t: HrTimers) -> None:
        fired: list[str] = []
        when = time.monotonic() + 0.002
        t.call_at(when, t.close)
        t.call_at(when, fired.append, "x")
        await asyncio.sleep(0.02)
        assert fired == []

    run(True, body)


def test_bad_deadline_is_a_clear_error() -> None:
    async def body(t: HrTimers) -> None:
        for bad in (float("nan"), float("inf")):
            with pytest.raises(ValueError, match="finite"):
                t.call_at(bad, print)
        assert len(t) == 0

    run(True, body)


def test_call_later_and_clock() -> None:
    async def body(t: HrTimers) -> None:
        fired: list[float] = []
        before = t.time()
        h = t.call_later(0.005, lambda: fired.append(time.monotonic()))
        assert h.when() >= before + 0.005
        assert abs(asyncio.get_running_loop().time() - t.time()) < 1.0  # same clock
        await until(lambda: bool(fired))
        assert fired[0] >= h.when()

    run(True, body)
