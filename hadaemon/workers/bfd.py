"""The ``bfd`` worker: hosts :class:`hadaemon.io.bfd.BfdService` (keepalived's BFD process).

Started by the supervisor through :mod:`hadaemon.workers.base` when the config has
``bfd_instance`` blocks (and not ``-B``/``--no_bfd``); ``make_service`` is the hook.
"""

from __future__ import annotations

import logging
from typing import Any

from hadaemon.workers.base import Emit

log = logging.getLogger("hadaemon.bfd")

PRELOAD = ("hadaemon.io.bfd",)


def make_service(config: Any, emit: Emit, options: dict[str, Any]) -> Any:
    """Build the BFD service for ``config`` (its ``bfd_instances``)."""
    from hadaemon.io.bfd import BfdService

    _sched(config)
    return BfdService(config, emit)


def _sched(config: Any) -> None:
    """SCHED_FIFO (``bfd_rt_priority``, else the lowest realtime priority when permitted, as
    the vrrp worker), ``bfd_no_swap``, ``bfd_rlimit_rttime`` (global_defs).

    Realtime by default: at keepalived's default timers (10 ms × 5) a normal-priority worker
    on a busy host is descheduled for longer than the peer's Detection Time (bench_bfd.py).
    """
    g = config.global_defs
    try:
        from hadaemon.io import sched

        sched.apply(
            rt_priority=g.bfd_rt_priority,
            no_swap=bool(g.bfd_no_swap),
            rlimit_rttime_us=g.bfd_rlimit_rttime,
            realtime=True,
        )
    except Exception as exc:  # never fatal
        log.warning("BFD scheduling settings not applied: %s", exc)
