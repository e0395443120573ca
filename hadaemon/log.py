"""Logging set-up for every hadaemon process: keepalived-like wording and destinations.

One function, :func:`setup_logging`, configures the root logger for the daemon's supervisor,
its workers, the single-process runner (``python -m hadaemon.workers.vrrp``), tests and bench:

- target ``stderr`` (``-l``/``--log-console``, the daemon's ``--foreground``): lines on
  stderr. Untagged (the single-process runner) they are keepalived's console lines,
  ``Fri Nov 27 05:50:01 2026: (VI_1) Entering MASTER STATE``; tagged (the daemon, several
  processes writing to one terminal) they also name the process and the logger,
  ``2026-11-27 05:50:01,123 hadaemon_vrrp[4242] hadaemon.vrrp: (VI_1) Entering MASTER STATE``.
- target ``syslog``: ``/dev/log`` (journald reads it) with ident ``hadaemon`` /
  ``hadaemon_<worker>`` and facility daemon, as keepalived; stderr when there is no syslog
  socket.
- ``-D``/``--debug``: DEBUG level, INFO otherwise. Third-party chatter stays quiet even with
  ``-D``: records below WARNING from :data:`QUIET_LIBRARIES` (pyroute2 logs every netlink
  message) are dropped by a handler filter, because pyroute2 resets its logger level on
  import. ``hadaemon.vrrp.pkt`` hex dumps stay off unless ``pkt_debug``.

Loggers form a tree per subsystem (STYLE.md (c) 11): ``hadaemon.vrrp.proto``,
``hadaemon.vrrp.pkt``, ``hadaemon.vrrp.sock``, ``hadaemon.vrrp.arp``, ``hadaemon.vrrp.ndisc``,
``hadaemon.vrrp.scripts``, ``hadaemon.netlink``, ``hadaemon.bpf``, ``hadaemon.ipc``, …
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from typing import TextIO

__all__ = [
    "CONSOLE_DATEFMT",
    "CONSOLE_FORMAT",
    "QUIET_LIBRARIES",
    "TARGETS",
    "RateLimiter",
    "quiet_libraries",
    "setup_logging",
]

#: where logs can go
TARGETS = ("stderr", "syslog")
#: keepalived's console line (``%c: message``)
CONSOLE_FORMAT = "%(asctime)s: %(message)s"
CONSOLE_DATEFMT = "%a %b %d %H:%M:%S %Y"
#: third-party loggers kept at WARNING even with ``-D``
QUIET_LIBRARIES = ("pyroute2",)
_SYSLOG_SOCKET = "/dev/log"


def setup_logging(
    target: str = "stderr",
    debug: bool = False,
    *,
    ident: str = "hadaemon",
    tagged: bool = True,
    pkt_debug: bool = False,
    stream: TextIO | None = None,
) -> str:
    """Configure the root logger for ``target`` (one of :data:`TARGETS`); idempotent (the
    handlers of an earlier call are replaced).

    ``tagged``: console lines name the process (``ident[pid]``) and the logger; without it they
    are keepalived's ``date: message``. ``stream``: the console stream (default stderr).
    Returns the target in effect (``stderr`` when ``syslog`` was asked but there is no
    ``/dev/log``).
    """
    if target not in TARGETS:
        raise ValueError(f"log target {target!r}: expected one of {', '.join(TARGETS)}")
    root = logging.getLogger()
    for logger in (root, logging.getLogger("hadaemon")):
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
    logging.getLogger("hadaemon").propagate = True
    handler: logging.Handler | None = None
    effective = "stderr"
    if target == "syslog" and os.path.exists(_SYSLOG_SOCKET):
        try:
            handler = logging.handlers.SysLogHandler(
                address=_SYSLOG_SOCKET, facility=logging.handlers.SysLogHandler.LOG_DAEMON
            )
        except OSError:
            handler = None
        else:
            # %(process)d, not the pid now: the daemon forks after setting up
            handler.setFormatter(logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
            effective = "syslog"
    if handler is None:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        if tagged:
            fmt = logging.Formatter(f"%(asctime)s {ident}[%(process)d] %(name)s: %(message)s")
        else:
            fmt = logging.Formatter(CONSOLE_FORMAT, CONSOLE_DATEFMT)
        handler.setFormatter(fmt)
    handler.addFilter(quiet_libraries)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("hadaemon.vrrp.pkt").setLevel(logging.DEBUG if pkt_debug else logging.INFO)
    return effective


def quiet_libraries(record: logging.LogRecord) -> bool:
    """Drop records below WARNING from :data:`QUIET_LIBRARIES` (a handler filter)."""
    if record.levelno >= logging.WARNING:
        return True
    return not any(
        record.name == lib or record.name.startswith(lib + ".") for lib in QUIET_LIBRARIES
    )


class RateLimiter:
    """Allow at most ``burst`` log lines per ``period_s`` per key; counts what it suppressed.

    Used for peer errors (bad checksum, wrong TTL …) so a flood cannot fill the log.
    """

    def __init__(self, burst: int = 10, period_s: float = 10.0) -> None:
        self.burst = burst
        self.period_s = period_s
        self._window: dict[str, tuple[float, int]] = {}
        self.suppressed: dict[str, int] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """True if a line for ``key`` may be logged now."""
        now = time.monotonic() if now is None else now
        start, n = self._window.get(key, (now, 0))
        if now - start >= self.period_s:
            start, n = now, 0
        if n >= self.burst:
            self.suppressed[key] = self.suppressed.get(key, 0) + 1
            self._window[key] = (start, n)
            return False
        self._window[key] = (start, n + 1)
        return True
