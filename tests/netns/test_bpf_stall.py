"""The reason hadaemon exists: a backup that is not scheduled for a while must not take over.

Master (hadaemon, or keepalived 2.2.7) advertises every 1 s. Two hadaemon backups, one on the
eBPF receive path and one on the classic path (``--no-bpf``), are SIGSTOPped together for
2 × Master_Down_Interval and then continued. When they wake up their master-down timers are
long overdue, but the adverts that arrived meanwhile carry kernel stamps (eBPF ``last_seen`` /
``SO_TIMESTAMPNS``): both must stay backup, and a capture on the segment must show no advert
from either of them.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.vrrp_lab import Capture, Lab, hd_config, hd_instance, ka_config

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bpf]

VIP = "10.0.0.200"
ADVERT_INT_S = 1.0
MASTER_STATE = r"\(VI_1\) Entering MASTER STATE"
BACKUP_STATE = r"\(VI_1\) Entering BACKUP STATE"


def master_down_interval_s(priority: int) -> float:
    """RFC 5798 §6.1: 3 × Master_Adver_Interval + Skew_Time."""
    return 3 * ADVERT_INT_S + (256 - priority) * ADVERT_INT_S / 256


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path, routers=3)
    try:
        yield lab
    finally:
        lab.close()


@pytest.mark.parametrize(
    "master", ["hadaemon", pytest.param("keepalived", marks=pytest.mark.keepalived)]
)
def test_sigstopped_backups_stay_backup_on_both_paths(lab: Lab, master: str) -> None:
    if master == "hadaemon":
        lab.start_hadaemon(
            "r1",
            hd_config(hd_instance(priority=150, state="MASTER", advert_int=ADVERT_INT_S)),
            "--no-bpf",
        )
    else:
        lab.start_keepalived("r1", ka_config(priority=150, state="MASTER", advert_int=1))
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100, advert_int=ADVERT_INT_S)))
    lab.start_hadaemon(
        "r3", hd_config(hd_instance(priority=90, advert_int=ADVERT_INT_S)), "--no-bpf"
    )
    lab.wait_holder(VIP, "r1", timeout_s=30)
    lab.wait_log("r2", r"receive path: eBPF", timeout_s=90)
    lab.wait_log("r2", BACKUP_STATE)
    lab.wait_log("r3", BACKUP_STATE)
    assert "receive path: eBPF" not in lab.log("r3")

    stall_s = 2 * master_down_interval_s(90)
    cap = Capture(lab.topo, lab.ns["client"], stall_s + 4.0, "vrrp")
    t0 = time.monotonic()
    lab.signal("r2", signal.SIGSTOP)
    lab.signal("r3", signal.SIGSTOP)
    try:
        time.sleep(max(0.0, stall_s - (time.monotonic() - t0)))
    finally:
        lab.signal("r2", signal.SIGCONT)
        lab.signal("r3", signal.SIGCONT)
    frames = cap.result()

    from_backups = [f for f in frames if f["src"] in ("10.0.0.2", "10.0.0.3")]
    assert from_backups == [], "a stalled backup advertised (it believed the master was down)"
    from_master = [f for f in frames if f["src"] == "10.0.0.1" and f["prio"] == 150]
    assert len(from_master) >= int(stall_s), "the master kept advertising"
    for name in ("r2", "r3"):
        assert not re.search(MASTER_STATE, lab.log(name)), lab.log(name)[-3000:]
        assert lab.procs[name].poll() is None
    assert lab.holders(VIP) == ["r1"]
