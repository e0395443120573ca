"""Helpers for the VRRP netns tests: a LAN of routers + a client, hadaemon and keepalived runners.

Everything lives in namespaces created by :class:`helpers.netns.Topology` (unique prefix), files
live in the test's ``tmp_path``; only processes started here are ever signalled.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers.netns import Topology, wait_for

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
if not os.path.exists(PYTHON):  # pragma: no cover - fallback for unusual checkouts
    PYTHON = sys.executable


def run_py(topo: Topology, ns: str, code: str, timeout_s: float = 20.0) -> str:
    """Run a Python snippet inside namespace ``ns``; return its stdout (raise on failure)."""
    p = subprocess.run(
        ["ip", "netns", "exec", ns, PYTHON, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=str(ROOT),
    )
    if p.returncode != 0:
        raise AssertionError(f"snippet failed in {ns} rc={p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


_PING = """
import socket, struct, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.2)
msg = struct.pack("!BBHHH", 8, 0, 0, 0x4844, 1) + b"hadaemon"
msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
end = time.monotonic() + 2
res = "timeout"
while time.monotonic() < end and res != "reply":
    s.sendto(msg, ("VIP", 0))
    t = time.monotonic() + 0.3
    while time.monotonic() < t:
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (data[0] & 15) * 4
        if addr[0] == "VIP" and data[ihl] == 0 and data[ihl + 4:ihl + 6] == b"HD":
            res = "reply"
            break
