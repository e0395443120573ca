"""SCHED_FIFO and mlockall for real, in a child process (never in the test runner itself)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

CHILD = """
import json, logging, os, sys
from hadaemon.io import sched
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
res = sched.apply(rt_priority=int(sys.argv[1]), no_swap=True)
status = open("/proc/self/status").read()
vmlck = [l for l in status.splitlines() if l.startswith("VmLck")][0].split()[1]
print(json.dumps({**res, "policy": os.sched_getscheduler(0),
                  "prio": os.sched_getparam(0).sched_priority, "vmlck_kb": int(vmlck),
                  "is_rt": sched.is_realtime()}))
"""


def run_child(prio: int) -> tuple[dict[str, object], str]:
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(prio)], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def test_realtime_and_locked_memory_when_permitted() -> None:
    res, log = run_child(10)
    import os

    assert res["realtime"] is True and res["is_rt"] is True
    assert res["policy"] == os.SCHED_FIFO and res["prio"] == 10
    assert res["mlockall"] is True and int(res["vmlck_kb"]) > 0  # type: ignore[call-overload]
    assert "using SCHED_FIFO priority 10" in log and "memory locked" in log


def test_bad_priority_is_refused_with_a_message() -> None:
    res, log = run_child(150)
    assert res["realtime"] is False and res["is_rt"] is False
    assert "vrrp_rt_priority 150 out of range 1..99" in log
