#!/usr/bin/env python3
"""BFD benchmark: hadaemon's bfd worker against keepalived 2.2.7's BFD process.

Two network namespaces of its own (root). For each row, ``N`` sessions run between hadaemon
(the whole daemon, ``-n``) in ``a`` and keepalived (a config holding only ``bfd_instance``
blocks) in ``b`` with the given timers; once every session is Up both sides run for DURATION
seconds. Measured: CPU of hadaemon's bfd worker and of keepalived's BFD child (``/proc`` utime +
stime, % of one core), and the sessions that left Up on either side while nothing was wrong
(false failures). Then keepalived is killed (-9) and the time from the kill to hadaemon's
``Entering DOWN`` log line (ms timestamps) is compared with the Detection Time.

    sudo .venv/bin/python bench/bench_bfd.py [--duration 20] [--quick]

Prints a table and writes bench/results/bfd.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

B_IP = "10.78.0.2"
CLK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def _a_ip(i: int) -> str:
    return f"10.78.{1 + i // 200}.{1 + i % 200}"


def _conf(names: list[tuple[str, str, str]], tx: int, mult: int) -> str:
    out = "global_defs {\n    router_id bench\n}\n"
    for name, neighbor, source in names:
        out += (
            f"bfd_instance {name} {{\n    neighbor_ip {neighbor}\n    source_ip {source}\n"
            f"    min_rx {tx}\n    min_tx {tx}\n    multiplier {mult}\n}}\n"
        )
    return out


def _row(tmp: Path, n: int, tx: int, mult: int, duration: float) -> dict[str, Any]:
    from helpers.bfd_lab import start_keepalived
    from helpers.netns import Topology, wait_for

    from hadaemon.supervisor.status_cli import query

    topo = Topology("bb")
    try:
        a, b = topo.ns("a"), topo.ns("b")
        topo.lan([(a, "eth1", [f"{_a_ip(i)}/16" for i in range(n)]), (b, "eth1", [f"{B_IP}/16"])])
        ka = start_keepalived(
            topo, b, tmp, _conf([(f"s{i}", _a_ip(i), B_IP) for i in range(n)], tx, mult)
        )
        conf = tmp / "hd.conf"
        conf.write_text(_conf([(f"s{i}", B_IP, _a_ip(i)) for i in range(n)], tx, mult))
        run = tmp / "run"
        log = tmp / "hd.log"
        with open(log, "ab") as fh:
            hd = topo.popen(
                a,
                [sys.executable, "-m", "hadaemon", "-n", "-l", "-f", str(conf)]
                + ["--run-dir", str(run), "-i", "bench"],
                stdout=fh,
            )

        def sessions() -> list[dict[str, Any]]:
            try:
                doc = query(str(run / "status.sock"))
            except (OSError, ValueError):
                return []
            return list((doc.get("services", {}).get("bfd") or {}).get("sessions") or [])

        def all_up() -> bool:
            ss = sessions()
            return len(ss) == n and all(s["state"] == "Up" and not s["poll_active"] for s in ss)

        wait_for(all_up, 60, 0.2, "every session Up")
        doc = query(str(run / "status.sock"))
        hd_pid = int(doc["workers"]["bfd"]["pid"])
        ka_pid = int(next(tmp.glob("ka-pids*/bfd.pid")).read_text().split()[0])
        ka_log = tmp / "ka.log"
        ka_downs0 = ka_log.read_text(errors="replace").count("Entering Down state")
        downs0 = sum(s["stats"]["down_transitions"] for s in sessions())
        c_hd, c_ka, t0 = _cpu_s(hd_pid), _cpu_s(ka_pid), time.monotonic()
        time.sleep(duration)
        c_hd, c_ka, dt = _cpu_s(hd_pid) - c_hd, _cpu_s(ka_pid) - c_ka, time.monotonic() - t0
        ss = sessions()
        bfd = query(str(run / "status.sock"))["services"]["bfd"]
        row = {
            "late_ms": bfd["timers"]["timer_max_lateness_s"] * 1000,
            "hd_cpu": 100 * c_hd / dt,
            "ka_cpu": 100 * c_ka / dt,
            "hd_false": sum(s["stats"]["down_transitions"] for s in ss) - downs0,
            "ka_false": ka_log.read_text(errors="replace").count("Entering Down state")
            - ka_downs0,
            "detect_ms": ss[0]["detection_time_us"] / 1000,
        }
        text = log.read_text(errors="replace")
        row["expired"] = len(re.findall(r"Entering DOWN state \(diag time_expired\)", text))
        since = len(text)
        killed = datetime.datetime.now()
        os.killpg(ka.pid, signal.SIGKILL)
        ka.wait(timeout=10)
        pat = re.compile(r"^(\S+ \S+) \S+ hadaemon\.bfd: BFD_Instance\(s0\) Entering DOWN", re.M)
        m = wait_for(lambda: pat.search(log.read_text(errors="replace")[since:]), 30, 0.05)
        down = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        row["kill_to_down_ms"] = (down - killed).total_seconds() * 1000
        hd.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            hd.wait(timeout=15)
        return row
    finally:
        topo.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--quick", action="store_true", help="5 s per row, fewer rows")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_bfd: needs root (network namespaces)", file=sys.stderr)
        return 2
    duration = 5.0 if args.quick else args.duration
    cases = [(1, 10, 5), (1, 50, 3), (1, 100, 3), (10, 100, 3), (50, 100, 3)]
    if args.quick:
        cases = [(1, 10, 5), (10, 100, 3)]
    import tempfile

    lines = [
        "| sessions | min_tx = min_rx | mult | Detection Time | hadaemon bfd CPU | "
        "keepalived bfd CPU | false Down (hadaemon / keepalived) | of them timed out here | "
        "hadaemon max timer lateness | kill -9 keepalived → hadaemon Down |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, tx, mult in cases:
        with tempfile.TemporaryDirectory(prefix="bench_bfd") as d:
            r = _row(Path(d), n, tx, mult, duration)
        lines.append(
            f"| {n} | {tx} ms | {mult} | {r['detect_ms']:g} ms | {r['hd_cpu']:.1f} % | "
            f"{r['ka_cpu']:.1f} % | {r['hd_false']} / {r['ka_false']} | {r['expired']} | "
            f"{r['late_ms']:.1f} ms | {r['kill_to_down_ms']:.0f} ms |"
        )
        print(lines[-1], flush=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    table = "\n".join(lines)
    print(table)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    (ROOT / "bench" / "results" / "bfd.md").write_text(
        f"## bench_bfd ({stamp}, load {load})\n\n"
        f"`bench/bench_bfd.py{' --quick' if args.quick else ''}`: {duration:g} s per row with "
        "every session Up, on a 2-CPU shared VM. CPU is % of one core over that time; a false "
        'Down is a session leaving Up with both daemons alive ("timed out here": hadaemon\'s '
        "Detection Time ran out, i.e. keepalived's packets were late; the others were "
        "keepalived timing out on hadaemon's); the last column is from the "
        "kill to hadaemon's log line (ms timestamps), to be read against the Detection Time "
        "(the last packet arrived up to one transmit interval before the kill).\n\n" + table + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
