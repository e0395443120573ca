"""After a takeover the status socket says how the decision was taken: the failover decision
latency (Master_Down_Timer deadline → decision), timer lateness and the receive path in use."""

from __future__ import annotations

import pytest
from helpers.vrrp_lab import Lab, ka_config

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

VIP = "10.0.0.200"
MASTER = r"\(VI_1\) Entering MASTER STATE"
BACKUP = r"\(VI_1\) Entering BACKUP STATE"


def test_takeover_reports_decision_latency_and_timer_lateness(lab: Lab) -> None:
    lab.start_keepalived("r1", ka_config(priority=150))
    lab.start_hadaemon("r2", ka_config(priority=100), "--no-bpf", cli=True)
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    before = lab.status("r2")
    (inst,) = [i for i in before["instances"] if i["name"] == "VI_1"]
    assert inst["state"] == "BACKUP"
    assert inst["failover_decision_s"] is None  # no takeover yet
    lab.kill9("r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth1", "down")
    lab.wait_log("r2", MASTER)
    after = lab.status("r2")
    (inst,) = [i for i in after["instances"] if i["name"] == "VI_1"]
    assert inst["state"] == "MASTER"
    # the decision is taken at or after the Master_Down_Timer deadline, never before
    assert 0.0 <= inst["failover_decision_s"] < 5.0, inst
    vrrp = after["services"]["vrrp"]
    assert vrrp["receive_path"]["kind"] == "classic"
    assert vrrp["timers"]["timer_checks"] > 0
    assert vrrp["timers"]["timer_max_lateness_s"] >= 0.0
