"""``global_defs { net_namespace NAME }``: the whole daemon, started in the ROOT namespace, runs
its VRRP instance inside namespace NAME, as keepalived does.

Safety: the daemon's interface has a random ``hdv…`` name that exists only inside the test's
namespace, so had entering the namespace failed nothing could be configured in the root
namespace; the test also asserts that the root namespace never got the VIP.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest
from helpers.netns import Topology, sh, wait_for
from helpers.vrrp_lab import PYTHON, ROOT, AdvertRecorder

pytestmark = [pytest.mark.root, pytest.mark.netns]

VIP = "10.77.0.200"
MASTER_IP = "10.77.0.1"

CONF = """
global_defs {{
    router_id netns_test
{netns_line}
}}

vrrp_instance VI_1 {{
    state MASTER
    interface {ifname}
    virtual_router_id 77
    priority 150
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""


def _root_addrs() -> str:
    return sh("ip", "-o", "addr").stdout


def _conf(tmp: Path, ifname: str, netns: str | None) -> Path:
    path = tmp / f"hadaemon-{netns or 'root'}.conf"
    line = f"    net_namespace {netns}" if netns else ""
    path.write_text(CONF.format(netns_line=line, ifname=ifname, vip=VIP))
    return path


def _hadaemon(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "hadaemon", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )


def test_daemon_started_in_root_runs_vrrp_inside_net_namespace(tmp_path: Path) -> None:
    topo = Topology("g")
    rec: AdvertRecorder | None = None
    ifname = f"hdv{secrets.token_hex(3)}"  # 9 chars, never present in the root namespace
    try:
        x = topo.ns("x")
        peer = topo.ns("p")
        topo.lan([(x, ifname, [f"{MASTER_IP}/24"]), (peer, "eth1", ["10.77.0.2/24"])])
        assert sh("ip", "link", "show", ifname, check=False).returncode != 0
        assert VIP not in _root_addrs()
        conf = _conf(tmp_path, ifname, x)

        # -t checks the interface inside the namespace: OK here, an error without the line
        t = _hadaemon("-t", "-f", str(conf))
        assert t.returncode == 0, t.stderr
        assert "net_namespace" not in t.stderr  # no "not acted on" warning any more
        t_root = _hadaemon("-t", "-f", str(_conf(tmp_path, ifname, None)))
        assert t_root.returncode == 4 and ifname in t_root.stderr, t_root.stderr

        rec = AdvertRecorder(topo, peer, tmp_path / "adverts.txt")
        run_dir = tmp_path / "run"
        logp = tmp_path / "hadaemon.log"
        with open(logp, "wb") as fh:
            proc = subprocess.Popen(
                [PYTHON, "-m", "hadaemon", "-n", "-l", "-D", "-f", str(conf)]
                + ["--run-dir", str(run_dir)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
                start_new_session=True,
            )
        topo.procs.append(proc)  # killed by topo.close() if the test fails

        def log() -> str:
            return logp.read_text(errors="replace")

        def vip_in_x() -> bool:
            out = topo.exec(x, "ip", "-o", "addr", "show", "dev", ifname).stdout
            return f"inet {VIP}/24" in out

        wait_for(vip_in_x, 60, 0.1, f"{VIP} on {ifname} in {x}:\n{log()}")
        assert re.search(rf"running in network namespace {re.escape(x)}", log()), log()
        # the peer on the segment sees the master's adverts (VRID 77, priority 150)
        wait_for(
            lambda: (
                [r for r in rec.rows() if r[1] == MASTER_IP and r[2] == 77 and r[3] == 150]
                if rec is not None
                else None
            ),
            30,
            0.1,
            "adverts from the namespaced master at the peer",
        )
        # the status socket in --run-dir answers from the root namespace
        st = _hadaemon("status", "--json", "--run-dir", str(run_dir))
        assert st.returncode == 0, st.stderr
        assert '"MASTER"' in st.stdout and "VI_1" in st.stdout, st.stdout
        assert VIP not in _root_addrs()

        # a reload that would move the daemon to another namespace is refused, VIP kept
        conf.write_text(conf.read_text().replace(f"net_namespace {x}", f"net_namespace {peer}"))
        os.killpg(proc.pid, signal.SIGHUP)
        wait_for(
            lambda: re.search(
                r"reload failed, keeping the running configuration: .*:4:5: net_namespace "
                rf"changed from '{re.escape(x)}' to '{re.escape(peer)}'",
                log(),
            ),
            30,
            0.1,
            f"reload refusal in the log:\n{log()}",
        )
        assert vip_in_x() and proc.poll() is None

        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log()
        assert not vip_in_x()
        # a priority-0 advert said goodbye on the segment
        wait_for(
            lambda: (
                [r for r in rec.rows() if r[1] == MASTER_IP and r[3] == 0]
                if rec is not None
                else None
            ),
            10,
            0.1,
            "priority-0 advert at stop",
        )
        assert "Traceback" not in log(), log()
    finally:
        if rec is not None:
            rec.close()
        topo.close()
        # mandatory: nothing of the test ever reached the root namespace
        assert VIP not in _root_addrs()
        assert sh("ip", "link", "show", ifname, check=False).returncode != 0
