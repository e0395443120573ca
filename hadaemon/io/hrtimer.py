"""High-resolution timers for asyncio on a Linux ``timerfd``.

asyncio's epoll selector rounds every wait up to a whole millisecond
(``selectors.EpollSelector.select``: ``math.ceil(timeout * 1e3) * 1e-3``), so a ``loop.call_at``
callback runs 0-1 ms after its deadline, which is most of the VRRP timing budget (failover
error ≤ 0.5 ms, advert jitter ≤ 0.3 ms; DESIGN.md goal 2). ``HrTimers`` keeps one heap of
absolute deadlines and one ``timerfd`` (``CLOCK_MONOTONIC``, ``TFD_TIMER_ABSTIME``) always
armed to the earliest one with nanosecond resolution; the fd is registered with
``loop.add_reader``, so the kernel wakes epoll at the deadline itself and the loop's own
rounded timeout never matters. Deadlines are in the clock of ``time.monotonic()`` (which is
``CLOCK_MONOTONIC`` on Linux and is also what asyncio's ``loop.time()`` returns).

Python 3.11 has no ``os.timerfd_*`` (3.13 added them), so ``timerfd_create``/``timerfd_settime``
come from libc via ctypes. Where the timerfd cannot be created (not Linux, seccomp, no libc
symbol), the same heap is driven by a single ``loop.call_at`` instead: same behaviour, the
asyncio resolution.

Guarantees (tested in ``tests/unit/test_hrtimer.py``): a callback never runs before its
deadline (``time.monotonic() >= when``); callbacks due together run in deadline order (ties in
scheduling order); a cancelled handle's callback never runs; a timer scheduled from inside a
callback, even one already due, runs on a later wake-up, never recursively.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import heapq
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hadaemon.io.hrtimer")

CLOCK_MONOTONIC = 1
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC

#: rebuild the heap when this many cancelled entries are in it and they are the majority
_COMPACT_MIN = 256


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _Libc:
    """The two libc entry points, bound once; ``None`` from :func:`_libc` when absent."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.timerfd_create = lib.timerfd_create
        self.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        self.timerfd_create.restype = ctypes.c_int
        self.timerfd_settime = lib.timerfd_settime
        self.timerfd_settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.POINTER(_Itimerspec),
        ]
        self.timerfd_settime.restype = ctypes.c_int


_LIBC: _Libc | None = None
_LIBC_TRIED = False


def _libc() -> _Libc | None:
    global _LIBC, _LIBC_TRIED
    if not _LIBC_TRIED:
        _LIBC_TRIED = True
        try:
            _LIBC = _Libc(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True))
        except (OSError, AttributeError) as exc:
            log.info("timerfd not available from libc (%s); using loop.call_at", exc)
    return _LIBC


def _timerfd_create() -> int:
    """A non-blocking close-on-exec ``CLOCK_MONOTONIC`` timerfd; ``OSError`` if it fails."""
    lib = _libc()
    if lib is None:
        raise OSError(errno.ENOSYS, "timerfd_create not in libc")
    fd = int(lib.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"timerfd_create: {os.strerror(e)}")
    return fd


def _timerfd_set_abs_ns(fd: int, when_ns: int) -> None:
    """Arm ``fd`` to expire once at absolute ``CLOCK_MONOTONIC`` ``when_ns``; 0 disarms."""
    lib = _libc()
    assert lib is not None
    spec = _Itimerspec()
    spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(when_ns, 1_000_000_000)
    if lib.timerfd_settime(fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"timerfd_settime: {os.strerror(e)}")


def _to_ns_ceil(when_s: float) -> int:
    """Seconds to whole nanoseconds, rounded up so the fd never expires before ``when_s``.

    An absolute it_value of 0 would disarm the timerfd, so the result is at least 1.
    """
    return max(1, math.ceil(when_s * 1e9))


class HrTimerHandle:
    """One scheduled callback of :class:`HrTimers` (like ``asyncio.TimerHandle``)."""

    __slots__ = ("_when_s", "_callback", "_args", "_cancelled", "_owner")

    def __init__(
        self,
        when_s: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        owner: HrTimers,
    ) -> None:
        self._when_s = when_s
        self._callback: Callable[..., object] | None = callback
        self._args: tuple[Any, ...] = args
        self._cancelled = False
        self._owner: HrTimers | None = owner

    def when(self) -> float:
        """The absolute deadline in ``time.monotonic()`` seconds."""
        return self._when_s

    def cancel(self) -> None:
        """Do not run the callback; idempotent, harmless after it ran."""
        if self._cancelled:
            return
        self._cancelled = True
        self._callback = None
        self._args = ()
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._cancelled_one(self)

    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def __repr__(self) -> str:
        state = " cancelled" if self._cancelled else ""
        return f"<HrTimerHandle when={self._when_s:.9f}{state}>"