print(res)
"""


class Lab:
    """Routers ``r1``, ``r2`` (and optionally more) plus a ``client`` on one Ethernet segment.

    Router *i* gets ``10.0.0.<i>/24`` and ``fd00::<i>/64`` on ``eth1``; the client gets
    ``10.0.0.100``. IPv6 DAD is off so addresses are usable at once.
    """

    def __init__(self, tmp_path: Path, routers: int = 2, client: bool = True) -> None:
        self.tmp = tmp_path
        self.topo = Topology("v")
        self.ns: dict[str, str] = {}
        hosts: list[tuple[str, str, Sequence[str]]] = []
        names = [f"r{i}" for i in range(1, routers + 1)] + (["client"] if client else [])
        for i, name in enumerate(names, start=1):
            full = self.topo.ns(name)
            self.ns[name] = full
            for key in ("all", "default"):
                self.topo.exec(full, "sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
            host = 100 if name == "client" else i
            hosts.append((full, "eth1", [f"10.0.0.{host}/24", f"fd00::{host:x}/64"]))
        self.topo.lan(hosts)
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.logs: dict[str, Path] = {}

    # -- inspection ---------------------------------------------------------------------------
    def addrs(self, name: str, dev: str = "eth1") -> list[str]:
        """Addresses (``a.b.c.d/len``) on ``dev`` in router ``name``."""
        out = self.topo.exec(
            self.ns[name], "ip", "-o", "addr", "show", "dev", dev, check=False
        ).stdout
        return re.findall(r"inet6? (\S+)", out)

    def has_addr(self, name: str, addr: str, dev: str = "eth1") -> bool:
        """True if ``addr`` (with or without /prefix) is configured on ``dev`` in ``name``."""
        return any(a.split("/")[0] == addr.split("/")[0] for a in self.addrs(name, dev))

    def mac(self, name: str, dev: str = "eth1") -> str:
        """The MAC address of ``dev`` in ``name``."""
        out = self.topo.exec(self.ns[name], "cat", f"/sys/class/net/{dev}/address").stdout
        return out.strip()

    def holders(self, addr: str) -> list[str]:
        """Routers that have ``addr`` configured."""
        return [n for n in self.ns if n != "client" and self.has_addr(n, addr)]

    def wait_holder(self, addr: str, name: str, timeout_s: float = 10.0) -> None:
        """Wait until exactly router ``name`` holds ``addr``."""
        wait_for(
            lambda: self.holders(addr) == [name],
            timeout_s,
            what=f"{addr} held only by {name} (now {self.holders(addr)})",
        )

    def client_sees(self, vip: str) -> str | None:
        """Ping ``vip`` from the client (ICMP echo on a raw socket, after flushing the client's
        neighbour cache) and return the MAC the client's kernel resolved it to, or None."""
        c = self.ns["client"]
        self.topo.exec(c, "ip", "neigh", "flush", "dev", "eth1", check=False)
        out = run_py(self.topo, c, _PING.replace("VIP", vip), timeout_s=10).strip()
        if out != "reply":
            return None
        neigh = self.topo.exec(c, "ip", "neigh", "show", vip, "dev", "eth1").stdout
        m = re.search(r"lladdr (\S+)", neigh)
        return m.group(1) if m else None

    def _bridge_port(self, name: str) -> str:
        peer = self.topo.exec(self.ns[name], "cat", "/sys/class/net/eth1/iflink").stdout.strip()
        assert self.topo.bridge_ns is not None
        out = self.topo.exec(self.topo.bridge_ns, "ip", "-o", "link").stdout
        m = re.search(rf"^{peer}: ([^:@]+)", out, re.M)
        assert m, f"bridge port of {name} not found"
        return m.group(1)

    def isolate(self, name: str) -> None:
        """Detach ``name`` from the segment without touching its carrier (a split brain)."""
        assert self.topo.bridge_ns is not None
        self.topo.exec(
            self.topo.bridge_ns, "ip", "link", "set", self._bridge_port(name), "nomaster"
        )

    def rejoin(self, name: str) -> None:
        """Undo :meth:`isolate`."""
        assert self.topo.bridge_ns is not None
        self.topo.exec(
            self.topo.bridge_ns, "ip", "link", "set", self._bridge_port(name), "master", "br-lan"
        )

    # -- daemons ------------------------------------------------------------------------------
    def start_hadaemon(
        self, name: str, conf: str, *extra: str, cli: bool = False
    ) -> subprocess.Popen[Any]:
        """Start hadaemon's VRRP (``-n -l -D -f CONF``) in router ``name``; output to a log.

        ``conf`` is keepalived.conf text, or JSON (model dict form, see :func:`hd_config`).
        ``cli=True`` runs the whole daemon (``python -m hadaemon``, supervisor + workers) with
        its run directory and pid file under tmp_path.
        """
        path = self.tmp / (f"{name}.json" if conf.lstrip().startswith("{") else f"{name}.conf")
        path.write_text(conf)
        logp = self.tmp / f"{name}.log"
        self.logs[name] = logp
        fh = open(logp, "ab")  # noqa: SIM115 - handed to the child
        if cli:  # the full daemon: supervisor + vrrp worker process
            run_dir = self.tmp / f"run-{name}"
            run_dir.mkdir(exist_ok=True)
            argv = [
                PYTHON,
                "-m",
                "hadaemon",
                "-n",
                "-l",
                "-D",
                "-f",
                str(path),
                "--run-dir",
                str(run_dir),
                "-p",
                str(run_dir / "hadaemon.pid"),
                *extra,
            ]
        else:  # the single-process VRRP runner
            argv = [
                PYTHON,
                "-m",
                "hadaemon.workers.vrrp",
                "-n",
                "-l",
                "-D",
                "-f",
                str(path),
                *extra,
            ]
        p = self.topo.popen(
            self.ns[name], argv, stdout=fh, stderr=subprocess.STDOUT, cwd=str(ROOT)
        )
        fh.close()
        self.procs[name] = p
        return p

    def start_keepalived(self, name: str, conf: str) -> subprocess.Popen[Any]:
        """Start keepalived 2.2.7 in router ``name`` with pid files under tmp_path."""
        path = self.tmp / f"{name}.conf"
        path.write_text(conf)
        logp = self.tmp / f"{name}.log"
        self.logs[name] = logp
        fh = open(logp, "ab")  # noqa: SIM115 - handed to the child
        d = self.tmp
        p = self.topo.popen(
            self.ns[name],
            [
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(path),
                "-p",
                str(d / f"{name}.pid"),
                "-r",
                str(d / f"{name}.vrrp.pid"),
                "-c",
                str(d / f"{name}.check.pid"),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        fh.close()
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        """Everything router ``name``'s daemon has logged so far."""
        p = self.logs.get(name)
        return p.read_text(errors="replace") if p and p.exists() else ""

    def wait_log(
        self, name: str, pattern: str, timeout_s: float = 10.0, *, since: int = 0
    ) -> re.Match[str]:
        """Wait for a regex to appear in router ``name``'s log (after offset ``since``)."""
        return wait_for(
            lambda: re.search(pattern, self.log(name)[since:]),
            timeout_s,
            what=f"{pattern!r} in {name}'s log:\n{self.log(name)[-3000:]}",
        )

    def mark(self, name: str) -> int:
        """The current length of ``name``'s log, for ``wait_log(since=...)``."""
        return len(self.log(name))

    def signal(self, name: str, sig: int) -> None:
        """Signal the daemon we started in ``name`` (its whole process group: ip netns exec)."""
        p = self.procs[name]
        if p.poll() is None:
            os.killpg(p.pid, sig)

    def status(self, name: str) -> dict[str, Any]:
        """``hadaemon status --json`` of the full daemon started with ``cli=True`` in ``name``."""
        r = self.topo.exec(
            self.ns[name],
            PYTHON,
            "-m",
            "hadaemon",
            "status",
            "--json",
            "--run-dir",
            str(self.tmp / f"run-{name}"),
        )
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    def kill9(self, name: str) -> None:
        """SIGKILL the daemon we started in ``name`` and reap it."""
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop(self, name: str, timeout_s: float = 10.0) -> int:
        """SIGTERM the daemon in ``name`` and wait for it to exit; returns its exit code."""
        self.signal(name, signal.SIGTERM)
        return self.procs[name].wait(timeout=timeout_s)

    def close(self) -> None:
        """Kill what we started, delete the namespaces, print the daemons' logs (pytest shows
        them for failed tests)."""
        self.topo.close()
        for name in self.logs:
            print(f"----- {name} log -----\n{self.log(name)[-6000:]}")


_CAPTURE = """
import json, socket, struct, sys, time
proto, seconds, ifname = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((ifname, 0))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS: the kernel's arrival time
s.settimeout(0.05)
out = []
end = time.monotonic() + seconds
print("ready", flush=True)
while time.monotonic() < end:
    try:
        f, anc, _flags, _addr = s.recvmsg(2048, 64)
    except socket.timeout:
        continue
    kt = next((struct.unpack("qq", d[:16]) for lv, ty, d in anc if ty == 35), None)
    et = struct.unpack("!H", f[12:14])[0]
    if proto == "arp" and et == 0x0806:
        op = struct.unpack("!H", f[20:22])[0]
        out.append(dict(t=time.monotonic(), eth_src=f[6:12].hex(":"), eth_dst=f[0:6].hex(":"),
                        op=op, sha=f[22:28].hex(":"), spa=socket.inet_ntoa(f[28:32]),
                        tha=f[32:38].hex(":"), tpa=socket.inet_ntoa(f[38:42])))
    elif proto == "na" and et == 0x86DD and f[20] == 58 and f[54] == 136:
        out.append(dict(t=time.monotonic(), eth_src=f[6:12].hex(":"), hlim=f[21],
                        dst=socket.inet_ntop(socket.AF_INET6, f[38:54]), flags=f[58],
                        target=socket.inet_ntop(socket.AF_INET6, f[62:78])))
    elif proto == "vrrp" and et == 0x0800 and f[23] == 112:
        ihl = (f[14] & 15) * 4
        v = f[14 + ihl:]
        out.append(dict(t=time.monotonic(), kt=kt[0] + kt[1] / 1e9 if kt else None,
                        src=socket.inet_ntoa(f[26:30]),
                        dst=socket.inet_ntoa(f[30:34]), ttl=f[22], vrid=v[1], prio=v[2]))
print(json.dumps(out), flush=True)
"""


class Capture:
    """A background frame capture on ``ifname`` (default ``eth1``) of namespace ``ns``
    (AF_PACKET, in a subprocess).

    ``proto``: ``arp`` (ARP frames), ``na`` (ICMPv6 neighbour adverts) or ``vrrp`` (IPv4 proto
    112). The constructor returns once the capture socket is open; :meth:`result` waits for the
    end and returns the decoded frames as dicts. ``t``: when the capture read the frame
    (``time.monotonic()``); VRRP frames also carry ``kt``, the kernel's arrival stamp
    (CLOCK_REALTIME, s), for intervals that must not include the reader's scheduling delay.
    """

    def __init__(
        self, topo: Topology, ns: str, seconds: float, proto: str = "arp", ifname: str = "eth1"
    ) -> None:
        self.proc = topo.popen(
            ns,
            [PYTHON, "-c", _CAPTURE, proto, str(seconds), ifname],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise AssertionError(f"capture did not start: {line!r} {self.proc.stderr.read()}")

    def result(self) -> list[dict[str, Any]]:
        """Wait for the capture to finish and return its frames."""
        out, err = self.proc.communicate(timeout=120)
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise AssertionError(f"capture failed: {err}")
        return json.loads(lines[-1])


_RECORDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth1", 0))
out = open(sys.argv[1], "w", buffering=1)
print("ready", flush=True)
while True:
    f = s.recv(2048)
    if f[23] == 112:
        ihl = (f[14] & 15) * 4
        v = f[14 + ihl:]
        out.write(f"{time.monotonic():.6f} {socket.inet_ntoa(f[26:30])} {v[1]} {v[2]}\n")
"""


class AdvertRecorder:
    """Records every IPv4 VRRP advert seen on ``eth1`` of ``ns`` until :meth:`close`, one line
    per advert in ``path`` (``monotonic-time source vrid priority``), for gap measurements over
    a test of open-ended length (:class:`Capture` records for a fixed time). The constructor
    returns once the socket is open.
    """

    def __init__(self, topo: Topology, ns: str, path: Path) -> None:
        self.path = path
        self.proc = topo.popen(
            ns, [PYTHON, "-c", _RECORDER, str(path)], stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise AssertionError(f"recorder did not start: {line!r} {self.proc.stderr.read()}")

    def rows(self) -> list[tuple[float, str, int, int]]:
        """``(time, source, vrid, priority)`` of every advert so far."""
        out = []
        for line in self.path.read_text().splitlines():
            t, src, vrid, prio = line.split()
            out.append((float(t), src, int(vrid), int(prio)))
        return out

    def first_after(self, t0: float, src: str, timeout_s: float = 30.0) -> float:
        """Time of the first advert with a non-zero priority from ``src`` after ``t0``."""

        def find() -> float | None:
            return next((t for t, s, _, p in self.rows() if t > t0 and s == src and p > 0), None)

        return float(wait_for(find, timeout_s, 0.01, f"advert from {src} after {t0}"))

    def close(self) -> None:
        """Stop recording (the file stays)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def __enter__(self) -> AdvertRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hd_instance(
    name: str = "VI_1",
    *,
    vrid: int = 51,
    priority: int = 100,
    state: str = "BACKUP",
    vips: Sequence[str] = ("10.0.0.200/24",),
    version: int = 3,
    advert_int: float = 0.1,
    interface: str = "eth1",
    **extra: Any,
) -> dict[str, Any]:
    """A ``vrrp_instance`` in the config model's dict form (``VrrpInstance.to_dict()``)."""
    family = 6 if vips and ":" in vips[0] else 4
    inst: dict[str, Any] = {
        "name": name,
        "state": state,
        "interface": interface,
        "virtual_router_id": vrid,
        "priority": priority,
        "advert_int": advert_int,
        "version": version,
        "family": family,
        "garp_master_delay": 0.0,  # no second GARP burst unless a test asks for it
        "virtual_ipaddress": [
            {
                "address": v.split("/")[0],
                "prefixlen": int(v.split("/")[1]) if "/" in v else (32 if family == 4 else 128),
            }
            for v in vips
        ],
    }
    inst.update(extra)
    return inst


def hd_config(
    *instances: dict[str, Any],
    vrrp_scripts: Sequence[dict[str, Any]] = (),
    vrrp_sync_groups: Sequence[dict[str, Any]] = (),
    vrrp_track_processes: Sequence[dict[str, Any]] = (),
    **global_defs: Any,
) -> str:
    """A whole config (``Config.to_dict()`` form) as JSON text, for ``-f FILE.json``."""
    g = {"router_id": "lab", **global_defs}
    return json.dumps(
        {
            "global_defs": g,
            "vrrp_instances": list(instances),
            "vrrp_scripts": list(vrrp_scripts),
            "vrrp_sync_groups": list(vrrp_sync_groups),
            "vrrp_track_processes": list(vrrp_track_processes),
        }
    )


def ka_config(
    name: str = "VI_1",
    *,
    vrid: int = 51,
    priority: int = 100,
    state: str = "BACKUP",
    vips: Sequence[str] = ("10.0.0.200/24",),
    version: int = 3,
    advert_int: float = 0.1,
    extra: str = "",
    global_extra: str = "",
) -> str:
    """A keepalived.conf with one instance on eth1."""
    vip_lines = "\n".join(f"        {v} dev eth1" for v in vips)
    return f"""
global_defs {{
    router_id ka_{name}
    vrrp_version {version}
    vrrp_garp_master_delay 0
    script_user root
    enable_script_security
{global_extra}
}}
vrrp_instance {name} {{
    state {state}
    interface eth1
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert_int}
{extra}
    virtual_ipaddress {{
{vip_lines}
    }}
}}
"""
