"""The whole daemon with the real checker and lvs workers (keepalived.conf, nft data path).

checker → supervisor → lvs: a real server that refuses connections is taken out of the nft
service; after kill -9 of the lvs worker the respawned one gets the verdicts again (without
them it would start the server up); kill -9 of the checker: respawned, verdicts kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import Topology, wait_for

from hadaemon.supervisor.status_cli import query

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.nft]

CONF = """
global_defs {
    router_id lb
}
virtual_server 10.0.0.200 80 {
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.1.2 8080 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 10.0.1.2 8081 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
"""


def _reals(doc: dict[str, Any]) -> list[tuple[str, int]] | None:
    lvs = doc["services"].get("lvs") or {}
    services = lvs.get("services")
    if not services:
        return None
    return sorted((r["address"], r["port"]) for s in services for r in s["reals"])


def test_checker_lvs_flow_and_respawn(tmp_path: Path) -> None:
    topo = Topology("sl")
    sup: subprocess.Popen[bytes] | None = None
    try:
        lb, rs = topo.ns("lb"), topo.ns("rs")
        topo.lan([(lb, "eth1", ["10.0.1.1/24"]), (rs, "eth1", ["10.0.1.2/24"])])
        topo.exec(lb, "ip", "addr", "add", "10.0.0.200/32", "dev", "lo")
        topo.popen(
            rs,
            [sys.executable, "-m", "http.server", "8080", "--bind", "10.0.1.2"],
            stdout=subprocess.DEVNULL,
        )
        conf = tmp_path / "keepalived.conf"
        conf.write_text(CONF)
        run_dir = tmp_path / "run"
        log = open(tmp_path / "hadaemon.log", "ab")  # noqa: SIM115
        sup = topo.popen(
            lb,
            [
                sys.executable,
                "-m",
                "hadaemon",
                "-n",
                "-l",
                "-f",
                str(conf),
                "--run-dir",
                str(run_dir),
                "-i",
                f"lb{os.getpid()}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def status() -> dict[str, Any] | None:
            try:
                return query(str(run_dir / "status.sock"))
            except (OSError, ValueError):
                return None

        def settled() -> dict[str, Any] | None:
            d = status()
            if not d or set(d["workers"]) != {"checker", "lvs"}:
                return None
            if any(w["state"] != "RUNNING" for w in d["workers"].values()):
                return None
            states = {r["real_server"]: r["up"] for r in d["real_server_states"]}
            ok = states == {"10.0.1.2:8080": True, "10.0.1.2:8081": False}
            return d if ok and _reals(d) == [("10.0.1.2", 8080)] else None

        doc = wait_for(settled, 30, 0.1, "checker verdicts applied by lvs")
        assert "vrrp" not in doc["workers"]  # no vrrp_instance: no vrrp worker
        assert doc["virtual_servers"]  # the checker's view is in the status
        for name in ("lvs", "checker"):
            old = doc["workers"][name]["pid"]
            os.kill(old, signal.SIGKILL)
            doc = wait_for(
                lambda old=old, name=name: (
                    (d := settled()) and d["workers"][name]["pid"] != old and d
                ),
                30,
                0.1,
                f"{name} respawned with the verdicts",
            )
            assert doc["workers"][name]["restarts"] == 1
        # nft: the table is there, then removed at TERM
        assert "hadaemon" in topo.exec(lb, "nft", "list", "tables").stdout
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=30) == 0
        assert "hadaemon" not in topo.exec(lb, "nft", "list", "tables").stdout
    finally:
        if sup is not None and sup.poll() is None:
            sup.kill()
        topo.close()
        print((tmp_path / "hadaemon.log").read_text(errors="replace")[-4000:])
