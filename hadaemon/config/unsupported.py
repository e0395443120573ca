"""Warnings for keepalived settings hadaemon parses but does not act on.

A keepalived.conf must load unchanged, so these are accepted; but a user who relies on one
(SNMP, DBus, ``instance``...) must be told at ``hadaemon -t`` and at start-up, at the
line that asked for it, what hadaemon does instead (docs/compatibility.md, marked ⏸).
"""

from __future__ import annotations

from typing import Any

from hadaemon.config.errors import Diagnostics
from hadaemon.config.model import Location

_SNMP = "hadaemon serves no SNMP: use 'hadaemon status --json' or metrics_listen (Prometheus)"

#: global_defs field → what to do instead (warned when set to anything but its default)
GLOBAL_NOT_ACTED_ON: dict[str, str] = {
    "enable_snmp_vrrp": _SNMP,
    "enable_snmp_checker": _SNMP,
    "enable_snmp_rfc": _SNMP,
    "enable_snmp_rfcv2": _SNMP,
    "enable_snmp_rfcv3": _SNMP,
    "enable_traps": _SNMP,
    "enable_dbus": "hadaemon has no DBus interface: use 'hadaemon status --json' or "
    "metrics_listen",
    "instance": "one run directory per daemon: give each its own --run-dir",
    "use_pid_dir": "one pid file per daemon: -p FILE or --run-dir",
    "reload_time_file": "reload with SIGHUP (systemctl reload hadaemon)",
    "config_save_dir": "the running configuration is in 'hadaemon status --json'",
}


def warn_not_acted_on(diags: Diagnostics, name: str, where: Location | None, instead: str) -> None:
    """The one wording of "parsed, not acted on" (global settings and ignored keywords)."""
    diags.warning(f"'{name}' is accepted but not acted on by hadaemon", where, instead)


def check_not_acted_on(config: Any, diags: Diagnostics) -> None:
    """Add a located warning for every setting of :data:`GLOBAL_NOT_ACTED_ON` in use."""
    gd = config.global_defs
    defaults = type(gd)()
    for name, instead in GLOBAL_NOT_ACTED_ON.items():
        value = getattr(gd, name, None)
        if value is None or value == getattr(defaults, name, None):
            continue
        where = gd.locations.get(name) or gd.location
        warn_not_acted_on(diags, name, where, instead)
