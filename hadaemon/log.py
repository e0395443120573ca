"""Logging setup: keepalived-like wording and destinations.

- ``-l``/``--log-console``: lines on stderr as keepalived prints them,
  ``Fri Nov 27 05:50:01 2026: (VI_1) Entering MASTER STATE``.
- otherwise syslog (``/dev/log``, ident ``hadaemon``, facility daemon), journald-friendly; if
  no syslog socket exists the console is used.
- ``-D``/``--debug``: DEBUG level (``hadaemon.vrrp.pkt`` hex dumps stay off unless
  ``pkt_debug``); INFO otherwise.

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

__all__ = ["RateLimiter", "setup_logging"]

CONSOLE_FORMAT = "%(asctime)s: %(message)s"
CONSOLE_DATEFMT = "%a %b %d %H:%M:%S %Y"


def setup_logging(
    *,
    debug: bool = False,
    console: bool = False,
    ident: str = "hadaemon",
    pkt_debug: bool = False,
    stream: object | None = None,
) -> logging.Logger:
    """Configure the ``hadaemon`` logger tree once (idempotent: old handlers are replaced).

    Returns the root ``hadaemon`` logger.
    """
    root = logging.getLogger("hadaemon")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    handler: logging.Handler
    if not console and os.path.exists("/dev/log"):
        try:
            handler = logging.handlers.SysLogHandler(
                address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON
            )
            handler.setFormatter(logging.Formatter(f"{ident}[%(process)d]: %(message)s"))
        except OSError:
            handler = _console(stream)
    else:
        handler = _console(stream)
    root.addHandler(handler)
    logging.getLogger("hadaemon.vrrp.pkt").setLevel(logging.DEBUG if pkt_debug else logging.INFO)
    return root


def _console(stream: object | None) -> logging.Handler:
    h = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    h.setFormatter(logging.Formatter(CONSOLE_FORMAT, CONSOLE_DATEFMT))
    return h


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
