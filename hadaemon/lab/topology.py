"""Network namespaces for the lab, built with iproute2 (``ip``).

Every run gets a prefix ``hdlab-<owner pid>-<random>``; all its namespaces are called
``<prefix>-<host>`` and its files live in a temporary directory whose name carries the same prefix.
Two concurrent runs therefore never share a name, and a lab left behind by a killed run is
recognisable by its dead owner pid (:func:`find_leftovers`, :func:`cleanup_leftovers`).

Topology (the seed's LAN, eth1 everywhere)::

    r1 (192.168.10.18) ─┐
    r2 (192.168.10.23) ─┤
    rs1 (192.168.10.31)─┼── bridge in namespace <prefix>-lan
    rs2 (192.168.10.32)─┤
    client (.50)       ─┘        VIP 192.168.100.100 (owned by the VRRP master)
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX_RE = re.compile(r"^(hdlab-(\d+)-[0-9a-f]+)-")
TMP_RE = re.compile(r"^hadaemon-(hdlab-(\d+)-[0-9a-f]+)-")


class LabError(Exception):
    """A lab problem with a message meant for the user (no traceback)."""


def run(
    *args: str, check: bool = True, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise :class:`LabError` with its stderr."""
    try:
        r = subprocess.run(list(args), text=True, capture_output=True, input=input_text)
    except FileNotFoundError as e:
        raise LabError(f"{args[0]}: command not found") from e
    if check and r.returncode != 0:
        raise LabError(f"`{' '.join(args)}` failed: {r.stderr.strip() or r.stdout.strip()}")
    return r


def new_prefix() -> str:
    """A prefix unique to this process and call."""
    return f"hdlab-{os.getpid()}-{secrets.token_hex(3)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_is_lab(pid: int) -> bool:
    if not _pid_alive(pid):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"hadaemon" in cmd or b"lab" in cmd or b"pytest" in cmd


def list_netns() -> list[str]:
    """Names of all network namespaces known to iproute2."""
    r = run("ip", "netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


@dataclass
class Leftovers:
    """What a killed run left behind: namespaces and temporary directories, by prefix."""

    namespaces: dict[str, list[str]] = field(default_factory=dict)
    tmpdirs: dict[str, list[str]] = field(default_factory=dict)

    def prefixes(self) -> list[str]:
        return sorted(set(self.namespaces) | set(self.tmpdirs))


def find_leftovers() -> Leftovers:
    """Labs whose owner process is gone (namespaces and temp dirs)."""
    lo = Leftovers()
    for ns in list_netns():
        m = PREFIX_RE.match(ns)
        if m and not _owner_is_lab(int(m.group(2))):
            lo.namespaces.setdefault(m.group(1), []).append(ns)
    tmp = Path(tempfile.gettempdir())
    for d in tmp.glob("hadaemon-hdlab-*"):
        m = TMP_RE.match(d.name)
        if m and d.is_dir() and not _owner_is_lab(int(m.group(2))):
            lo.tmpdirs.setdefault(m.group(1), []).append(str(d))
    return lo


def _kill_netns_pids(ns: str) -> None:
    r = run("ip", "netns", "pids", ns, check=False)
    for tok in r.stdout.split():
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(tok), signal.SIGKILL)


def delete_netns(ns: str) -> None:
    """Kill what still runs in ``ns`` (lab processes only live there) and delete it."""
    _kill_netns_pids(ns)
    run("ip", "netns", "del", ns, check=False)


def cleanup_leftovers(lo: Leftovers | None = None) -> list[str]:
    """Remove every leftover lab; returns a line per removed item."""
    lo = lo or find_leftovers()
    done: list[str] = []
    for prefix in lo.prefixes():
        for ns in lo.namespaces.get(prefix, []):
            delete_netns(ns)
            done.append(f"namespace {ns}")
        for d in lo.tmpdirs.get(prefix, []):
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"directory {d}")
    return done


@dataclass
class Host:
    """One namespace on the LAN."""

    name: str
    ns: str
    addr: str
    mac: str = ""


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc), parents before children."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ")"
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def crash(root: int) -> list[int]:
    """Kill ``root`` and every descendant like a crash: all stopped first, then SIGKILL.

    Stopping first means no process of the tree can react (a worker whose parent dies would get
    its PDEATHSIG and shut down cleanly, sending priority-0 adverts; a supervisor would respawn
    a worker). Returns the pids killed.
    """
    pids = process_tree(root)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    for pid in process_tree(root):  # anything forked meanwhile
        if pid not in pids:
            pids.append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


class Topology:
    """The lab's namespaces; :meth:`close` removes everything it created."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or new_prefix()
        self.namespaces: list[str] = []
        self.hosts: dict[str, Host] = {}
        self.procs: list[subprocess.Popen[Any]] = []

    def ns_name(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def add_ns(self, host: str) -> str:
        ns = self.ns_name(host)
        r = run("ip", "netns", "add", ns, check=False)
        if r.returncode != 0:
            raise LabError(
                f"cannot create network namespace {ns}: {r.stderr.strip()} "
                "(network namespaces need root and CONFIG_NET_NS)"
            )
        self.namespaces.append(ns)
        self.ip(ns, "link", "set", "lo", "up")
        return ns

    def ip(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "-n", ns, *args, check=check)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}")

    def build_lan(
        self, hosts: Sequence[tuple[str, str]], prefixlen: int = 24, dev: str = "eth1"
    ) -> None:
        """Create ``hosts`` = [(name, address)] on one bridge; interface ``dev`` in each."""
        br_ns = self.add_ns("lan")
        run("ip", "-n", br_ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        self.ip(br_ns, "link", "set", "br0", "up")
        for name, addr in hosts:
            ns = self.add_ns(name)
            run(
                "ip",
                "link",
                "add",
                dev,
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                "name",
                name,
                "netns",
                br_ns,
            )
            self.ip(br_ns, "link", "set", name, "master", "br0", "up")
            self.ip(ns, "addr", "add", f"{addr}/{prefixlen}", "dev", dev)
            self.ip(ns, "link", "set", dev, "up")
            out = self.ip(ns, "-br", "link", "show", dev).stdout.split()
            self.hosts[name] = Host(name, ns, addr, out[2] if len(out) > 2 else "")

    def popen(self, host: str, args: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``args`` inside ``host``'s namespace, in its own process group."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("start_new_session", True)
        kw.setdefault("text", True)
        kw.setdefault("bufsize", 1)
        p = subprocess.Popen(["ip", "netns", "exec", self.hosts[host].ns, *args], **kw)
        self.procs.append(p)
        return p

    def stop(
        self, p: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait_s: float = 10.0
    ) -> int | None:
        """Signal one process we started (``SIGKILL``: it and all its descendants, see
        :func:`crash`) and reap it."""
        if p.poll() is None:
            try:
                if sig == signal.SIGKILL:
                    crash(p.pid)
                else:
                    p.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            return p.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            try:
                return p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                return None

    def close(self) -> None:
        """Stop every process started here, then delete every namespace."""
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        for p in self.procs:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=2)
        for ns in reversed(self.namespaces):
            delete_netns(ns)
        self.namespaces.clear()
