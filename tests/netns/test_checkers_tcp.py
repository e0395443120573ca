"""TCP_CHECK against real listeners in namespaces: the seed's MySQL check with notify_down,
retry counting, quorum/sorry_server, inhibit_on_failure, lvs_notify_fifo and log wording."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers.checker_harness import CheckerRun, start_server, stop_server
from helpers.netns import Topology

from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    RealServerSpec,
    SorryServerSpec,
    VirtualServerSpec,
    fmt_service,
)

pytestmark = [pytest.mark.root, pytest.mark.netns]

VIP = "192.168.100.100"
VS_KEY = fmt_service(VIP, 3306)
DELAY_LOOP_S = 0.2


def tcp(ip: str, retry: int, port: int = 3306) -> CheckSpec:
    return CheckSpec(
        kind="TCP_CHECK",
        connect_ip=ip,
        connect_port=port,
        connect_timeout_s=0.3,
        retry=retry,
        delay_before_retry_s=0.1,
        delay_loop_s=DELAY_LOOP_S,
    )


@pytest.fixture
def lab():
    topo = Topology("ck")
    try:
        lb, rs1, rs2 = topo.ns("lb"), topo.ns("rs1"), topo.ns("rs2")
        topo.lan(
            [
                (lb, "eth1", ["10.0.0.1/24"]),
                (rs1, "eth1", ["10.0.0.11/24"]),
                (rs2, "eth1", ["10.0.0.12/24"]),
            ]
        )
        yield topo, lb, rs1, rs2
    finally:
        topo.close()


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


SEED_LIKE = """
! the seed tutorial's virtual server (seed-master.conf), with lab addresses and short timers
global_defs {{
   router_id node1
   lvs_notify_fifo {fifo}
}}
virtual_server 192.168.100.100 3306 {{
    delay_loop {delay_loop}
    lb_algo wrr
    lb_kind DR
    persistence_timeout 60
    protocol TCP
    alpha
    real_server 10.0.0.11 3306 {{
        weight 100
        notify_down "{script} mysql down"
        TCP_CHECK {{
            connect_timeout 0.3
            nb_get_retry {retry}
            delay_before_retry 0.1
            connect_port 3306
        }}
    }}
}}
"""


def test_seed_tcp_check_notify_down_retries_and_recovery(lab, tmp_path: Path) -> None:
    topo, lb, rs1, _rs2 = lab
    record = tmp_path / "notify.log"
    script = _script(tmp_path / "mysql.sh", f'echo "$@" >> {record}\n')
    fifo = tmp_path / "lvs.fifo"
    os.mkfifo(fifo)
    fifo_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    retry = 3
    cfg = SEED_LIKE.format(fifo=fifo, delay_loop=DELAY_LOOP_S, script=script, retry=retry)
    server = start_server(topo, rs1, "tcp", "10.0.0.11", "3306")
    run = CheckerRun(topo, lb, cfg, tmp_path)
    try:
        cid = (0, 0, 0)
        # alpha: starts down; the first successful attempt brings it up
        run.wait(lambda: any(s["up"] for s in run.rs_states("10.0.0.11")), 15, "RS up")
        first_up = next(i for i, a in enumerate(run.attempts(cid)) if a["ok"])
        assert first_up == 0, "UP must come from the very first attempt (within one delay_loop)"
        ups = [s for s in run.rs_states("10.0.0.11") if s["up"]]
        assert ups[0]["present"] and ups[0]["weight"] == 100 and ups[0]["vs"] == VS_KEY
        assert ups[0]["vs_key"] == "192.168.100.100:3306/TCP"

        stop_server(server)
        run.wait(lambda: not run.rs_states("10.0.0.11")[-1]["up"], 20, "RS down")
        atts = run.attempts(cid)
        n_before_down = len(atts)
        last_ok = max(i for i, a in enumerate(atts) if a["ok"])
        failed = atts[last_ok + 1 :]
        assert len(failed) == retry + 1, "DOWN exactly on attempt retry+1"
        assert all(not a["ok"] for a in failed)
        assert run.rs_states("10.0.0.11")[-1] | {"reason": ""} == run.rs_states("10.0.0.11")[
            -1
        ] | {"reason": "", "up": False, "present": False, "weight": 0}
        run.wait(lambda: record.exists() and record.read_text(), 15, "notify_down ran")
        logs = run.logs()
        assert "TCP connection to [10.0.0.11]:tcp:3306 failed." in logs
        assert f"TCP_CHECK on service [10.0.0.11]:tcp:3306 failed after {retry} retries." in logs
        assert f"Removing service [10.0.0.11]:tcp:3306 from VS {VS_KEY}" in logs
        # stays down without flapping while the server is gone: more attempts, same verdict
        run.wait(lambda: len(run.attempts(cid)) >= n_before_down + 2, 15, "more attempts")
        assert record.read_text() == "mysql down\n", "notify_down ran exactly once with its args"

        server = start_server(topo, rs1, "tcp", "10.0.0.11", "3306")
        run.wait(lambda: run.rs_states("10.0.0.11")[-1]["up"], 15, "RS back up")
        assert f"Adding service [10.0.0.11]:tcp:3306 to VS {VS_KEY}" in run.logs()
        fifo_text = os.read(fifo_fd, 65536).decode()
        assert fifo_text.splitlines() == [
            f"RS [10.0.0.11]:tcp:3306 {VS_KEY} UP",
            f"VS {VS_KEY} UP",
            f"RS [10.0.0.11]:tcp:3306 {VS_KEY} DOWN",
            f"VS {VS_KEY} DOWN",
            f"RS [10.0.0.11]:tcp:3306 {VS_KEY} UP",
            f"VS {VS_KEY} UP",
        ]
        assert record.read_text() == "mysql down\n"
    finally:
        run.stop()
        os.close(fifo_fd)
        stop_server(server)


def test_quorum_loss_sorry_server_and_inhibit_on_failure(lab, tmp_path: Path) -> None:
    topo, lb, rs1, rs2 = lab
    qlog = tmp_path / "quorum.log"
    qscript = _script(tmp_path / "q.sh", f'echo "$@" >> {qlog}\n')
    cfg = CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=VS_KEY,
                ip=VIP,
                port=3306,
                quorum=2,
                sorry_server=SorryServerSpec("10.0.0.99", 3306),
                quorum_up=(str(qscript), "up"),
                quorum_down=(str(qscript), "down"),
                real_servers=(
                    RealServerSpec(
                        ip="10.0.0.11",
                        port=3306,
                        weight=1,
                        inhibit_on_failure=True,
                        checkers=(tcp("10.0.0.11", 0),),
                    ),
                    RealServerSpec(
                        ip="10.0.0.12", port=3306, weight=1, checkers=(tcp("10.0.0.12", 0),)
                    ),
                ),
            ),
        )
    )
    s1 = start_server(topo, rs1, "tcp", "10.0.0.11", "3306")
    s2 = start_server(topo, rs2, "tcp", "10.0.0.12", "3306")
    run = CheckerRun(topo, lb, cfg, tmp_path)
    try:
        run.wait(
            lambda: len(run.attempts((0, 0, 0))) >= 1 and len(run.attempts((0, 1, 0))) >= 1,
            5,
            "first attempts",
        )
        assert run.find("quorum_state")[0]["body"]["up"] is True
        stop_server(s1)
        run.wait(lambda: run.find("sorry_server_state", active=True), 20, "sorry server on")
        q = run.find("quorum_state")[-1]["body"]
        assert q == {
            "vs": VS_KEY,
            "vs_key": None,
            "up": False,
            "live_weight": 1,
            "quorum": 2,
            "hysteresis": 0,
        }
        inhibited = run.rs_states("10.0.0.11")[-1]
        assert (inhibited["up"], inhibited["present"], inhibited["weight"]) == (False, True, 0)
        other = run.rs_states("10.0.0.12")[-1]
        assert other["up"] and not other["present"], "alive RS leaves the pool for the sorry one"
        run.wait(lambda: qlog.exists() and qlog.read_text() == "down\n", 15, "quorum_down ran")

        s1 = start_server(topo, rs1, "tcp", "10.0.0.11", "3306")
        run.wait(
            lambda: not run.find("sorry_server_state")[-1]["body"]["active"],
            10,
            "sorry server off",
        )
        assert run.rs_states("10.0.0.11")[-1]["weight"] == 1
        assert run.rs_states("10.0.0.12")[-1]["present"] is True
        run.wait(lambda: qlog.read_text() == "down\nup\n", 15, "quorum_up ran")
    finally:
        run.stop()
        stop_server(s1)
        stop_server(s2)


def test_unreachable_reset_and_silent_servers_are_clean_downs(lab, tmp_path: Path) -> None:
    topo, lb, rs1, _rs2 = lab
    good = start_server(topo, rs1, "tcp", "10.0.0.11", "3306")
    hang = start_server(topo, rs1, "hang", "10.0.0.11", "3307")
    rss = (
        RealServerSpec(ip="10.0.0.11", port=3306, checkers=(tcp("10.0.0.11", 0),)),
        # no host at .250: connect times out (ARP never resolves)
        RealServerSpec(ip="10.0.0.250", port=3306, checkers=(tcp("10.0.0.250", 0),)),
        # nothing listens on 3399: RST
        RealServerSpec(ip="10.0.0.11", port=3399, checkers=(tcp("10.0.0.11", 0, 3399),)),
        # no route from the lb namespace at all
        RealServerSpec(ip="172.31.255.1", port=80, checkers=(tcp("172.31.255.1", 0, 80),)),
    )
    cfg = CheckerConfig(
        virtual_servers=(VirtualServerSpec(key=VS_KEY, ip=VIP, port=3306, real_servers=rss),)
    )
    run = CheckerRun(topo, lb, cfg, tmp_path)
    try:
        for ip, port in (("10.0.0.250", 3306), ("10.0.0.11", 3399), ("172.31.255.1", 80)):
            run.wait(
                lambda ip=ip, port=port: any(not s["up"] for s in run.rs_states(ip, port)),
                10,
                f"{ip}:{port} down",
            )
        n = len(run.attempts((0, 0, 0)))
        run.wait(lambda: len(run.attempts((0, 0, 0))) >= n + 3, 15, "good checker keeps going")
        assert all(a["ok"] for a in run.attempts((0, 0, 0)))
        assert all(s["up"] for s in run.rs_states("10.0.0.11", 3306))
        assert "TCP connection to [10.0.0.250]:tcp:3306 timeout." in run.logs()
        assert "TCP connection to [10.0.0.11]:tcp:3399 failed." in run.logs()
    finally:
        run.stop()
        stop_server(good)
        stop_server(hang)
