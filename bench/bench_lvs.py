#!/usr/bin/env python3
"""LVS nft data-path benchmark: batch sizes, weight change, checker verdict → rule, throughput.

Runs as root. Creates its own network namespaces (unique names, removed at the end), prints a
table and writes ``bench/results/lvs.md``. Targets from issue 8: 100 VS × 10 RS in one transaction
≤ 50 ms; one weight change ≤ 2 ms; checker DOWN → rule change ≤ 10 ms; NAT/DR req/s ≥ 90 % of a
routed baseline.

Usage: ``python bench/bench_lvs.py [--runs N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    return f"{statistics.median(xs) * 1e3:.2f} / {p95 * 1e3:.2f}"


def inner(runs: int) -> dict[str, Any]:
    """Runs inside a fresh namespace: the nft backend alone."""
    from hadaemon.config.model import Config, RealServer, VirtualServer
    from hadaemon.lvs.model import Match, Real, Service
    from hadaemon.lvs.nft import NftBackend
    from hadaemon.lvs.reconcile import reconcile
    from hadaemon.lvs.service import LvsEngine, LvsService, NullResolver

    def services(weight0: int = 1) -> list[Service]:
        """100 VS x 10 RS; ``weight0`` is the weight of the first server of the first VS."""
        out = []
        for v in range(100):
            reals = tuple(
                Real(
                    f"10.{100 + v // 250}.{v % 250}.{10 + r}",
                    8080,
                    weight0 if r == 0 and v == 0 else 1,
                )
                for r in range(10)
            )
            out.append(
                Service(
                    f"v{v}",
                    (Match(f"10.99.{v // 250}.{v % 250 + 1}", "tcp", 80),),
                    scheduler="wrr",
                    reals=reals,
                )
            )
        return out

    def reweighted(s: Service, weight: int) -> Service:
        """``s`` with its first server at ``weight`` (the other services stay the same objects,
        as LvsService keeps them: it rebuilds only the virtual server a verdict is about)."""
        return dataclasses.replace(
            s, reals=(dataclasses.replace(s.reals[0], weight=weight), *s.reals[1:])
        )

    res: dict[str, Any] = {}
    full, build, weight, rebuilt, mh_full, resync = [], [], [], [], [], []
    for i in range(runs):
        b = NftBackend()
        b.destroy()
        desired = services()
        t0 = time.perf_counter()
        ops = reconcile(desired, b.cached_actual())
        t1 = time.perf_counter()
        b.apply(ops, desired)
        t2 = time.perf_counter()
        full.append(t2 - t0)
        build.append(t1 - t0)
        t0 = time.perf_counter()
        b.read_actual()
        resync.append(time.perf_counter() - t0)
        for w in range(2, 12):
            d2 = services(weight0=w + i)
            t0 = time.perf_counter()
            b.apply(reconcile(d2, b.cached_actual()), d2)
            rebuilt.append(time.perf_counter() - t0)
            d3 = [reweighted(desired[0], 100 + w + i), *desired[1:]]
            t0 = time.perf_counter()
            b.apply(reconcile(d3, b.cached_actual()), d3)
            weight.append(time.perf_counter() - t0)
        mh = [Service(s.name, s.matches, scheduler="mh", reals=s.reals) for s in services()]
        t0 = time.perf_counter()
        b.apply(reconcile(mh, b.cached_actual()), mh)
        mh_full.append(time.perf_counter() - t0)
        b.destroy()
    res["100x10 wrr, one transaction (reconcile+render+apply)"] = _ms(full)
    res["  of which reconcile (pure)"] = _ms(build)
    res["100x10 switch all to mh (Maglev tables)"] = _ms(mh_full)
    res["one weight change (reconcile+render+apply, other 99 services unchanged)"] = _ms(weight)
    res["one weight change, all 100 Service objects rebuilt (fingerprints)"] = _ms(rebuilt)
    res["read back + parse 100x10 (resync)"] = _ms(resync)

    # checker DOWN → rule change, through LvsService (config → desired → reconcile → nft)
    vss = tuple(
        VirtualServer(
            address=f"10.99.0.{v + 1}",
            port=80,
            lvs_sched="wrr",
            real_servers=tuple(
                RealServer(address=f"10.100.{v}.{10 + r}", port=8080) for r in range(10)
            ),
        )
        for v in range(100)
    )
    svc = LvsService(
        Config(virtual_servers=vss),
        lambda k, b: None,
        backend=NftBackend(),
        resolver=NullResolver(),
        resync_interval_s=0,
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(svc.start())
    down = []
    for i in range(runs * 10):
        vs = vss[i % 100]
        t0 = time.perf_counter()
        svc.set_real_server_state(vs.key, (f"10.100.{i % 100}.10", 8080), up=bool(i // 100 % 2))
        down.append(time.perf_counter() - t0)
    loop.run_until_complete(svc.stop())
    res["checker verdict -> rule change (LvsService, 100x10 config)"] = _ms(down)

    # libnftables fetches its cache (chains, rules) before each batch: the cost of the smallest
    # batch grows with the size of the ruleset (why a weight change costs more than datapath.md's
    # 0.72 ms with 100 chains: this layout has one chain per real server)
    b = NftBackend()
    for n in (100, 1100):
        b.run("add table ip hdbench\n" + "".join(f"add chain ip hdbench c{i}\n" for i in range(n)))
        xs = []
        for _ in range(runs * 5):
            t0 = time.perf_counter()
            b.run("flush chain ip hdbench c0\nadd rule ip hdbench c0 counter\n")
            xs.append(time.perf_counter() - t0)
        res[f"smallest batch in a table of {n} empty chains"] = _ms(xs)
        b.run("delete table ip hdbench\n")
    assert isinstance(svc.engine, LvsEngine)
    return res


def throughput(seconds: float) -> dict[str, str]:
    """req/s of one Python client process: routed to one RS, NAT rr, DR rr."""
    from helpers.lvs_net import DR_VIP, NAT_VIP, RS, LvsLab

    from hadaemon.config.model import Config, IpAddress, RealServer, VirtualServer, VrrpInstance

    lab = LvsLab()
    out: dict[str, str] = {}
    try:
        d = lab.driver()
        vi = VrrpInstance(
            name="VI",
            interface="eth0",
            virtual_router_id=9,
            virtual_ipaddress=(IpAddress(address=DR_VIP, prefixlen=32),),
        )
        cfg = Config(
            vrrp_instances=(vi,),
            virtual_servers=tuple(
                VirtualServer(
                    address=vip,
                    port=80,
                    lvs_sched="rr",
                    lvs_method=m,
                    real_servers=tuple(
                        RealServer(address=a, port=80, lvs_method=m) for a in RS.values()
                    ),
                )
                for vip, m in ((NAT_VIP, "NAT"), (DR_VIP, "DR"))
            ),
        )
        assert d.ok("start", config=cfg.to_dict(with_location=False))
        stop = Path(f"/tmp/bench-lvs-{time.monotonic_ns()}")
        for label, vip in (
            ("routed to rs1 (baseline)", RS["rs1"]),
            ("NAT rr via hadaemon", NAT_VIP),
            ("DR rr via hadaemon", DR_VIP),
        ):
            p = lab.client_run(vip, 80, 1, until=str(stop), background=True)
            time.sleep(seconds)
            stop.touch()
            r = lab.client_result(p)
            stop.unlink()
            out[label] = f"{r['total'] / seconds:.0f} req/s ({r['failed']} failed)"
        d("stop")
        d.close()
    finally:
        lab.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inner:
        print(json.dumps(inner(a.runs)))
        return 0
    from helpers.netns import Topology

    topo = Topology("bl")
    try:
        ns = topo.ns("nft")
        r = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                __file__,
                "--inner",
                "--runs",
                str(a.runs),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows = json.loads(r.stdout)
    finally:
        topo.close()
    tput = throughput(a.seconds)
    lines = ["| measurement | median / p95 ms |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    lines += ["", "| path (1 Python client, new TCP connection per request) | rate |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in tput.items()]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "lvs.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# LVS nft data path (bench/bench_lvs.py)\n\n"
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {a.runs} runs, "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(the machine is shared: medians move with it), "
        f"{a.seconds:.0f} s per throughput row. Targets: 100x10 ≤ 50 ms, weight change ≤ 2 ms, "
        "checker verdict → rule ≤ 10 ms, NAT/DR ≥ 90 % of routed.\n\n" + text + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
