"""Router implementations the lab can run: hadaemon or keepalived.

Both are started in the foreground with console logging (``-n -l -D``), their own pid files in the
lab's temporary directory, and recognised by keepalived's log wording
``(VI_1) Entering MASTER STATE``.

keepalived on this kind of kernel (no IPVS) cannot run its checker: the checker process exits
with "IPVS: Can't initialize ipvs" and takes keepalived down. The lab therefore runs keepalived
with ``-P`` (VRRP only) and supplies the two missing parts itself (see :mod:`hadaemon.lab.agent`):
a stand-in TCP_CHECK that runs the config's ``notify_down`` script, and a stand-in direct-routing
forwarder active while the router holds the VIP.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

STATE_RE = re.compile(r"\((?P<instance>[^)]+)\) Entering (?P<state>MASTER|BACKUP|FAULT) STATE")

IMPLS = ("hadaemon", "keepalived")


@dataclass(frozen=True)
class RouterImpl:
    """How to run one router implementation."""

    name: str
    #: runs the config's TCP_CHECK and notify_down itself
    has_checker: bool
    #: programs the load balancer (VIP:3306 -> real server) itself
    has_datapath: bool

    def pidfile(self, rundir: Path) -> Path:
        """The (supervisor / parent) pid file the notify script signals."""
        return rundir / f"{self.name}.pid"

    def argv(self, conf: Path, rundir: Path) -> list[str]:
        """Command line, foreground with console logging."""
        if self.name == "keepalived":
            return [
                keepalived_path() or "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(conf),
                "-p",
                str(self.pidfile(rundir)),
                "-r",
                str(rundir / "vrrp.pid"),
                "-c",
                str(rundir / "checkers.pid"),
            ]
        return [
            sys.executable,
            "-m",
            "hadaemon",
            "-n",
            "-l",
            "-D",
            "-f",
            str(conf),
            "-p",
            str(self.pidfile(rundir)),
            "--run-dir",
            str(rundir),
        ]

    def pidfiles(self, rundir: Path) -> list[Path]:
        """Every pid file this implementation may leave behind (removed before a start)."""
        return [self.pidfile(rundir), rundir / "vrrp.pid", rundir / "checkers.pid"]


def keepalived_path() -> str | None:
    """The keepalived binary, if installed."""
    return shutil.which("keepalived") or (
        "/usr/sbin/keepalived" if Path("/usr/sbin/keepalived").exists() else None
    )


def hadaemon_missing() -> str | None:
    """Why the hadaemon daemon cannot run in this build (None when it can)."""
    for mod in ("hadaemon.supervisor.main", "hadaemon.io.driver"):
        try:
            if importlib.util.find_spec(mod) is None:
                return f"module {mod} is not part of this build yet"
        except ImportError as e:
            return f"module {mod} cannot be imported: {e}"
    return None


def make_impl(
    name: str, *, standin_checker: bool = False, standin_datapath: bool = False
) -> RouterImpl:
    """The implementation called ``name``; keepalived always gets both stand-ins here."""
    if name == "keepalived":
        return RouterImpl("keepalived", has_checker=False, has_datapath=False)
    if name == "hadaemon":
        return RouterImpl(
            "hadaemon", has_checker=not standin_checker, has_datapath=not standin_datapath
        )
    raise ValueError(f"unknown router implementation {name!r} (choose from {', '.join(IMPLS)})")
