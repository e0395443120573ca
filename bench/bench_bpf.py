#!/usr/bin/env python3
"""Receive path under stress: hadaemon eBPF vs hadaemon classic (--no-bpf) vs keepalived 2.2.7.

    .venv/bin/python bench/bench_bpf.py [--flood-s 20] [--senders 1 2] [--stall-s 8]
                                        [--busy-s 30] [--skip flood,stall,busy,startup]
    .venv/bin/python bench/bench_bpf.py --soak [SECONDS]    # issue 6's 10-minute saturation run

Every scenario runs in fresh network namespaces (tests/helpers/vrrp_lab.Lab): r1 is the
master (hadaemon, classic path), r2 the backup under test, r3 a third host, and a client
that captures adverts. Prints one table per scenario (markdown) and nothing else matters:
no assertion, speed numbers belong here and not in tests.

- flood:   r3 floods proto-112 packets of a foreign VRID from 1 or 2 Python raw-socket senders
           for --flood-s seconds while r1 advertises every 100 ms. Reported: packets sent, the
           backup's false failovers (its adverts seen on the wire) and its CPU (% of one core).
- stall:   r1 advertises every 1 s; the backup is SIGSTOPped for --stall-s seconds then
           continued. Reported: did it advertise (= a false failover)?
- busy:    two busy loops (bounded by --busy-s) saturate both CPUs; VRRPv3 at 10 ms adverts,
           hadaemon master with vrrp_rt_priority. Reported: false failovers, master advert
           interval jitter p99 (from the capture).
- startup: exec → first advert on the wire for a master, eBPF enabled vs --no-bpf.

``--soak`` runs only the busy scenario, for 600 s per backup unless SECONDS is given (so about
half an hour for the three backups, one after the other), and also writes its table to
``bench/results/bpf_soak.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
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

from helpers.vrrp_lab import (  # noqa: E402
    PYTHON,
    Capture,
    Lab,
    hd_config,
    hd_instance,
    ka_config,
)

SENDER = str(ROOT / "tests" / "helpers" / "bpf_sender.py")
KINDS = ("hadaemon-ebpf", "hadaemon-classic", "keepalived")
MASTER_RE = r"Entering MASTER STATE"


@contextlib.contextmanager
def lab(routers: int = 3) -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="hdbench") as d:
        lb = Lab(Path(d), routers=routers)
        try:
            yield lb
        finally:
            lb.topo.close()


def cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        parts = fh.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def start_backup(lb: Lab, kind: str, advert_int: float, **g: object) -> None:
    if kind == "keepalived":
        lb.start_keepalived("r2", ka_config(priority=100, advert_int=advert_int))
        lb.wait_log("r2", r"Entering BACKUP STATE", timeout_s=30)
        return
    extra = ("--no-bpf",) if kind == "hadaemon-classic" else ()
    lb.start_hadaemon(
        "r2", hd_config(hd_instance(priority=100, advert_int=advert_int), **g), *extra
    )
    if kind == "hadaemon-ebpf":
        lb.wait_log("r2", r"receive path: eBPF", timeout_s=120)
    lb.wait_log("r2", r"Entering BACKUP STATE", timeout_s=30)


def vrrp_pid(lb: Lab, kind: str) -> int:
    """PID of the process that runs VRRP for r2 (keepalived: its VRRP child)."""
    if kind != "keepalived":
        return lb.procs["r2"].pid
    pidfile = lb.tmp / "r2.vrrp.pid"
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise RuntimeError("keepalived VRRP pid file not found")


def start_master(lb: Lab, advert_int: float, **g: object) -> None:
    lb.start_hadaemon(
        "r1",
        hd_config(hd_instance(priority=150, state="MASTER", advert_int=advert_int), **g),
        "--no-bpf",
    )
    lb.wait_holder("10.0.0.200", "r1", timeout_s=30)


def flood(seconds: float, senders: int) -> list[tuple[str, int, int, int, float]]:
    rows = []
    for kind in KINDS:
        with lab() as lb:
            start_master(lb, 0.1)
            start_backup(lb, kind, 0.1)
            pid = vrrp_pid(lb, kind)
            cap = Capture(lb.topo, lb.ns["client"], seconds + 2.0, "vrrp")
            c0, t0 = cpu_s(pid), time.monotonic()
            procs = [
                lb.topo.popen(
                    lb.ns["r3"],
                    [
                        PYTHON,
                        SENDER,
                        "eth1",
                        "--src",
                        "10.0.0.3",
                        "--vrid",
                        "99",
                        "--flood",
                        str(seconds),
                    ],
                    text=True,
                )
                for _ in range(senders)
            ]
            sent = 0
            for p in procs:
                out = p.communicate(timeout=seconds + 60)[0]
                sent += int(json.loads(out.strip().splitlines()[-1])["sent"])
            cpu = (cpu_s(pid) - c0) / (time.monotonic() - t0) * 100
            frames = cap.result()
            as_master = sum(1 for f in frames if f["src"] == "10.0.0.2" and f["prio"] > 0)
            failovers = len(re.findall(MASTER_RE, lb.log("r2")))
            rows.append((kind, senders, sent, failovers, as_master, cpu))
    return rows  # type: ignore[return-value]


def stall(seconds: float) -> list[tuple[str, float, int, int]]:
    rows = []
    for kind in KINDS:
        with lab() as lb:
            start_master(lb, 1.0)
            start_backup(lb, kind, 1.0)
            cap = Capture(lb.topo, lb.ns["client"], seconds + 4.0, "vrrp")
            lb.signal("r2", signal.SIGSTOP)
            time.sleep(seconds)
            lb.signal("r2", signal.SIGCONT)
            frames = cap.result()
            as_master = sum(1 for f in frames if f["src"] == "10.0.0.2" and f["prio"] > 0)
            rows.append((kind, seconds, len(re.findall(MASTER_RE, lb.log("r2"))), as_master))
    return rows


_KCAP = """
import json, socket, struct, sys, time
seconds = float(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth1", 0))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS: kernel arrival time
s.settimeout(0.1)
out = []
end = time.monotonic() + seconds
print("ready", flush=True)
while time.monotonic() < end:
    try:
        f, anc, _fl, _a = s.recvmsg(2048, 256)
    except socket.timeout:
        continue
    if len(f) < 34 or f[23] != 112:
        continue
    ts = next((struct.unpack("=qq", d[:16]) for lv, ty, d in anc if ty == 35), None)
    if ts:
        out.append([socket.inet_ntoa(f[26:30]), ts[0] + ts[1] / 1e9])
print(json.dumps(out), flush=True)
"""


def kernel_capture(lb: Lab, seconds: float) -> subprocess.Popen[str]:
    """Adverts seen on the client with their kernel (SO_TIMESTAMPNS) times: the capture's own
    scheduling delay under load does not distort the intervals."""
    p = lb.topo.popen(lb.ns["client"], [PYTHON, "-c", _KCAP, str(seconds)], text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


#: the backups' Master_Down_Interval in the busy scenario: priority 100, 10 ms adverts
BUSY_MDI_S = 3 * 0.01 + (256 - 100) * 0.01 / 256


def early_takeovers(frames: list[dict[str, Any]], mdi_s: float) -> int:
    """Takeovers by r2 (its first advert after more than 50 ms without any) that came sooner
    than Master_Down_Interval after the master's last advert: false ones. A takeover after a
    longer silence of the master follows the RFC."""
    n = 0
    last_master: float | None = None
    last_backup: float | None = None
    for f in sorted(frames, key=lambda f: f["t"]):
        if f["src"] == "10.0.0.1":
            last_master = f["t"]
        elif f["src"] == "10.0.0.2":
            starts = last_backup is None or f["t"] - last_backup > 0.05
            if starts and last_master is not None and f["t"] - last_master < mdi_s - 0.0005:
                n += 1
            last_backup = f["t"]
    return n


def busy(seconds: float, kinds: tuple[str, ...] = KINDS) -> list[tuple[Any, ...]]:
    rows = []
    for kind in kinds:
        with lab() as lb:
            start_master(lb, 0.01, vrrp_rt_priority=10)
            g = {"vrrp_rt_priority": 10} if kind != "keepalived" else {}
            start_backup(lb, kind, 0.01, **g)
            cap = kernel_capture(lb, seconds)
            loops = [
                subprocess.Popen(["timeout", str(seconds), PYTHON, "-c", "while True: pass"])
                for _ in range(2)
            ]
            frames = [
                {"src": a, "t": t}
                for a, t in json.loads(cap.communicate()[0].strip().splitlines()[-1])
            ]
            for p in loops:
                p.wait()
            ts = [f["t"] for f in frames if f["src"] == "10.0.0.1"]
            gaps_ms = [(b - a) * 1000 for a, b in zip(ts, ts[1:], strict=False)]
            p99 = statistics.quantiles(gaps_ms, n=100)[98] if len(gaps_ms) > 100 else float("nan")
            jitter_p99 = p99 - 10.0
            as_master = sum(1 for f in frames if f["src"] == "10.0.0.2")
            rows.append(
                (
                    kind,
                    len(re.findall(MASTER_RE, lb.log("r2"))),
                    early_takeovers(frames, BUSY_MDI_S),
                    as_master,
                    jitter_p99,
                    max(gaps_ms, default=float("nan")),
                )
            )
    return rows


def startup(runs: int) -> list[tuple[str, int, float, float]]:
    times: dict[str, list[float]] = {"hadaemon-ebpf": [], "hadaemon-classic": []}
    for _ in range(runs):
        for kind in times:  # alternate, so both see the same load
            with lab(routers=1) as lb:
                cap = Capture(lb.topo, lb.ns["client"], 20.0, "vrrp")
                extra = ("--no-bpf",) if kind == "hadaemon-classic" else ()
                t0 = time.monotonic()
                lb.start_hadaemon(
                    "r1", hd_config(hd_instance(priority=150, state="MASTER")), *extra
                )
                frames = cap.result()
                first = min(
                    (f["t"] for f in frames if f["src"] == "10.0.0.1"), default=float("nan")
                )
                times[kind].append(first - t0)
    return [(k, len(v), statistics.median(v), max(v)) for k, v in times.items()]


def table(header: list[str], rows: Sequence[tuple[object, ...]]) -> str:
    def fmt(v: object) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flood-s", type=float, default=20.0)
    ap.add_argument("--senders", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stall-s", type=float, default=8.0)
    ap.add_argument("--busy-s", type=float, default=30.0)
    ap.add_argument("--startup-runs", type=int, default=3)
    ap.add_argument("--skip", default="")
    ap.add_argument(
        "--kinds", default=",".join(KINDS), help="busy scenario backups (comma list of KINDS)"
    )
    ap.add_argument(
        "--soak",
        type=float,
        nargs="?",
        const=600.0,
        default=None,
        metavar="SECONDS",
        help="only the busy scenario, SECONDS (default 600) per backup; saves bpf_soak.md",
    )
    a = ap.parse_args()
    if a.soak is not None:
        if a.soak <= 0:
            ap.error("--soak needs a positive number of seconds")
        a.busy_s = a.soak
        a.skip = "startup,flood,stall"
    if os.geteuid() != 0:
        print("bench_bpf needs root (network namespaces, eBPF)", file=sys.stderr)
        return 2
    skip = set(a.skip.split(",")) - {""}
    print(f"# bench_bpf ({time.strftime('%Y-%m-%d %H:%M:%S')}, load {os.getloadavg()[0]:.1f})")
    if "startup" not in skip:
        print("\n## start-up: exec -> first advert (master)\n")
        print(table(["path", "runs", "median s", "max s"], startup(a.startup_runs)))
    if "flood" not in skip:
        for n in a.senders:
            print(
                f"\n## flood: foreign-VRID proto 112, {n} sender(s), {a.flood_s:.0f} s, "
                "master adverts every 100 ms\n"
            )
            print(
                table(
                    [
                        "backup",
                        "senders",
                        "packets sent",
                        "MASTER transitions",
                        "adverts as master",
                        "VRRP CPU %",
                    ],
                    flood(a.flood_s, n),
                )
            )
    if "stall" not in skip:
        print(f"\n## stall: backup SIGSTOPped {a.stall_s:.0f} s, adverts every 1 s\n")
        print(
            table(
                ["backup", "stall s", "MASTER transitions", "adverts as master"], stall(a.stall_s)
            )
        )
    if "busy" not in skip:
        print(
            f"\n## busy: 2 busy loops, {a.busy_s:.0f} s, VRRPv3 10 ms adverts, "
            "master with vrrp_rt_priority 10\n"
        )
        busy_table = table(
            [
                "backup",
                "MASTER transitions",
                "of which before Master_Down_Interval (false)",
                "adverts as master",
                "master interval p99 - 10 ms (ms)",
                "max interval (ms)",
            ],
            busy(a.busy_s, tuple(k for k in a.kinds.split(",") if k in KINDS)),
        )
        print(busy_table)
        if a.soak is not None:
            out = ROOT / "bench" / "results" / "bpf_soak.md"
            out.write_text(
                f"# eBPF receive path: saturation soak ({time.strftime('%Y-%m-%d')})\n\n"
                f"`bench/bench_bpf.py --soak {a.soak:g}`: two bounded busy loops saturate both "
                f"cores for {a.busy_s:.0f} s per backup, VRRPv3 at 10 ms adverts, hadaemon "
                "master with vrrp_rt_priority 10. Target: 0 false failovers for hadaemon, "
                "master jitter p99 <= 1 ms.\n\n" + busy_table + "\n"
            )
            print(f"\nsaved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
