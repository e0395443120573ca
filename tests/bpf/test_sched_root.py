"""SCHED_FIFO and mlockall for real, in a child process (never in the test runner itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

CHILD = """
import json, logging, os, subprocess, sys
from hadaemon.io import sched
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
prio = None if sys.argv[1] == "none" else int(sys.argv[1])
res = sched.apply(rt_priority=prio, no_swap=sys.argv[2] == "lock", realtime=sys.argv[3] == "rt")
status = open("/proc/self/status").read()
vmlck = [l for l in status.splitlines() if l.startswith("VmLck")][0].split()[1]
# what a notify/track script started by this process gets
script = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                        capture_output=True, text=True, check=True)
print(json.dumps({**res, "policy": os.sched_getscheduler(0),
                  "prio": os.sched_getparam(0).sched_priority, "vmlck_kb": int(vmlck),
                  "is_rt": sched.is_realtime(), "script_policy": int(script.stdout)}))
"""

FIFO_RESET = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK


def run_child(
    prio: int | None, *, lock: bool = True, rt: bool = False
) -> tuple[dict[str, int], str]:
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            "none" if prio is None else str(prio),
            "lock" if lock else "-",
            "rt" if rt else "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def test_realtime_and_locked_memory_when_permitted() -> None:
    res, log = run_child(10)
    assert res["realtime"] is True and res["is_rt"] is True
    assert res["policy"] == FIFO_RESET and res["prio"] == 10
    assert res["mlockall"] is True and int(res["vmlck_kb"]) > 0
    assert "using SCHED_FIFO priority 10" in log and "memory locked" in log
    # scripts it starts run as normal processes, never at realtime priority
    assert res["script_policy"] == os.SCHED_OTHER


def test_realtime_by_default_at_the_lowest_priority() -> None:
    """No vrrp_rt_priority: SCHED_FIFO 1 (DESIGN: realtime by default when permitted)."""
    res, log = run_child(None, lock=False, rt=True)
    assert res["realtime"] is True and res["policy"] == FIFO_RESET and res["prio"] == 1
    assert res["script_policy"] == os.SCHED_OTHER
    assert "using SCHED_FIFO priority 1" in log


def test_vrrp_realtime_off_stays_normal() -> None:
    res, log = run_child(None, lock=False, rt=False)
    assert res["realtime"] is False and res["is_rt"] is False
    assert res["policy"] == os.SCHED_OTHER and "SCHED_FIFO" not in log


def test_bad_priority_is_refused_with_a_message() -> None:
    res, log = run_child(150)
    assert res["realtime"] is False and res["is_rt"] is False
    assert "vrrp_rt_priority 150 out of range 1..99" in log
