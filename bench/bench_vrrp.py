#!/usr/bin/env python3
"""VRRP engine speed: hadaemon and keepalived 2.2.7 measured in the same run.

    .venv/bin/python bench/bench_vrrp.py [--quick] [--runs-1s 5] [--runs-10ms 20] [--v2]
                                         [--jitter-s 6] [--scale-s 10] [--scale 1 100 1000]
                                         [--skip failover,jitter,scale] [--no-write]

Everything runs in fresh network namespaces with unique names (tests/helpers), deleted in a
``finally``; only the processes started here are ever signalled. Nothing here asserts: the
script prints markdown tables and writes them to ``bench/results/vrrp.md``.

- failover: r1 (keepalived, priority 150, the same master for every row so only the backup
  differs) and the daemon under test in r2 (priority 90). r1's daemon is killed with SIGKILL at a
  random phase of its advert interval. A capture in the client namespace (AF_PACKET, kernel
  receive timestamps from SO_TIMESTAMPNS) gives: the old master's last advert, the new master's
  first advert, its first gratuitous ARP and the first ARP reply for the VIP from r2's MAC to the
  client's requests (sent every 1 ms from just before the expected takeover). The timer error is
  (new master's first advert - old master's last advert) - Master_Down_Interval
  (3 x Master_Adver_Interval + Skew_Time, RFC 9568 §6.1); the kill-based times are also shown.
  r1 is restarted between runs and preempts back.
- jitter: one master alone advertising (VRRPv3, 10 ms by default; with vrrp_rt_priority 10 and
  without, i.e. SCHED_OTHER), its advert intervals from the client's kernel timestamps:
  |interval - advert_int| p50/p99/max, idle and while two bounded busy loops (started here,
  killed in finally) saturate both cores.
- scale: a master with N instances and a backup with the same N (VRRPv3, 1 s adverts, VRIDs
  1..255 per veth interface so 1,000 instances use four), CPU (% of one core, /proc/PID/stat
  utime+stime over the window) and RSS / PSS (/proc/PID/status, smaps_rollup) of the VRRP
  process of each side. hadaemon runs its single-process VRRP runner; keepalived's VRRP child
  is measured (its parent's memory is in the "all processes" PSS column).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers.netns import Topology, wait_for  # noqa: E402
from helpers.vrrp_lab import PYTHON, Lab, hd_config, hd_instance, ka_config  # noqa: E402

KINDS = ("hadaemon", "keepalived")
VIP = "10.0.0.200"
CLIENT_IP = "10.0.0.100"
MASTER_PRIO = 150
BACKUP_PRIO = 90
RT_PRIO = 10
KA_RLIMIT_RTTIME_US = 500_000
RESULTS = ROOT / "bench" / "results" / "vrrp.md"

# A frame capture with kernel receive timestamps (CLOCK_REALTIME, ns), run inside a namespace.
# Optionally sends an ARP request for the VIP every ``arp_every_s`` from ``arp_delay_s`` on.
_CAPTURE = r"""
import json, socket, struct, sys, threading, time
dev, seconds, vip, my_ip = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
arp_delay_s, arp_every_s = float(sys.argv[5]), float(sys.argv[6])
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((dev, 0))
s.settimeout(0.05)
mac = s.getsockname()[4]
vip_b, my_b = socket.inet_aton(vip), socket.inet_aton(my_ip)
end = time.monotonic() + seconds

def arper():
    t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    t.bind((dev, 0))
    req = (b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
           + mac + my_b + b"\x00" * 6 + vip_b)
    time.sleep(arp_delay_s)
    nxt = time.monotonic()
    while time.monotonic() < end:
        t.send(req)
        nxt += arp_every_s
        time.sleep(max(0.0, nxt - time.monotonic()))

if arp_delay_s >= 0:
    threading.Thread(target=arper, daemon=True).start()
vrrp, arp = [], []
print("ready", flush=True)
while time.monotonic() < end:
    try:
        f, anc, _fl, addr = s.recvmsg(2048, socket.CMSG_SPACE(16))
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    ts = None
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", data[:16])
            ts = sec * 1_000_000_000 + nsec
    if ts is None:
        ts = time.time_ns()
    et = struct.unpack("!H", f[12:14])[0]
    if et == 0x0800 and f[23] == 112:
        v = f[14 + (f[14] & 15) * 4:]
        vrrp.append([ts, socket.inet_ntoa(f[26:30]), v[0] >> 4, v[1], v[2]])
    elif et == 0x0806 and f[28:32] == vip_b:
        op = struct.unpack("!H", f[20:22])[0]
        if op == 2 or f[38:42] == vip_b:
            arp.append([ts, f[22:28].hex(":"), op, f[38:42] == vip_b])
