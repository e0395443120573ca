"""Two namespaces joined by a veth pair, with hadaemon and keepalived BFD peers (netns tests).

``BfdLab`` starts the whole hadaemon daemon (supervisor + ``bfd`` worker, and whatever else the
config asks for) and keepalived 2.2.7 with pid files, run directory and logs under tmp_path,
and reads hadaemon's BFD sessions from its status socket.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hadaemon.supervisor.status_cli import query
from helpers.netns import Topology, sh, wait_for

_starts = itertools.count(1)


def start_keepalived(
    topo: Topology, ns: str, tmp: Path, conf: str, name: str = "ka"
) -> subprocess.Popen[Any]:
    """keepalived 2.2.7 (``-n -l -D``, every subsystem its config asks for) in namespace
    ``ns``, config ``tmp/NAME.conf``, output appended to ``tmp/NAME.log``.

    Fresh pid files per start: a killed keepalived's children can linger as zombies
    (reparented to a reaper that is not ours), which keepalived takes for a live daemon.
    """
    path = tmp / f"{name}.conf"
    path.write_text(conf)
    d = tmp / f"{name}-pids{next(_starts)}"
    d.mkdir()
    argv = ["keepalived", "-n", "-l", "-D", "-f", str(path)]
    for flag, what in (("-p", "ka"), ("-r", "vrrp"), ("-c", "check"), ("-b", "bfd")):
        argv += [flag, str(d / f"{what}.pid")]
    with open(tmp / f"{name}.log", "ab") as fh:
        return topo.popen(ns, argv, stdout=fh)


def bfd_conf(name: str, neighbor: str, source: str, extra: str = "") -> str:
    """A ``bfd_instance`` block with 100 ms × 3 timers (a Detection Time of 0.3 s once Up)."""
    return (
        f"bfd_instance {name} {{\n    neighbor_ip {neighbor}\n    source_ip {source}\n"
        f"    min_rx 100\n    min_tx 100\n    multiplier 3\n{extra}}}\n"
    )


class BfdLab:
    """``a`` (10.x.0.1) and ``b`` (10.x.0.2) on one veth pair; processes by router name."""

    def __init__(self, tmp: Path, tag: str = "bf") -> None:
        self.tmp = tmp
        self.topo = Topology(tag)
        self.ns = {"a": self.topo.ns("a"), "b": self.topo.ns("b")}
        net = 100 + (os.getpid() + id(self)) % 100  # unique per test, inside its namespaces
        self.addr = {"a": f"10.{net}.0.1", "b": f"10.{net}.0.2"}
        va, vb = f"{self.topo.prefix[-6:]}a", f"{self.topo.prefix[-6:]}b"
        sh("ip", "link", "add", va, "netns", self.ns["a"], "type", "veth", "peer", "name", vb,
           "netns", self.ns["b"])  # fmt: skip
        for r, ifn in (("a", va), ("b", vb)):
            self.topo.exec(self.ns[r], "ip", "link", "set", ifn, "name", "eth0")
            self.topo.exec(self.ns[r], "ip", "addr", "add", f"{self.addr[r]}/24", "dev", "eth0")
            self.topo.exec(self.ns[r], "ip", "link", "set", "eth0", "up")
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.logs: dict[str, Path] = {}

    def close(self) -> None:
        """Stop hadaemon in order (SIGTERM), then tear down everything started here."""
        for name, p in self.procs.items():
            if p.poll() is None and name.startswith("hd"):
                p.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)
        self.topo.close()

    # -- processes --------------------------------------------------------------------------
    def _log(self, name: str) -> Any:
        self.logs[name] = self.tmp / f"{name}.log"
        return open(self.logs[name], "ab")  # noqa: SIM115 - handed to the child

    def start_keepalived(self, router: str, conf: str, name: str = "ka") -> None:
        """keepalived -n -l -D in ``router`` with its own pid files."""
        self.procs[name] = start_keepalived(self.topo, self.ns[router], self.tmp, conf, name)
        self.logs[name] = self.tmp / f"{name}.log"

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (keepalived and its children), and reap it."""
        p = self.procs[name]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)

    def start_hadaemon(self, router: str, conf: str, name: str = "hd") -> None:
        """The whole daemon (``python -m hadaemon -n -l -D``) in ``router``."""
        path = self.tmp / f"{name}.conf"
        path.write_text(conf)
        run_dir = self.tmp / f"run-{name}"
        fh = self._log(name)
        argv = [sys.executable, "-m", "hadaemon", "-n", "-l", "-D", "-f", str(path)]
        argv += ["--run-dir", str(run_dir), "-i", f"t{os.getpid()}"]
        self.procs[name] = self.topo.popen(self.ns[router], argv, stdout=fh)
        fh.close()

    def log(self, name: str) -> str:
        """Everything ``name`` logged so far."""
        p = self.logs.get(name)
        return p.read_text(errors="replace") if p and p.exists() else ""

    def wait_log(self, name: str, pattern: str, timeout_s: float, *, since: int = 0) -> None:
        """Wait for ``pattern`` (regex) in ``name``'s log after offset ``since``."""
        wait_for(
            lambda: re.search(pattern, self.log(name)[since:]),
            timeout_s,
            0.05,
            f"{pattern!r} in the {name} log",
        )

    # -- hadaemon's status ------------------------------------------------------------------
    def status(self, name: str = "hd") -> dict[str, Any] | None:
        """hadaemon's status document (None while the socket is not there)."""
        try:
            return query(str(self.tmp / f"run-{name}" / "status.sock"), timeout_s=5.0)
        except (OSError, ValueError):
            return None

    def session(self, bfd: str, name: str = "hd") -> dict[str, Any] | None:
        """One BFD session's status from hadaemon's bfd worker."""
        doc = self.status(name)
        svc = (doc or {}).get("services", {}).get("bfd")
        if not isinstance(svc, dict):
            return None
        for s in svc.get("sessions", []):
            if s.get("name") == bfd:
                return dict(s)
        return None

    def wait_session(self, bfd: str, state: str, timeout_s: float, name: str = "hd") -> Any:
        """Wait until hadaemon's session ``bfd`` is in ``state``; returns its status."""
        p = self.procs[name]

        def ok() -> Any:
            assert p.poll() is None, f"hadaemon exited: {self.log(name)[-3000:]}"
            s = self.session(bfd, name)
            return s if s and s["state"] == state else None

        return wait_for(ok, timeout_s, 0.05, f"BFD {bfd} {state}")
