"""``track_bfd`` and ``BFD_CHECK`` with real BFD sessions, keepalived 2.2.7 as the BFD peer.

* VRRP: r1 (hadaemon, priority 150) tracks a BFD session to r3 (keepalived running only a
  ``bfd_instance``); r2 (hadaemon, priority 100) is its backup. keepalived on r3 dies: r1's
  session goes Down, r1 enters FAULT and r2 takes the VIP; keepalived back: r1 preempts.
* checker: a real server whose ``BFD_CHECK`` session is to keepalived on that server goes down
  when keepalived dies and up when it comes back.

Assertions are on states (who holds the VIP, what the status says), with generous waits.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.bfd_lab import bfd_conf, start_keepalived
from helpers.netns import Topology, wait_for
from helpers.vrrp_lab import Lab, ka_config

from hadaemon.supervisor.status_cli import query

pytestmark = pytest.mark.lab_shape(routers=3, client=False)

VIP = "10.0.0.200"
KA_GLOBAL = "global_defs {\n    router_id ka_bfd\n}\n"


def _kill_group(p: Any) -> None:
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=10)


TRACK = "    track_bfd {\n        to_r3\n    }\n"
SYNC_GROUP = "vrrp_sync_group SG {\n    group {\n        VI_1\n    }\n" + TRACK + "}\n"


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.keepalived
@pytest.mark.parametrize("where", ["instance", "sync_group"])
def test_master_goes_fault_when_its_tracked_bfd_peer_dies(
    lab: Lab, tmp_path: Path, where: str
) -> None:
    ka = start_keepalived(
        lab.topo, lab.ns["r3"], tmp_path, KA_GLOBAL + bfd_conf("to_r1", "10.0.0.1", "10.0.0.3")
    )
    if where == "instance":
        r1 = ka_config(priority=150, extra=TRACK)
    else:  # a sync group's track_bfd: the whole group goes FAULT
        r1 = ka_config(priority=150) + SYNC_GROUP
    r1 += bfd_conf("to_r3", "10.0.0.3", "10.0.0.1")
    lab.start_hadaemon("r1", r1, cli=True)  # supervisor + vrrp + bfd workers
    lab.start_hadaemon("r2", ka_config(priority=100))
    lab.wait_holder(VIP, "r1", 30)
    assert "BFD to_r3 -> Up" in lab.log("r1")

    since = len(lab.log("r1"))
    _kill_group(ka)
    lab.wait_holder(VIP, "r2", 20)
    lab.wait_log("r1", r"\(VI_1\) Entering FAULT STATE", 10, since=since)
    assert "BFD to_r3 -> Down (time_expired)" in lab.log("r1")[since:]

    start_keepalived(
        lab.topo, lab.ns["r3"], tmp_path, KA_GLOBAL + bfd_conf("to_r1", "10.0.0.1", "10.0.0.3")
    )
    lab.wait_holder(VIP, "r1", 30)  # the session is Up again: r1 leaves FAULT and preempts

    # an orderly stop: the bfd worker's AdminDown is for the peer, r1 never passes FAULT
    since = len(lab.log("r1"))
    r1_proc = lab.procs["r1"]
    r1_proc.terminate()
    assert r1_proc.wait(timeout=20) == 0
    lab.wait_holder(VIP, "r2", 20)
    assert "FAULT" not in lab.log("r1")[since:]


CHECK_CONF = """
global_defs {
    router_id lb
}
%(bfd)s
virtual_server 10.0.0.200 80 {
    delay_loop 30
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.1.2 8080 {
        BFD_CHECK {
            name rs_bfd
        }
    }
}
"""


def _rs_up(run_dir: Path) -> bool | None:
    try:
        doc = query(str(run_dir / "status.sock"), timeout_s=5.0)
    except (OSError, ValueError):
        return None
    states = doc.get("real_server_states") or []
    return states[0]["up"] if states else None


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.nft
@pytest.mark.keepalived
def test_real_server_follows_its_bfd_check_session(tmp_path: Path) -> None:
    topo = Topology("bc")
    try:
        lb, rs = topo.ns("lb"), topo.ns("rs")
        topo.lan([(lb, "eth1", ["10.0.1.1/24"]), (rs, "eth1", ["10.0.1.2/24"])])
        topo.exec(lb, "ip", "addr", "add", "10.0.0.200/32", "dev", "lo")
        ka_conf = KA_GLOBAL + bfd_conf("to_lb", "10.0.1.1", "10.0.1.2")
        ka = start_keepalived(topo, rs, tmp_path, ka_conf)
        conf = tmp_path / "keepalived.conf"
        conf.write_text(CHECK_CONF % {"bfd": bfd_conf("rs_bfd", "10.0.1.2", "10.0.1.1")})
        run_dir = tmp_path / "run"
        with open(tmp_path / "hadaemon.log", "ab") as log:
            sup = topo.popen(
                lb,
                [sys.executable, "-m", "hadaemon", "-n", "-l", "-D", "-f", str(conf)]
                + ["--run-dir", str(run_dir), "-i", f"t{os.getpid()}"],
                stdout=log,
            )

        def rs_is(up: bool) -> bool:
            assert sup.poll() is None, (tmp_path / "hadaemon.log").read_text()[-3000:]
            return _rs_up(run_dir) is up

        # delay_loop is 30 s: only the BFD events can move the real server in these waits
        wait_for(lambda: rs_is(True), 30, 0.1, "real server up with its BFD session")
        _kill_group(ka)
        wait_for(lambda: rs_is(False), 15, 0.1, "real server down after keepalived died")
        start_keepalived(topo, rs, tmp_path, ka_conf)
        wait_for(lambda: rs_is(True), 30, 0.1, "real server up again")
        sup.terminate()
        assert sup.wait(timeout=15) == 0
    finally:
        topo.close()