class HrTimers:
    """A heap of absolute deadlines woken by one timerfd on ``loop``.

    ``use_timerfd=False`` forces the ``loop.call_at`` fallback (what happens by itself when
    no timerfd can be made). Not thread-safe: call it from the loop's thread, like
    ``loop.call_at``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, use_timerfd: bool = True) -> None:
        self._loop = loop
        #: entries (when_s, seq, handle); cancelled handles stay until popped or compacted
        self._heap: list[tuple[float, int, HrTimerHandle]] = []
        self._seq = 0
        self._n_cancelled = 0
        self._closed = False
        #: the absolute deadline the fd (or fallback handle) is armed for; None = disarmed
        self._armed_s: float | None = None
        self._fallback: asyncio.TimerHandle | None = None
        self._fd = -1
        if use_timerfd:
            try:
                self._fd = _timerfd_create()
                loop.add_reader(self._fd, self._on_expiry)
            except (OSError, NotImplementedError, RuntimeError) as exc:
                log.info("timerfd unavailable (%s); timers use loop.call_at", exc)
                if self._fd >= 0:
                    os.close(self._fd)
                self._fd = -1

    @property
    def uses_timerfd(self) -> bool:
        """True when deadlines are kept by a timerfd, False on the ``loop.call_at`` fallback."""
        return self._fd >= 0

    def __len__(self) -> int:
        """How many timers are scheduled and not cancelled."""
        return len(self._heap) - self._n_cancelled

    def time(self) -> float:
        """The clock deadlines are in (``time.monotonic()``)."""
        return time.monotonic()

    def call_at(self, when_s: float, callback: Callable[..., object], *args: Any) -> HrTimerHandle:
        """Run ``callback(*args)`` at absolute ``time.monotonic()`` second ``when_s``."""
        if self._closed:
            raise RuntimeError("HrTimers is closed")
        if not math.isfinite(when_s):
            raise ValueError(f"timer deadline must be finite, not {when_s!r}")
        h = HrTimerHandle(when_s, callback, args, self)
        self._seq += 1
        heapq.heappush(self._heap, (when_s, self._seq, h))
        if self._armed_s is None or when_s < self._armed_s:
            self._arm(when_s)
        return h

    def call_later(
        self, delay_s: float, callback: Callable[..., object], *args: Any
    ) -> HrTimerHandle:
        """Run ``callback(*args)`` ``delay_s`` seconds from now."""
        return self.call_at(time.monotonic() + delay_s, callback, *args)

    def close(self) -> None:
        """Cancel every timer and release the fd; idempotent."""
        if self._closed:
            return
        self._closed = True
        for _, _, h in self._heap:
            h._owner = None
            h.cancel()
        self._heap.clear()
        self._n_cancelled = 0
        if self._fallback is not None:
            self._fallback.cancel()
            self._fallback = None
        if self._fd >= 0:
            with contextlib.suppress(RuntimeError, ValueError):  # the loop is already closed
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._armed_s = None

    # -- internals -------------------------------------------------------------------------

    def _cancelled_one(self, h: HrTimerHandle) -> None:
        self._n_cancelled += 1
        heap = self._heap
        if self._n_cancelled >= _COMPACT_MIN and self._n_cancelled * 2 > len(heap):
            self._heap = [e for e in heap if not e[2]._cancelled]
            heapq.heapify(self._heap)
            self._n_cancelled = 0
        # the fd stays armed for a cancelled head: one spurious wake-up re-arms it, which is
        # cheaper than a settime per cancel in the common cancel-then-reschedule pattern

    def _arm(self, when_s: float | None) -> None:
        """Point the fd (or the fallback ``call_at``) at ``when_s``; None disarms."""
        self._armed_s = when_s
        if self._fd >= 0:
            _timerfd_set_abs_ns(self._fd, 0 if when_s is None else _to_ns_ceil(when_s))
            return
        if self._fallback is not None:
            self._fallback.cancel()
            self._fallback = None
        if when_s is not None:
            self._fallback = self._loop.call_at(when_s, self._on_expiry)

    def _on_expiry(self) -> None:
        if self._fd >= 0:
            # the expiry count; reading clears readability. EAGAIN: re-armed since it expired
            with contextlib.suppress(BlockingIOError):
                os.read(self._fd, 8)
        else:
            self._fallback = None
        self._armed_s = None
        heap = self._heap
        now = time.monotonic()
        due: list[HrTimerHandle] = []
        while heap and (heap[0][0] <= now or heap[0][2]._cancelled):
            _, _, h = heapq.heappop(heap)
            if h._cancelled:
                self._n_cancelled -= 1
            else:
                h._owner = None  # no longer in the heap: a later cancel() needs no count
                due.append(h)
        for h in due:
            # an earlier callback in this batch may have cancelled a later one
            if h._cancelled or self._closed:
                continue
            cb, args = h._callback, h._args
            h._callback, h._args = None, ()
            assert cb is not None
            try:
                cb(*args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # noqa: BLE001 - reported like asyncio does
                self._loop.call_exception_handler(
                    {"message": f"Exception in timer callback {cb!r}", "exception": exc}
                )
        if self._closed:
            return
        self._drop_cancelled_head()
        heap = self._heap  # a callback may have cancelled enough to compact it
        if heap:
            self._arm(heap[0][0])
        elif self._fd >= 0:
            self._arm(None)

    def _drop_cancelled_head(self) -> None:
        heap = self._heap
        while heap and heap[0][2]._cancelled:
            heapq.heappop(heap)
            self._n_cancelled -= 1
