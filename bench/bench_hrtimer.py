#!/usr/bin/env python3
"""Timer lateness: asyncio ``loop.call_at`` against ``hadaemon.io.hrtimer.HrTimers`` (timerfd).

    .venv/bin/python bench/bench_hrtimer.py [--quick] [--samples 2000] [--no-rt] [--no-write]

One timer at a time, each callback scheduling the next at a random 0.5-3 ms ahead (like an
advert timer re-armed after each event); lateness = ``time.monotonic()`` in the callback minus
the deadline. Rows: each timer source, SCHED_OTHER and (as root) SCHED_FIFO 10, idle and with
two bounded busy loops (started here, killed in ``finally``) saturating both cores. Nothing
asserts: it prints a markdown table and writes ``bench/results/hrtimer.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hadaemon.io.hrtimer import HrTimers  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "hrtimer.md"
RT_PRIO = 10
BUSY_MAX_S = 120  # a busy loop ends by itself after this even if this script is killed -9


def loadavg() -> str:
    """The 1/5/15-minute load averages as a string."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) of xs, nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def measure(source: str, samples: int, seed: int) -> list[float]:
    """Lateness in seconds of ``samples`` chained timers on ``source`` (call_at or hrtimer)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    late: list[float] = []
    done = loop.create_future()
    timers = HrTimers(loop) if source == "hrtimer" else None
    if timers is not None and not timers.uses_timerfd:
        raise SystemExit("no timerfd here: HrTimers fell back to loop.call_at")
    schedule: Callable[..., object] = timers.call_at if timers is not None else loop.call_at

    def fire(when: float) -> None:
        late.append(time.monotonic() - when)
        if len(late) >= samples:
            done.set_result(None)
            return
        nxt = time.monotonic() + rng.uniform(0.0005, 0.003)
        schedule(nxt, fire, nxt)

    first = time.monotonic() + 0.002
    schedule(first, fire, first)
    try:
        await done
    finally:
        if timers is not None:
            timers.close()
    return late


def set_fifo(on: bool) -> bool:
    """SCHED_FIFO RT_PRIO (on) or SCHED_OTHER for this process; False if not allowed."""
    try:
        if on:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIO))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except OSError:
        return False
    return True


def start_busy(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` busy-loop processes, each ending by itself after BUSY_MAX_S."""
    code = f"import time\nt=time.monotonic()+{BUSY_MAX_S}\nwhile time.monotonic()<t: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def stop_busy(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill the busy loops started by :func:`start_busy` (by their own PIDs)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every row, print the table, write bench/results/hrtimer.md."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="500 samples per row (smoke run)")
    ap.add_argument("--samples", type=int, default=2000, help="timers per row")
    ap.add_argument("--no-rt", action="store_true", help="skip the SCHED_FIFO rows")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS}")
    a = ap.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    samples = 500 if a.quick else a.samples
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = loadavg()
    scheds = ["SCHED_OTHER"]
    if not a.no_rt and set_fifo(True):
        set_fifo(False)
        scheds.append(f"SCHED_FIFO {RT_PRIO}")
    rows: list[str] = []
    seed = 1
    for load in ("idle", "2 busy loops"):
        busy = start_busy(2) if load != "idle" else []
        try:
            for sched in scheds:
                set_fifo(sched != "SCHED_OTHER")
                try:
                    for source in ("call_at", "hrtimer"):
                        seed += 1
                        late = asyncio.run(measure(source, samples, seed))
                        us = [x * 1e6 for x in late]
                        row = (
                            f"| {'loop.call_at' if source == 'call_at' else 'HrTimers'} "
                            f"| {sched} | {load} | {len(us)} | {min(us):.1f} "
                            f"| {statistics.median(us):.1f} / {pct(us, 0.99):.1f} "
                            f"/ {max(us):.1f} |"
                        )
                        print(row, flush=True)
                        rows.append(row)
                finally:
                    set_fifo(False)
        finally:
            stop_busy(busy)
    text = "\n".join(
        [
            "# Timer lateness benchmark (bench/bench_hrtimer.py)",
            "",
            f"Run {started}{' (--quick)' if a.quick else ''}: {os.cpu_count()}-CPU shared VM "
            f"(kernel {os.uname().release}), other jobs running = noisy. Load average "
            f"(1/5/15 min) at start: {load_start}.",
            "",
            "Chained timers, each set 0.5-3 ms ahead from the previous callback; lateness = "
            "time.monotonic() in the callback − deadline. asyncio's epoll selector rounds its "
            "wait up to a whole millisecond, HrTimers arms a timerfd to the nanosecond "
            "(SCHED_OTHER also pays the default 50 µs timer slack).",
            "",
            "| timer | scheduling | load | samples | min µs | lateness p50 / p99 / max µs |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Load average after: {loadavg()}.",
            "",
        ]
    )
    print()
    print(text)
    if not a.no_write:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