print(json.dumps({"vrrp": vrrp, "arp": arp}), flush=True)
"""


class Capture:
    """Background capture on ``eth1`` of namespace ``ns`` (see ``_CAPTURE``)."""

    def __init__(
        self,
        topo: Topology,
        ns: str,
        seconds: float,
        arp_delay_s: float = -1.0,
        arp_every_s: float = 0.001,
    ) -> None:
        self.proc = topo.popen(
            ns,
            [
                PYTHON,
                "-c",
                _CAPTURE,
                "eth1",
                str(seconds),
                VIP,
                CLIENT_IP,
                str(arp_delay_s),
                str(arp_every_s),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"capture did not start: {line!r} {self.proc.stderr.read()}")

    def result(self) -> dict[str, list[list[Any]]]:
        """Wait for the end of the capture; ``{"vrrp": [[t_ns, src, ver, vrid, prio]...],
        "arp": [[t_ns, sha, op, gratuitous]...]}``."""
        out, err = self.proc.communicate(timeout=300)
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"capture failed: {err}")
        return json.loads(lines[-1])  # type: ignore[no-any-return]


# -- helpers ----------------------------------------------------------------------------------
@contextlib.contextmanager
def lab(routers: int = 2) -> Iterator[Lab]:
    """A :class:`Lab` in a temporary directory, namespaces deleted on the way out."""
    with tempfile.TemporaryDirectory(prefix="hdbvrrp") as d:
        lb = Lab(Path(d), routers=routers)
        try:
            yield lb
        finally:
            lb.topo.close()


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; NaN for no values."""
    v = sorted(values)
    if not v:
        return math.nan
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def mdi_s(advert_int_s: float, priority: int) -> float:
    """Master_Down_Interval = 3 x Master_Adver_Interval + Skew_Time (RFC 9568 §6.1)."""
    return 3 * advert_int_s + (256 - priority) * advert_int_s / 256


