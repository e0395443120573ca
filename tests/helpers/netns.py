"""Network-namespace topologies for integration tests.

Every topology gets a unique name prefix (pid + random) so parallel test runs never collide, and
``Topology.close()`` deletes every namespace it created and kills every process it started. Only
PIDs started here are ever killed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


def unique_prefix(tag: str = "t") -> str:
    """A short prefix unique to this process and call (netns names must stay short)."""
    return f"hd{tag}{os.getpid() % 10000}{secrets.token_hex(2)}"


def sh(*args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, text=True, capture_output=True, **kw)


class Topology:
    """A set of namespaces joined by veth pairs to a bridge living in its own namespace."""

    def __init__(self, tag: str = "t") -> None:
        self.prefix = unique_prefix(tag)
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[Any]] = []
        self.bridge_ns: str | None = None

    # -- building -------------------------------------------------------------------------
    def ns(self, name: str) -> str:
        """Create namespace ``<prefix>-<name>`` with loopback up; returns its full name."""
        full = f"{self.prefix}-{name}"
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        self.exec(full, "ip", "link", "set", "lo", "up")
        return full

    def exec(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def lan(self, hosts: Sequence[tuple[str, str, Sequence[str]]], name: str = "lan") -> str:
        """Attach hosts to one L2 segment (a bridge in a dedicated namespace).

        ``hosts`` is ``[(ns, ifname, [addr/prefix, ...]), ...]``; the veth end inside each host
        is renamed ``ifname`` (e.g. ``eth1``) and given the addresses.
        """
        if self.bridge_ns is None:
            self.bridge_ns = self.ns("br")
        br = f"br-{name}"[:15]
        self.exec(self.bridge_ns, "ip", "link", "add", br, "type", "bridge", "mcast_snooping", "0")
        self.exec(self.bridge_ns, "ip", "link", "set", br, "up")
        for i, (ns, ifname, addrs) in enumerate(hosts):
            outer = f"v{name[:3]}{i}{secrets.token_hex(2)}"
            tmp = f"p{secrets.token_hex(5)}"
            sh(
                "ip",
                "link",
                "add",
                outer,
                "netns",
                self.bridge_ns,
                "type",
                "veth",
                "peer",
                "name",
                tmp,
                "netns",
                ns,
            )
            self.exec(self.bridge_ns, "ip", "link", "set", outer, "master", br, "up")
            self.exec(ns, "ip", "link", "set", tmp, "name", ifname)
            for a in addrs:
                self.exec(ns, "ip", "addr", "add", a, "dev", ifname)
            self.exec(ns, "ip", "link", "set", ifname, "up")
        return br

    # -- processes ------------------------------------------------------------------------
    def popen(self, ns: str, args: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(["ip", "netns", "exec", ns, *args], **kw)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=5)
        for ns in reversed(self.namespaces):
            # kill anything still running in the namespace that we started there
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(
    pred: Callable[[], Any], timeout_s: float, interval_s: float = 0.02, what: str = "condition"
) -> Any:
    """Poll ``pred`` until it returns a truthy value; AssertionError past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)
