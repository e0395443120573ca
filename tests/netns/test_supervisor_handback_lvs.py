"""A vrrp worker killed while MASTER must not take the load balancer's services down.

The respawned worker resumes the master (state handback) and passes through BACKUP at start-up;
the supervisor must not forward that to the lvs worker as "VIP not owned", or the nft service
on the VIP would be withdrawn and re-added (connections refused meanwhile). ``nft monitor``
in the namespace records every ruleset change while the worker is killed and respawned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import Topology, wait_for

from hadaemon.supervisor.status_cli import query

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.nft]

CONF = """
global_defs {
    router_id lb
    vrrp_bpf off
}
vrrp_instance VI_1 {
    state MASTER
    interface eth1
    virtual_router_id 51
    priority 150
    advert_int 0.1
    version 3
    virtual_ipaddress {
        10.0.0.200/24
    }
}
virtual_server 10.0.0.200 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.1.2 8080 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
"""


def test_vrrp_worker_kill9_keeps_lvs_services(tmp_path: Path) -> None:
    topo = Topology("hb")
    sup: subprocess.Popen[bytes] | None = None
    mon: subprocess.Popen[str] | None = None
    try:
        lb, rs, cl = topo.ns("lb"), topo.ns("rs"), topo.ns("cl")
        topo.lan([(lb, "eth1", ["10.0.0.1/24"]), (cl, "eth1", ["10.0.0.9/24"])])
        topo.lan([(lb, "eth2", ["10.0.1.1/24"]), (rs, "eth1", ["10.0.1.2/24"])], "back")
        topo.popen(
            rs,
            [sys.executable, "-m", "http.server", "8080", "--bind", "10.0.1.2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conf = tmp_path / "keepalived.conf"
        conf.write_text(CONF)
        run_dir = tmp_path / "run"
        with open(tmp_path / "hadaemon.log", "ab") as log:
            sup = topo.popen(
                lb,
                [sys.executable, "-m", "hadaemon", "-n", "-l", "-f", str(conf)]
                + ["--run-dir", str(run_dir), "-i", f"hb{os.getpid()}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def status() -> dict[str, Any] | None:
            try:
                return query(str(run_dir / "status.sock"))
            except (OSError, ValueError):
                return None

        def serving() -> dict[str, Any] | None:
            d = status()
            if not d or set(d["workers"]) != {"vrrp", "checker", "lvs"}:
                return None
            if any(w["state"] != "RUNNING" for w in d["workers"].values()):
                return None
            lvs = d["services"].get("lvs") or {}
            reals = [r["address"] for s in lvs.get("services") or () for r in s["reals"]]
            master = d.get("vrrp_states", {}).get("VI_1") == "MASTER"
            return d if reals == ["10.0.1.2"] and master else None

        doc = wait_for(serving, 60, 0.1, "master with the service on its VIP")
        old = doc["workers"]["vrrp"]["pid"]
        mon = topo.popen(lb, ["nft", "monitor", "ruleset"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)  # nft monitor is listening
        os.kill(old, signal.SIGKILL)
        wait_for(
            lambda: (d := serving()) and d["workers"]["vrrp"]["pid"] != old,
            30,
            0.1,
            "vrrp worker respawned, still master",
        )
        time.sleep(1.5)  # lvs has applied whatever it was told
        mon.terminate()
        changes, _ = mon.communicate(timeout=10)
        assert changes.strip() == "", f"the nft ruleset changed:\n{changes}"
        log_text = (tmp_path / "hadaemon.log").read_text()
        assert "VI_1" in log_text
    finally:
        if mon is not None and mon.poll() is None:
            mon.kill()
        if sup is not None and sup.poll() is None:
            sup.send_signal(signal.SIGTERM)
            try:
                sup.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sup.kill()
        topo.close()
