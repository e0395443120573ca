"""Scheduling for the VRRP process: SCHED_FIFO, mlockall, a frozen GC, late-timer reporting.

Under CPU contention a normal-priority process sees its socket up to one scheduler tick late
(4 ms p99 at HZ=250; 89 µs with SCHED_FIFO, reference/datapath.md §4). keepalived's answers are
``vrrp_rt_priority`` (SCHED_RR/FIFO) and ``vrrp_no_swap`` (mlockall); hadaemon does the same and
also freezes the garbage collector after start-up so that a full collection never runs over the
long-lived objects at a bad moment.

Each call returns whether it worked and logs why not; none raises on a missing permission.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("hadaemon.vrrp.sched")

MCL_CURRENT = 1
MCL_FUTURE = 2

#: keepalived accepts 1..99 for vrrp_rt_priority (sched_get_priority_max(SCHED_FIFO) = 99)
RT_PRIORITY_MIN = 1
RT_PRIORITY_MAX = 99


DEFAULT_RT_PRIORITY = 1
"""SCHED_FIFO priority of the VRRP worker when ``vrrp_rt_priority`` is not set: the lowest
realtime priority is enough to run ahead of every normal process (DESIGN §2: realtime by
default when permitted) while staying below other realtime daemons and kernel threads."""


def rt_priority_for(rt_priority: int | None, *, realtime: bool = True) -> int | None:
    """The SCHED_FIFO priority to ask for: ``vrrp_rt_priority`` if set, else
    :data:`DEFAULT_RT_PRIORITY` unless ``vrrp_realtime off``; None = stay SCHED_OTHER."""
    if rt_priority:
        return rt_priority
    return DEFAULT_RT_PRIORITY if realtime else None


def set_realtime(
    priority: int, *, rlimit_rttime_us: int | None = None, quiet: bool = False
) -> bool:
    """Ask for SCHED_FIFO at ``priority`` (keepalived ``vrrp_rt_priority``) for this process.

    The policy carries ``SCHED_RESET_ON_FORK``: notify and track scripts, and threads, start
    as normal processes (keepalived resets its scripts' scheduling too); a busy script never
    competes with the VRRP timers at realtime priority.
    ``rlimit_rttime_us`` (keepalived ``vrrp_rlimit_rttime``) caps the CPU time the process may
    use without blocking; past it the kernel sends SIGXCPU, so it is set only when asked for.
    ``quiet``: a refusal (no CAP_SYS_NICE, a container) is logged at info, not as a warning
    (the default realtime priority was not asked for by the user).
    """
    if not RT_PRIORITY_MIN <= priority <= RT_PRIORITY_MAX:
        log.error(
            "vrrp_rt_priority %d out of range %d..%d, not using realtime scheduling",
            priority,
            RT_PRIORITY_MIN,
            RT_PRIORITY_MAX,
        )
        return False
    if rlimit_rttime_us is not None:
        try:
            resource.setrlimit(resource.RLIMIT_RTTIME, (rlimit_rttime_us, rlimit_rttime_us))
        except (OSError, ValueError) as exc:
            log.warning("cannot set RLIMIT_RTTIME to %d us: %s", rlimit_rttime_us, exc)
    policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        os.sched_setscheduler(0, policy, os.sched_param(priority))
    except OSError as exc:
        (log.info if quiet else log.warning)(
            "cannot use SCHED_FIFO priority %d: %s", priority, exc.strerror or exc
        )
        return False
    log.info("using SCHED_FIFO priority %d", priority)
    return True


def is_realtime() -> bool:
    """True if this process runs under SCHED_FIFO or SCHED_RR."""
    policy = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
    return policy in (os.SCHED_FIFO, os.SCHED_RR)


def lock_memory() -> bool:
    """``mlockall(MCL_CURRENT | MCL_FUTURE)`` (keepalived ``vrrp_no_swap``)."""
    name = ctypes.util.find_library("c") or "libc.so.6"
    libc = ctypes.CDLL(name, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        log.warning("cannot lock memory (mlockall): %s", os.strerror(err))
        return False
    log.info("memory locked (mlockall)")
    return True


def freeze_gc() -> None:
    """Collect once, then move every object to the permanent generation (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


@dataclass
class LateTimerMonitor:
    """Notices timers that ran late, logs them as keepalived does, keeps figures for metrics.

    keepalived logs ``A thread timer expired N seconds ago`` when its scheduler runs a timer
    past its deadline; the driver calls :meth:`check` with the deadline it armed and the time
    the callback actually ran.
    """

    threshold_s: float = 0.1
    """Lateness above which a line is logged (all lateness is still measured)."""
    late_count: int = 0
    """Timers later than ``threshold_s``."""
    last_lateness_s: float = 0.0
    max_lateness_s: float = 0.0
    total_lateness_s: float = 0.0
    checks: int = 0
    _observers: list[Any] = field(default_factory=list, repr=False)

    def check(self, deadline: float, now: float) -> float:
        """Record a timer armed for ``deadline`` that ran at ``now``; returns the lateness (s)."""
        late = max(0.0, now - deadline)
        self.checks += 1
        self.last_lateness_s = late
        self.total_lateness_s += late
        self.max_lateness_s = max(self.max_lateness_s, late)
        for obs in self._observers:
            obs(late)
        if late > self.threshold_s:
            self.late_count += 1
            log.warning("A thread timer expired %.6f seconds ago", late)
        return late

    def observe(self, callback: Any) -> None:
        """Call ``callback(lateness_s)`` on every check (e.g. a prometheus Histogram.observe)."""
        self._observers.append(callback)

    def status(self) -> dict[str, float | int]:
        """JSON-able figures for the status socket."""
        return {
            "timer_checks": self.checks,
            "timer_late_count": self.late_count,
            "timer_last_lateness_s": round(self.last_lateness_s, 6),
            "timer_max_lateness_s": round(self.max_lateness_s, 6),
        }


def call_at_monitored(
    loop: asyncio.AbstractEventLoop,
    when: float,
    callback: Callable[..., Any],
    *args: Any,
    monitor: LateTimerMonitor,
) -> asyncio.TimerHandle:
    """``loop.call_at(when, callback, *args)`` that first reports its lateness to ``monitor``.

    The loop's clock is ``time.monotonic()``, the same clock as the VRRP core's deadlines.
    """

    def fire() -> None:
        monitor.check(when, loop.time())
        callback(*args)

    return loop.call_at(when, fire)


def apply(
    *,
    rt_priority: int | None,
    no_swap: bool,
    rlimit_rttime_us: int | None = None,
    realtime: bool = False,
) -> dict[str, bool]:
    """Apply the VRRP process's scheduling settings; returns what took effect (for status).

    ``realtime``: use :data:`DEFAULT_RT_PRIORITY` when ``rt_priority`` is not set.
    """
    prio = rt_priority_for(rt_priority, realtime=realtime)
    rt = (
        set_realtime(prio, rlimit_rttime_us=rlimit_rttime_us, quiet=not rt_priority)
        if prio
        else False
    )
    locked = lock_memory() if no_swap else False
    return {"realtime": rt, "mlockall": locked}