def cpu_s(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        parts = fh.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def mem_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        rss = int(re.search(r"^VmRSS:\s+(\d+)", fh.read(), re.M).group(1))  # type: ignore[union-attr]
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        pss = int(re.search(r"^Pss:\s+(\d+)", fh.read(), re.M).group(1))  # type: ignore[union-attr]
    return rss, pss


def group_pids(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (the daemon we started and its children)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[2]) == pgid and parts[0] != "Z":
            out.append(int(d))
    return out


def ka_vrrp_pid(pidfile: Path, timeout_s: float = 30.0) -> int:
    """keepalived's VRRP child PID from its ``-r`` pid file."""
    return int(
        wait_for(
            lambda: pidfile.exists() and pidfile.read_text().strip(), timeout_s, what=f"{pidfile}"
        )
    )


def start(
    lb: Lab,
    name: str,
    kind: str,
    *,
    priority: int,
    state: str,
    version: int,
    advert_int: float,
    rt: bool,
) -> None:
    """Start one single-instance router of ``kind`` in ``name``."""
    if kind == "keepalived":
        # keepalived's default RLIMIT_RTTIME (10 ms of CPU between blocking calls) gets its
        # VRRP child SIGKILLed on this slow, loaded VM ("has rlimit_rttime been exceeded?");
        # its manual says to raise it for slower processors.
        g = (
            f"    vrrp_rt_priority {RT_PRIO}\n    vrrp_rlimit_rttime {KA_RLIMIT_RTTIME_US}"
            if rt
            else ""
        )
        lb.start_keepalived(
            name,
            ka_config(
                priority=priority,
                state=state,
                version=version,
                advert_int=advert_int,
                global_extra=g,
            ),
        )
    else:
        # hadaemon runs SCHED_FIFO by default: the SCHED_OTHER rows turn that off
        g2: dict[str, Any] = {"vrrp_rt_priority": RT_PRIO} if rt else {"vrrp_realtime": False}
        lb.start_hadaemon(
            name,
            hd_config(
                hd_instance(
                    priority=priority, state=state, version=version, advert_int=advert_int
                ),
                **g2,
            ),
        )


EBPF_RE = r"receive path: eBPF|eBPF receive path unavailable"


def wait_ebpf(lb: Lab, name: str, count: int = 1) -> None:
    """Wait (bounded) until hadaemon in ``name`` is done compiling its eBPF receive filter (it
    does so in the background after start-up, on classic BPF meanwhile)."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: len(re.findall(EBPF_RE, lb.log(name))) >= count, 90.0, interval_s=0.2)


def busy_loops(seconds: float) -> list[subprocess.Popen[Any]]:
    """Two bounded busy loops (one per core); they end by themselves after ``seconds``."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 2)]


def stop_loops(loops: list[subprocess.Popen[Any]]) -> None:
    for p in loops:
        if p.poll() is None:
            p.kill()
        p.wait()


# -- (1) failover -----------------------------------------------------------------------------
def failover(kind: str, version: int, advert_int: float, runs: int, rt: bool) -> dict[str, Any]:
    """Kill -9 the keepalived master ``runs`` times; r2 runs ``kind`` as the backup."""
    mdi = mdi_s(advert_int, BACKUP_PRIO)
    errs, kill_adv, kill_arp, kill_garp, misses = [], [], [], [], 0
    with lab() as lb:
        r2mac = lb.mac("r2")
        start(
            lb,
            "r2",
            kind,
            priority=BACKUP_PRIO,
            state="BACKUP",
            version=version,
            advert_int=advert_int,
            rt=rt,
        )
        lb.wait_log("r2", r"Entering BACKUP STATE", timeout_s=60)
        if kind == "hadaemon":
            wait_ebpf(lb, "r2")
        for _ in range(runs):
            m1 = lb.mark("r1")
            for f in ("r1.pid", "r1.vrrp.pid", "r1.check.pid"):  # the killed children may
                (lb.tmp / f).unlink(missing_ok=True)  # linger as zombies: keepalived would refuse
            start(
                lb,
                "r1",
                "keepalived",
                priority=MASTER_PRIO,
                state="MASTER",
                version=version,
                advert_int=advert_int,
                rt=rt,
            )
            lb.wait_log("r1", r"Entering MASTER STATE", timeout_s=60, since=m1)
            lb.wait_holder(VIP, "r1", timeout_s=60)  # r2 back to BACKUP (it dropped the VIP)
            time.sleep(3 * advert_int + 0.3)  # v3: r2 learns Master_Adver_Interval
            pre_s = advert_int + 0.2 + random.uniform(0, advert_int)
            cap = Capture(
                lb.topo,
                lb.ns["client"],
                pre_s + mdi + max(1.0, 5 * advert_int),
                arp_delay_s=pre_s + 0.8 * mdi,
            )
            time.sleep(pre_s)
            t_kill = time.time_ns()
            lb.kill9("r1")
            res = cap.result()
            # every advert of r1 in this capture predates its death: one may leave between
            # t_kill and the signal's delivery (at 10 ms adverts that skewed the error by +10 ms)
            old = [f[0] for f in res["vrrp"] if f[1] == "10.0.0.1" and f[4] > 0]
            new = [f[0] for f in res["vrrp"] if f[1] == "10.0.0.2" and f[4] > 0 and f[0] > t_kill]
            if not old or not new:
                misses += 1
                print(
                    f"  {kind}: run missed (old master adverts {len(old)}, new {len(new)})",
                    file=sys.stderr,
                )
                continue
            errs.append((new[0] - old[-1]) / 1e9 - mdi)
            kill_adv.append((new[0] - t_kill) / 1e9)
            arp = [
                a[0]
                for a in res["arp"]
                if a[1] == r2mac and a[2] == 2 and not a[3] and a[0] > t_kill
            ]
            garp = [a[0] for a in res["arp"] if a[1] == r2mac and a[3] and a[0] > t_kill]
            if arp:
                kill_arp.append((arp[0] - t_kill) / 1e9)
            if garp:
                kill_garp.append((garp[0] - t_kill) / 1e9)
    return {
        "kind": kind,
        "version": version,
        "advert_int": advert_int,
        "mdi": mdi,
        "runs": len(errs),
        "misses": misses,
        "err": errs,
        "kill_adv": kill_adv,
        "kill_arp": kill_arp,
        "kill_garp": kill_garp,
    }


def failover_table(rows: list[dict[str, Any]]) -> str:
    def ms(v: float) -> str:
        return "-" if math.isnan(v) else f"{v * 1000:.3f}"

    def trio(v: list[float]) -> str:
        return " / ".join(ms(pct(v, q)) for q in (0.5, 0.99, 1.0))

    out = [
        "| backup | VRRP | advert | Master_Down_Interval s | runs (missed) "
        "| error p50 / p99 / max ms | max abs error ms | kill → advert p50 / p99 / max ms "
        "| kill → GARP p50 / max ms | kill → ARP reply p50 / p99 / max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["kill_garp"]
        out.append(
            f"| {r['kind']} | v{r['version']} | {r['advert_int'] * 1000:g} ms | {r['mdi']:.4f} "
            f"| {r['runs']} ({r['misses']}) | {trio(r['err'])} "
            f"| {ms(max((abs(e) for e in r['err']), default=math.nan))} "
            f"| {trio(r['kill_adv'])} | {ms(pct(g, 0.5))} / {ms(pct(g, 1.0))} "
            f"| {trio(r['kill_arp'])} |"
        )
    return "\n".join(out)


# -- (2) advert interval jitter ---------------------------------------------------------------
def jitter(kind: str, advert_int: float, seconds: float, rt: bool) -> list[dict[str, Any]]:
    """A lone master's advert intervals, idle and with both cores busy."""
    rows = []
    with lab(routers=1) as lb:
        start(
            lb,
            "r1",
            kind,
            priority=MASTER_PRIO,
            state="MASTER",
            version=3,
            advert_int=advert_int,
            rt=rt,
        )
        lb.wait_log("r1", r"Entering MASTER STATE", timeout_s=60)
        if kind == "hadaemon":
            wait_ebpf(lb, "r1")
        time.sleep(1.0)
        for load in ("idle", "2 busy loops"):
            loops: list[subprocess.Popen[Any]] = []
            try:
                if load != "idle":
                    loops = busy_loops(seconds + 5)
                    time.sleep(0.5)
                res = Capture(lb.topo, lb.ns["client"], seconds).result()
            finally:
                stop_loops(loops)
            ts = [f[0] for f in res["vrrp"] if f[1] == "10.0.0.1" and f[4] > 0]
            dev = [abs((b - a) / 1e9 - advert_int) for a, b in zip(ts, ts[1:], strict=False)]
            rows.append(
                {
                    "kind": kind,
                    "rt": f"SCHED_RR/FIFO {RT_PRIO}" if rt else "SCHED_OTHER",
                    "load": load,
                    "n": len(dev),
                    "p50": pct(dev, 0.5),
                    "p99": pct(dev, 0.99),
                    "max": max(dev, default=math.nan),
                }
            )
    return rows


def jitter_table(rows: list[dict[str, Any]], advert_int: float) -> str:
    out = [
        f"| master | scheduling | load | intervals | abs(interval - {advert_int * 1000:g} ms) "
        "p50 / p99 / max ms |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {r['kind']} | {r['rt']} | {r['load']} | {r['n']} | {r['p50'] * 1000:.3f} / "
        f"{r['p99'] * 1000:.3f} / {r['max'] * 1000:.3f} |"
        for r in rows
    ]
    return "\n".join(out)


# -- (3) CPU and memory with N instances ------------------------------------------------------
def scale_configs(kind: str, n: int, prio: int, state: str) -> str:
    """N VRRPv3 1 s instances, VRIDs 1..255 on eth1, then eth2, ..."""
    insts = []
    for i in range(n):
        k, vrid = i // 255 + 1, i % 255 + 1
        insts.append((f"VI_{i + 1}", f"eth{k}", vrid, f"10.{k}.1.{vrid}"))
    if kind != "keepalived":
        return hd_config(
            *(
                hd_instance(
                    name,
                    vrid=vrid,
                    priority=prio,
                    state=state,
                    advert_int=1.0,
                    interface=dev,
                    vips=(f"{vip}/16",),
                )
                for name, dev, vrid, vip in insts
            )
        )
    blocks = [
        f"""vrrp_instance {name} {{
    state {state}
    interface {dev}
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        {vip}/16 dev {dev}
    }}
}}"""
        for name, dev, vrid, vip in insts
    ]
    return (
        "global_defs {\n    router_id ka_scale\n    vrrp_version 3\n"
        "    vrrp_garp_master_delay 0\n}\n" + "\n".join(blocks) + "\n"
    )


def scale(kind: str, n: int, seconds: float) -> list[dict[str, Any]]:
    """CPU and memory of a master and a backup with ``n`` instances each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="hdbvrrp") as d:
        lb = Lab(Path(d), routers=0, client=False)  # an empty lab; links added below
        try:
            a, b = lb.topo.ns("a"), lb.topo.ns("b")
            lb.ns.update(a=a, b=b)
            for k in range(1, (n - 1) // 255 + 2):
                lb.topo.lan(
                    [(a, f"eth{k}", [f"10.{k}.0.1/16"]), (b, f"eth{k}", [f"10.{k}.0.2/16"])],
                    name=f"l{k}",
                )
            pids: dict[str, tuple[int, int]] = {}  # role -> (pgid, VRRP pid)
            for role, prio, state in (("a", MASTER_PRIO, "MASTER"), ("b", 100, "BACKUP")):
                conf = scale_configs(kind, n, prio, state)
                if kind == "keepalived":
                    p = lb.start_keepalived(role, conf)
                    pids[role] = (p.pid, ka_vrrp_pid(lb.tmp / f"{role}.vrrp.pid"))
                else:
                    extra = ("--no-bpf",) if kind == "hadaemon-classic" else ()
                    p = lb.start_hadaemon(role, conf, *extra)
                    pids[role] = (p.pid, p.pid)
            limit = 120 + n * 0.2
            wait_for(
                lambda: len(re.findall(r"Entering MASTER STATE", lb.log("a"))) >= n,
                limit,
                interval_s=0.5,
                what=f"{n} masters: {lb.log('a')[-2000:]}",
            )
            wait_for(
                lambda: len(re.findall(r"Entering BACKUP STATE", lb.log("b"))) >= n,
                limit,
                interval_s=0.5,
                what=f"{n} backups: {lb.log('b')[-2000:]}",
            )
            if kind == "hadaemon":
                for role in pids:
                    wait_ebpf(lb, role)
            time.sleep(3.0)
            c0 = {r: cpu_s(p[1]) for r, p in pids.items()}
            t0 = time.monotonic()
            time.sleep(seconds)
            dt = time.monotonic() - t0
            for role, (pgid, pid) in pids.items():
                cpu = (cpu_s(pid) - c0[role]) / dt * 100
                rss, pss = mem_kb(pid)
                total = sum(mem_kb(q)[1] for q in group_pids(pgid))
                rows.append(
                    {
                        "kind": kind,
                        "n": n,
                        "role": "master" if role == "a" else "backup",
                        "cpu": cpu,
                        "rss": rss / 1024,
                        "pss": pss / 1024,
                        "pss_all": total / 1024,
                        "window": dt,
                    }
                )
        finally:
            lb.topo.close()
    return rows


def scale_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| daemon | instances | side | CPU % of one core | VRRP process RSS MB "
        "| PSS MB | PSS all processes MB |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r['kind']} | {r['n']} | {r['role']} | {r['cpu']:.2f} | {r['rss']:.1f} "
        f"| {r['pss']:.1f} | {r['pss_all']:.1f} |"
        for r in rows
    ]
    return "\n".join(out)


# -- main -------------------------------------------------------------------------------------
def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected measurements, print the tables, write bench/results/vrrp.md."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N and short windows (smoke run)")
    ap.add_argument("--runs-1s", type=int, default=5, help="failovers at 1 s adverts per daemon")
    ap.add_argument("--runs-10ms", type=int, default=20, help="failovers at 10 ms adverts")
    ap.add_argument("--v2", action="store_true", help="also measure VRRPv2 at 1 s adverts")
    ap.add_argument("--jitter-s", type=float, default=6.0, help="capture window per load")
    ap.add_argument("--jitter-advert-ms", type=float, default=10.0)
    ap.add_argument("--scale-s", type=float, default=10.0, help="CPU window per instance count")
    ap.add_argument("--scale", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--no-rt", action="store_true", help="do not set vrrp_rt_priority")
    ap.add_argument("--skip", default="", help="comma list of failover,jitter,scale")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS}")
    a = ap.parse_args(argv)
    # SIGINT and SIGTERM unwind like Ctrl-C, so the finally blocks delete the namespaces (also
    # when started in the background, where SIGINT is inherited as ignored)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    if os.geteuid() != 0:
        print("bench_vrrp needs root (network namespaces)", file=sys.stderr)
        return 2
    if a.quick:
        a.runs_1s, a.runs_10ms, a.jitter_s, a.scale_s = 1, 3, 2.0, 3.0
        a.scale = [1, 100]
    skip = set(a.skip.split(",")) - {""}
    rt = not a.no_rt
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = [
        "# VRRP engine benchmark (bench/bench_vrrp.py)",
        "",
        f"Run {started}{' (--quick)' if a.quick else ''}: {os.cpu_count()}-CPU shared VM "
        f"(Debian 12, kernel {os.uname().release}), other jobs running = noisy. "
        f"Load average (1/5/15 min) at start: {loadavg()}. "
        f"keepalived 2.2.7 and hadaemon in the same run; "
        f"vrrp_rt_priority {RT_PRIO if rt else 'off'} for both"
        + (
            f" (keepalived with vrrp_rlimit_rttime {KA_RLIMIT_RTTIME_US}: its 10 ms default got "
            "its VRRP child killed by RLIMIT_RTTIME here)."
            if rt
            else "."
        ),
        "",
        "Targets (issue 4): |error| ≤ 0.5 ms p99 at 1 s; jitter p99 ≤ 0.3 ms idle, ≤ 1 ms "
        "saturated; 100 instances ≤ 1 % of one core. keepalived reference in the issue: failover "
        "3.6486 s vs 3.6484 s theory, jitter p99 0.66 ms idle / 3.4 ms saturated, 13 MB RSS.",
    ]
    sections: list[str] = []

    def emit(title: str, text: str) -> None:
        block = f"## {title}\n\n{text}\n"
        print("\n" + block, flush=True)
        sections.append(block)

    print("\n".join(head), flush=True)
    if "failover" not in skip:
        rows = []
        plan = [(3, 1.0, a.runs_1s)] + ([(2, 1.0, a.runs_1s)] if a.v2 else [])
        plan.append((3, 0.01, a.runs_10ms))
        for version, adv, runs in plan:
            for kind in KINDS:
                rows.append(failover(kind, version, adv, runs, rt))
        emit(
            "Failover: kill -9 of the master (keepalived, priority 150) → backup (priority 90) "
            "takes over",
            failover_table(rows) + "\n\nerror = (new master's first advert − old master's last "
            "advert) − Master_Down_Interval, both from the client's kernel timestamps. The kill "
            "falls at a random phase of the advert interval, so kill → advert is up to one "
            "interval shorter than Master_Down_Interval. ARP replies answer requests sent every "
            f"1 ms (resolution ~1 ms). Load average after: {loadavg()}.",
        )
    if "jitter" not in skip:
        adv = a.jitter_advert_ms / 1000
        rows = [
            r
            for use_rt in ((True, False) if rt else (False,))
            for kind in KINDS
            for r in jitter(kind, adv, a.jitter_s, use_rt)
        ]
        emit(
            f"Advert interval jitter: lone master, VRRPv3 {a.jitter_advert_ms:g} ms adverts, "
            f"{a.jitter_s:g} s per load",
            jitter_table(rows, adv) + f"\n\nLoad average after: {loadavg()}.",
        )
    if "scale" not in skip:
        kinds = ("hadaemon", "hadaemon-classic", "keepalived")
        rows = [r for n in a.scale for kind in kinds for r in scale(kind, n, a.scale_s)]
        emit(
            f"CPU and memory: N instances, VRRPv3 1 s adverts, {a.scale_s:g} s window",
            scale_table(rows) + "\n\nhadaemon: single-process VRRP runner "
            "(`python -m hadaemon.workers.vrrp`), measured after its eBPF receive filter is "
            "compiled "
            "(hadaemon-classic: `--no-bpf`, classic BPF only, no bcc/LLVM loaded); keepalived: "
            "its VRRP child process. "
            f"Load average after: {loadavg()}.",
        )
    if not a.no_write and sections:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(head) + "\n\n" + "\n".join(sections))
        print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
