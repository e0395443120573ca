"""Logging set-up shared by the supervisor and the workers.

``stderr`` (``--foreground``/``-l``) prints ``time name: message``; ``syslog`` sends to
``/dev/log`` (journald reads it) with ident ``hadaemon`` / ``hadaemon_<worker>`` and facility
``daemon``, as keepalived does.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys


def setup_logging(target: str, debug: bool, ident: str = "hadaemon") -> str:
    """Configure the root logger for ``target`` = ``stderr`` or ``syslog``; returns the target
    in effect (``stderr`` when there is no ``/dev/log``)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler
    if target == "syslog" and os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
        handler.setFormatter(logging.Formatter(f"{ident}[{os.getpid()}]: %(message)s"))
        effective = "syslog"
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {ident}[%(process)d] %(name)s: %(message)s")
        )
        effective = "stderr"
    # -D is about hadaemon's own decisions; pyroute2 would log every netlink message. A filter
    # on the handler, because pyroute2 resets its logger's level when it is imported.
    handler.addFilter(quiet_libraries)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    return effective


#: third-party loggers kept at WARNING even with ``-D``
QUIET_LIBRARIES = ("pyroute2",)


def quiet_libraries(record: logging.LogRecord) -> bool:
    """Drop records below WARNING from :data:`QUIET_LIBRARIES` (a handler filter)."""
    if record.levelno >= logging.WARNING:
        return True
    return not any(
        record.name == lib or record.name.startswith(lib + ".") for lib in QUIET_LIBRARIES
    )
