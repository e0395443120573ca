#!/usr/bin/env python3
"""Checker benchmark: 1,000 TCP_CHECK real servers at delay_loop 1, and 200 HTTP_GET/s.

Runs in two network namespaces of its own (root): ``srv`` holds the listeners (one asyncio
process, 1,000 TCP ports + one HTTP port), ``lb`` runs hadaemon's CheckerService for DURATION
seconds and measures its CPU time (getrusage, user+sys, incl. MISC children: none here) and how
late each probe started after its deadline. If keepalived is installed, the same TCP_CHECK
config is run through ``keepalived -C`` (checker only) in the same namespace for the same time
and its checker process CPU is read from /proc.

    sudo .venv/bin/python bench/bench_checkers.py [--duration 20] [--servers 1000] [--http 200]

Prints a table and writes bench/results/checkers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SRV_IP, LB_IP = "10.77.0.2", "10.77.0.1"
TCP_BASE_PORT = 20000
HTTP_PORT = 8080


# -- inside the namespaces ------------------------------------------------------------------
async def _serve(n_tcp: int) -> None:
    async def close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    async def http(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        w.close()

    servers = [
        await asyncio.start_server(close, SRV_IP, TCP_BASE_PORT + i, backlog=64)
        for i in range(n_tcp)
    ]
    servers.append(await asyncio.start_server(http, SRV_IP, HTTP_PORT, backlog=1024))
    print("READY", flush=True)
    await asyncio.sleep(3600)


def _specs(kind: str, n: int) -> object:
    from hadaemon.checkers.spec import (
        CheckerConfig,
        CheckSpec,
        HttpSpec,
        RealServerSpec,
        UrlSpec,
        VirtualServerSpec,
        fmt_service,
    )

    rss = []
    for i in range(n):
        if kind == "tcp":
            c = CheckSpec(
                kind="TCP_CHECK",
                connect_ip=SRV_IP,
                connect_port=TCP_BASE_PORT + i,
                connect_timeout_s=1.0,
                retry=1,
                delay_before_retry_s=1.0,
                delay_loop_s=1.0,
                warmup_s=1.0,
            )
        else:
            c = CheckSpec(
                kind="HTTP_GET",
                connect_ip=SRV_IP,
                connect_port=HTTP_PORT,
                connect_timeout_s=1.0,
                retry=1,
                delay_before_retry_s=1.0,
                delay_loop_s=1.0,
                warmup_s=1.0,
                http=HttpSpec(urls=(UrlSpec("/", digest=None),)),
            )
        rss.append(RealServerSpec(ip=SRV_IP, port=TCP_BASE_PORT + i, checkers=(c,)))
    return CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("192.168.100.100", 80),
                ip="192.168.100.100",
                port=80,
                real_servers=tuple(rss),
            ),
        )
    )


async def _check(kind: str, n: int, duration_s: float) -> None:
    from hadaemon.checkers.service import CheckerService

    downs = 0
    attempts = 0

    def emit(k: str, body: dict[str, object]) -> None:
        nonlocal downs
        if k == "real_server_state" and not body["up"]:
            downs += 1

    def on_attempt(cid: object, r: object) -> None:
        nonlocal attempts
        attempts += 1

    svc = CheckerService(_specs(kind, n), emit, on_attempt=on_attempt)
    await svc.start()
    sched = svc._scheduler
    assert sched is not None
    await asyncio.sleep(1.5)  # warm-up spread
    sched.keep_late_samples = True
    sched.late_samples.clear()
    attempts = 0
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.sleep(duration_s)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - t0
    late = sorted(sched.late_samples)
    await svc.stop(run_omega=False)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(
        json.dumps(
            {
                "cpu_pct": 100.0 * cpu / wall,
                "checks_per_s": attempts / wall,
                "late_p50_ms": 1000 * late[len(late) // 2] if late else 0.0,
                "late_p99_ms": 1000 * late[int(len(late) * 0.99)] if late else 0.0,
                "late_max_ms": 1000 * late[-1] if late else 0.0,
                "down_events": downs,
            }
        ),
        flush=True,
    )


# -- orchestration --------------------------------------------------------------------------
def _keepalived_conf(n: int) -> str:
    rs = "\n".join(
        f"""  real_server {SRV_IP} {TCP_BASE_PORT + i} {{
    TCP_CHECK {{
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }}
  }}"""
        for i in range(n)
    )
    return f"""global_defs {{
  router_id bench
}}
virtual_server 192.168.100.100 80 {{
  delay_loop 1
  lvs_sched rr
  lvs_method NAT
  protocol TCP
{rs}
}}
"""


def _proc_cpu_s(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _keepalived(topo: object, lb: str, n: int, duration_s: float) -> str:
    exe = shutil.which("keepalived") or "/usr/sbin/keepalived"
    if not os.path.exists(exe):
        return "keepalived not installed"
    tmp = Path(tempfile.mkdtemp(prefix="hd-bench-ka-"))
    try:
        conf = tmp / "keepalived.conf"
        conf.write_text(_keepalived_conf(n))
        p = topo.popen(
            lb,
            [
                exe,
                "-C",
                "-n",
                "-l",
                "-f",
                str(conf),  # type: ignore[attr-defined]
                "-p",
                str(tmp / "ka.pid"),
                "-c",
                str(tmp / "ck.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        child = None
        while time.monotonic() < deadline and child is None:
            try:
                child = int((tmp / "ck.pid").read_text())
            except (FileNotFoundError, ValueError):
                time.sleep(0.1)
        if child is None or p.poll() is not None:
            return "keepalived checker did not start (no IPVS in this kernel?)"
        time.sleep(2)
        try:
            c0, t0 = _proc_cpu_s(child), time.monotonic()
            time.sleep(duration_s)
            c1, t1 = _proc_cpu_s(child), time.monotonic()
        except FileNotFoundError:
            return "keepalived checker exited during the run (no IPVS in this kernel?)"
        return f"{100.0 * (c1 - c0) / (t1 - t0):.1f} %"
    finally:
        if "p" in locals() and p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--http", type=int, default=200)
    ap.add_argument("--inner", nargs=3, metavar=("KIND", "N", "DURATION"), help=argparse.SUPPRESS)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    if args.inner:
        asyncio.run(_check(args.inner[0], int(args.inner[1]), float(args.inner[2])))
        return 0
    if os.geteuid() != 0:
        print("bench_checkers: needs root (network namespaces)", file=sys.stderr)
        return 2
    from helpers.netns import Topology

    topo = Topology("bc")
    rows: list[tuple[str, str]] = []
    try:
        lb, srv = topo.ns("lb"), topo.ns("srv")
        topo.lan([(lb, "eth1", [f"{LB_IP}/24"]), (srv, "eth1", [f"{SRV_IP}/24"])])
        topo.exec(srv, "sysctl", "-q", "-w", "net.core.somaxconn=4096")
        server = topo.popen(
            srv,
            [sys.executable, __file__, "--serve", str(args.servers)],
            stderr=subprocess.DEVNULL,
        )
        assert server.stdout is not None
        if b"READY" not in server.stdout.readline():
            print("bench_checkers: listeners did not start", file=sys.stderr)
            return 1
        results = {}
        for kind, n in (("tcp", args.servers), ("http", args.http)):
            r = topo.exec(
                lb, sys.executable, __file__, "--inner", kind, str(n), str(args.duration)
            )
            results[kind] = json.loads(r.stdout.strip().splitlines()[-1])
        ka = _keepalived(topo, lb, args.servers, args.duration)
    finally:
        topo.close()
    t, h = results["tcp"], results["http"]
    rows = [
        (f"TCP_CHECK x{args.servers}, delay_loop 1: CPU (one core)", f"{t['cpu_pct']:.1f} %"),
        ("  checks/s", f"{t['checks_per_s']:.0f}"),
        (
            "  lateness p50 / p99 / max",
            f"{t['late_p50_ms']:.1f} / {t['late_p99_ms']:.1f} / {t['late_max_ms']:.1f} ms",
        ),
        ("  false DOWN events", str(t["down_events"])),
        (f"HTTP_GET x{args.http}, delay_loop 1: CPU", f"{h['cpu_pct']:.1f} %"),
        ("  checks/s", f"{h['checks_per_s']:.0f}"),
        ("  lateness p99 / max", f"{h['late_p99_ms']:.1f} / {h['late_max_ms']:.1f} ms"),
        ("  false DOWN events", str(h["down_events"])),
        (f"keepalived 2.2.7 checker, TCP_CHECK x{args.servers}: CPU", ka),
    ]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    rows.append(("load average (1/5/15 min) at the end", load))
    width = max(len(a) for a, _ in rows)
    lines = [f"| {'measure':<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {a:<{width}} | {b} |" for a, b in rows]
    table = "\n".join(lines)
    print(table)
    out = ROOT / "bench" / "results" / "checkers.md"
    out.write_text(
        "# Checker benchmark\n\n"
        f"`bench/bench_checkers.py --duration {args.duration:g}` on {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at the end "
        f"{load}. Targets (issue 7): TCP ≤ 25 % of one core, no check later than 50 ms.\n\n"
        "Lateness is wall-clock and counts time the process was not scheduled: on a shared, "
        "loaded machine it measures the machine, not the scheduler (compare the CPU column, "
        "which is the process's own time). keepalived's checker needs IPVS, which this kernel "
        "lacks, so it exits before it can be measured here.\n\n" + table + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
