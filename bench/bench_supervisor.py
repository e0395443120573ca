#!/usr/bin/env python3
"""Supervisor benchmark (issue 5): respawn → first advert, reload of a big config, memory.

Runs as root in its own network namespaces (tests/helpers/vrrp_lab.Lab: r1, r2, client on one
segment; removed at the end). Prints a table and writes ``bench/results/supervisor.md``.

1. **kill -9 of the VRRP worker → first advert of the respawned one** (VRRPv3, 0.1 s adverts,
   one MASTER instance): time from the kill to the first advert from the router, seen by a
   packet recorder on the client; the same for keepalived 2.2.7 (kill -9 of its VRRP child,
   which its parent respawns; at most 4 kills: keepalived doubles its respawn delay for a child
   that lived < 60 s). Target ≤ 300 ms.
2. **reload** of an N-instance config (default 250; above 250, VRIDs go on extra veth
   interfaces in r1; 1 s adverts), ``--reload-runs`` times in a row, each changing one
   instance's priority: SIGHUP → the supervisor logged "reload done"; the vrrp worker's own
   "configuration applied … in N ms" (decode + diff + apply); SIGHUP → the status socket shows
   the new priority; plus the longest advert gap of an unchanged instance around the reload
   (target ≤ 200 ms, no gap). (keepalived's reload is not timed here: it has no equivalent
   completion signal in 2.2.7's log.)
3. **memory**: PSS (``/proc/PID/smaps_rollup``) of all processes with 100 instances, hadaemon
   (supervisor + vrrp worker + standby) vs keepalived (parent + VRRP child). Target ≤ 100 MB.

Usage: ``python bench/bench_supervisor.py [--kills N] [--reload-instances N] [--reload-runs N]
[--skip respawn,reload,memory] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.netns import wait_for  # noqa: E402
from helpers.vrrp_lab import AdvertRecorder, Lab  # noqa: E402

from hadaemon.supervisor.status_cli import query  # noqa: E402


def conf(n: int, advert_int: float, prio1: int = 150, base_vrid: int = 1) -> str:
    """keepalived.conf with ``n`` MASTER instances on eth1 (VIPs 10.1.x.y/32)."""
    out = [
        "global_defs {\n router_id r1\n vrrp_version 3\n vrrp_garp_master_delay 0\n"
        " vrrp_garp_master_repeat 1\n}\n"
    ]
    for i in range(n):
        vrid = base_vrid + i % 250
        dev = f"eth{1 + i // 250}"  # 250 VRIDs per interface
        out.append(
            f"vrrp_instance VI_{i + 1} {{\n state MASTER\n interface {dev}\n"
            f" virtual_router_id {vrid}\n priority {prio1 if i == 0 else 150}\n"
            f" advert_int {advert_int}\n virtual_ipaddress {{\n"
            f"  10.1.{i // 250}.{i % 250 + 1}/32 dev {dev}\n }}\n}}\n"
        )
    return "".join(out)


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        m = re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else 0


def _stats(xs: list[float]) -> str:
    if not xs:
        return "-"
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    return f"{statistics.median(xs) * 1e3:.0f} / {p95 * 1e3:.0f} / {xs[-1] * 1e3:.0f}"


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:.0f} / {max(xs) * 1e3:.0f}"


def hd_status(run_dir: Path) -> dict[str, Any] | None:
    try:
        return query(str(run_dir / "status.sock"))
    except (OSError, ValueError):
        return None


def bench_respawn(kills: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {"hadaemon": [], "keepalived": []}
    tmp = Path(tempfile.mkdtemp(prefix="hdsupbench"))
    lab = Lab(tmp)
    try:
        rec = AdvertRecorder(lab.topo, lab.ns["client"], tmp / "adverts.txt")
        lab.start_hadaemon("r1", conf(1, 0.1), "--no-bpf", cli=True)
        run_dir = tmp / "run-r1"

        def ready(old: int | None) -> dict[str, Any] | None:
            d = hd_status(run_dir)
            if not d or "vrrp" not in d["workers"]:
                return None
            w = d["workers"]["vrrp"]
            ok = w["state"] == "RUNNING" and (w["running_s"] or 0) > 1.5 and w["pid"] != old
            return d if ok and d["hadaemon"]["standby_warm"] == ["vrrp"] else None

        doc = wait_for(lambda: ready(None), 30, 0.05, "hadaemon running")
        for _ in range(kills):
            pid = doc["workers"]["vrrp"]["pid"]
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            res["hadaemon"].append(rec.first_after(t0, "10.0.0.1") - t0)
            doc = wait_for(lambda pid=pid: ready(pid), 30, 0.05, "respawned")
        # keepalived on r2 (r1's hadaemon stopped first)
        lab.stop("r1", timeout_s=30)
        lab.start_keepalived("r2", conf(1, 0.1).replace("router_id r1", "router_id r2"))
        vpid_file = tmp / "r2.vrrp.pid"
        wait_for(
            lambda: vpid_file.exists() and vpid_file.read_text().strip(),
            20,
            0.05,
            "keepalived vrrp child",
        )
        time.sleep(2.0)
        # keepalived doubles its respawn delay (1, 2, 4 … 60 s) for a child that lived < 60 s:
        # a few kills show it
        for _ in range(min(kills, 4)):
            pid = int(vpid_file.read_text())
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            res["keepalived"].append(rec.first_after(t0, "10.0.0.2", timeout_s=90) - t0)
            wait_for(
                lambda pid=pid: (
                    vpid_file.exists()
                    and vpid_file.read_text().strip()
                    and int(vpid_file.read_text()) != pid
                ),
                90,
                0.05,
                "keepalived respawn",
            )
            time.sleep(1.5)
        rec.close()
    finally:
        lab.close()
    return res


def bench_reload(n: int, runs: int) -> dict[str, list[float]]:
    """``runs`` SIGHUPs of an ``n``-instance config, each changing VI_1's priority (150 ↔ 200).

    Per run: SIGHUP → supervisor "reload done"; the vrrp worker's own "configuration applied …
    in N ms" (decode + diff + apply); SIGHUP → the status socket shows the new priority; the
    longest gap between adverts of the unchanged VI_2 around the reload.
    """
    out: dict[str, list[float]] = {
        "supervisor": [],
        "worker": [],
        "applied": [],
        "gap": [],
        "status": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="hdsupbench"))
    lab = Lab(tmp)
    try:
        rec = AdvertRecorder(lab.topo, lab.ns["client"], tmp / "adverts.txt")
        r1 = lab.ns["r1"]
        for k in range(2, 2 + (n - 1) // 250):  # more interfaces for more than 250 VRIDs
            lab.topo.exec(
                r1, "ip", "link", "add", f"eth{k}", "type", "veth", "peer", "name", f"peer{k}"
            )
            lab.topo.exec(r1, "ip", "addr", "add", f"10.{100 + k}.0.1/24", "dev", f"eth{k}")
            lab.topo.exec(r1, "ip", "link", "set", f"eth{k}", "up")
            lab.topo.exec(r1, "ip", "link", "set", f"peer{k}", "up")
        lab.start_hadaemon("r1", conf(n, 1.0), "--no-bpf", cli=True)
        run_dir = tmp / "run-r1"
        wait_for(
            lambda: (
                (d := hd_status(run_dir))
                and len(d["instances"]) == n
                and all(i["state"] == "MASTER" for i in d["instances"])
            ),
            180,
            0.5,
            f"{n} instances MASTER",
        )
        for run in range(runs):
            prio = 200 if run % 2 == 0 else 150
            (tmp / "r1.conf").write_text(conf(n, 1.0, prio1=prio))
            time.sleep(2.5)  # a quiet second or two of adverts before the reload
            log_before = len(lab.log("r1"))
            t0 = time.monotonic()
            lab.signal("r1", signal.SIGHUP)
            wait_for(
                lambda lb=log_before: "reload done" in lab.log("r1")[lb:], 60, 0.005, "reload done"
            )
            out["supervisor"].append(time.monotonic() - t0)

            def applied(prio: int = prio) -> bool:
                d = hd_status(run_dir)
                return d is not None and any(
                    i["name"] == "VI_1" and i.get("base_priority") == prio for i in d["instances"]
                )

            wait_for(applied, 600, 0.05, "new priority applied")
            out["applied"].append(time.monotonic() - t0)
            m = wait_for(
                lambda lb=log_before: re.search(
                    r"configuration applied \(generation \d+\) in (\d+) ms", lab.log("r1")[lb:]
                ),
                30,
                0.05,
                "worker's apply time",
            )
            out["worker"].append(float(m.group(1)) / 1e3)
            t_status = time.monotonic()
            hd_status(run_dir)
            out["status"].append(time.monotonic() - t_status)
            time.sleep(2.5)
            vi2 = [
                t
                for t, s, v, p in rec.rows()
                if s == "10.0.0.1" and v == 2 and t0 - 3 < t < time.monotonic()
            ]
            out["gap"].append(max(b - a for a, b in zip(vi2, vi2[1:], strict=False)))
        lab.stop("r1", timeout_s=60)
        rec.close()
    finally:
        lab.close()
    return out


def bench_reload_cpu(sizes: list[int], repeat: int = 7) -> dict[int, dict[str, float]]:
    """CPU time (``time.process_time``, best of ``repeat``; wall time on a shared machine is
    mostly waiting) of each step of a one-change reload, in this process, by config size.

    Supervisor: parse + validate (``hadaemon.config.load``), plan (``config.diff``), the vrrp
    worker's part (``to_dict``), msgpack. Worker: unpack, ``Config.from_dict``, its own diff.
    """
    import msgpack

    from hadaemon.config.diff import diff
    from hadaemon.config.model import Config
    from hadaemon.supervisor.main import KeepalivedLoader, _vrrp_part

    def best(f: Any) -> float:
        ts = []
        for _ in range(repeat):
            t = time.process_time()
            f()
            ts.append(time.process_time() - t)
        return min(ts)

    import logging

    logging.disable(logging.WARNING)  # "interface eth1 doesn't exist": not in a namespace here
    loader = KeepalivedLoader()
    out: dict[int, dict[str, float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="hdsupcpu"))
    for n in sizes:
        path = tmp / f"{n}.conf"
        path.write_text(conf(n, 1.0))
        old = loader.load(str(path), None)
        path.write_text(conf(n, 1.0, prio1=200))
        new = loader.load(str(path), None)
        part = _vrrp_part(new)
        wire = msgpack.packb(part)
        decoded = Config.from_dict(part)
        out[n] = {
            "load": best(lambda p=path: loader.load(str(p), None)),
            "plan": best(lambda o=old, c=new: loader.plan(o, c)),
            "part": best(lambda c=new: _vrrp_part(c)),
            "pack": best(lambda d=part: msgpack.packb(d)),
            "unpack": best(lambda w=wire: msgpack.unpackb(w)),
            "from_dict": best(lambda d=part: Config.from_dict(d)),
            "diff": best(lambda o=old, c=decoded: diff(o, c)),
        }
    return out


def bench_memory(n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="hdsupbench"))
    lab = Lab(tmp)
    try:
        lab.start_hadaemon("r1", conf(n, 1.0), "--no-bpf", cli=True)
        run_dir = tmp / "run-r1"
        doc = wait_for(
            lambda: (
                (d := hd_status(run_dir))
                and len(d["instances"]) == n
                and d["hadaemon"]["standby_pids"]
                and d
            ),
            120,
            0.5,
            "running",
        )
        pids = [
            doc["hadaemon"]["pid"],
            doc["workers"]["vrrp"]["pid"],
            *doc["hadaemon"]["standby_pids"].values(),
        ]
        out["hadaemon_mb"] = sum(pss_kb(p) for p in pids) / 1024
        out["hadaemon_no_standby_mb"] = sum(pss_kb(p) for p in pids[:2]) / 1024
        lab.stop("r1", timeout_s=60)
        lab.start_keepalived("r2", conf(n, 1.0).replace("router_id r1", "router_id r2"))
        wait_for(lambda: (tmp / "r2.vrrp.pid").exists(), 30, 0.1, "keepalived")
        time.sleep(3)
        kpids = [int((tmp / "r2.pid").read_text()), int((tmp / "r2.vrrp.pid").read_text())]
        out["keepalived_mb"] = sum(pss_kb(p) for p in kpids) / 1024
    finally:
        lab.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=10)
    p.add_argument(
        "--reload-instances",
        type=int,
        default=250,
        help="250 per interface (extra veth interfaces are added in r1 above that)",
    )
    p.add_argument("--reload-runs", type=int, default=3, help="reloads in a row (median, max)")
    p.add_argument("--memory-instances", type=int, default=100)
    p.add_argument(
        "--cpu-sizes",
        default="250,500,1000,2000",
        help="config sizes for the in-process CPU cost of a reload (skip with --skip cpu)",
    )
    p.add_argument("--skip", default="", help="comma list of respawn,reload,memory,cpu")
    p.add_argument(
        "--out",
        default="supervisor.md",
        help="results file name in bench/results (a partial run: give it its own name)",
    )
    a = p.parse_args()
    skip = set(a.skip.split(","))
    lines = [
        "# Supervisor benchmark",
        "",
        f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start",
        "",
    ]
    if "respawn" not in skip:
        r = bench_respawn(a.kills)
        lines += [
            "## kill -9 of the VRRP worker → first advert (ms, median / p95 / max)",
            "",
            "| daemon | kills | kill → first advert |",
            "|---|---|---|",
            f"| hadaemon (standby worker + state handback) | {len(r['hadaemon'])} | "
            f"{_stats(r['hadaemon'])} |",
            f"| keepalived 2.2.7 (parent respawns VRRP child) | {len(r['keepalived'])} | "
            f"{_stats(r['keepalived'])} |",
            "",
            "target ≤ 300 ms",
            "",
        ]
        print("\n".join(lines[-9:]), flush=True)
    if "memory" not in skip:
        mem = bench_memory(a.memory_instances)
        lines += [
            f"## memory, {a.memory_instances} instances (PSS, MB)",
            "",
            "| daemon | PSS |",
            "|---|---|",
            f"| hadaemon (supervisor + vrrp + standby) | {mem['hadaemon_mb']:.1f} |",
            f"| hadaemon without the standby | {mem['hadaemon_no_standby_mb']:.1f} |",
            f"| keepalived 2.2.7 (parent + VRRP child) | {mem['keepalived_mb']:.1f} |",
            "",
            "target ≤ 100 MB",
            "",
        ]
        print("\n".join(lines[-9:]), flush=True)
    if "reload" not in skip:
        rl = bench_reload(a.reload_instances, a.reload_runs)
        lines += [
            f"## reload, {a.reload_instances} instances, one priority change "
            f"({a.reload_runs} runs, ms, median / max)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| SIGHUP → supervisor 'reload done' (parse+validate+plan+send) | "
            f"{_ms(rl['supervisor'])} |",
            f"| vrrp worker: decode + diff + apply (its log) | {_ms(rl['worker'])} |",
            f"| SIGHUP → status shows the new priority (polled every 50 ms) | "
            f"{_ms(rl['applied'])} |",
            f"| one status query ({a.reload_instances} instances, for scale) | "
            f"{_ms(rl['status'])} |",
            f"| longest advert gap of an unchanged instance (1 s adverts) | {_ms(rl['gap'])} |",
            "",
            "target ≤ 200 ms, no gap",
            "",
        ]
        print("\n".join(lines[-11:]), flush=True)
    if "cpu" not in skip:
        sizes = [int(x) for x in a.cpu_sizes.split(",") if x]
        cpu = bench_reload_cpu(sizes)
        lines += [
            "## reload CPU cost by config size (ms of CPU, best of 7, one process)",
            "",
            "| instances | load (parse+validate) | plan | to_dict | msgpack | supervisor total "
            "| unpack | from_dict | diff | worker total (before apply) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n, c in cpu.items():
            sup = c["load"] + c["plan"] + c["part"] + c["pack"]
            wrk = c["unpack"] + c["from_dict"] + c["diff"]
            lines.append(
                f"| {n} | {c['load'] * 1e3:.0f} | {c['plan'] * 1e3:.0f} | {c['part'] * 1e3:.0f} "
                f"| {c['pack'] * 1e3:.0f} | {sup * 1e3:.0f} | {c['unpack'] * 1e3:.0f} "
                f"| {c['from_dict'] * 1e3:.0f} | {c['diff'] * 1e3:.0f} | {wrk * 1e3:.0f} |"
            )
        lines.append("")
        print("\n".join(lines[-(len(cpu) + 5) :]), flush=True)
    out = ROOT / "bench" / "results" / a.out
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
