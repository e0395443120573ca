"""LVS on nftables, end to end: client → director (hadaemon's nft rules) → real TCP servers.

Topology in tests/helpers/lvs_net.py. The LVS objects (LvsService + NftBackend) run in the
director namespace through tests/helpers/lvs_driver.py; the checker's verdicts are sent to it the
way the supervisor routes them (``set_real_server_state``).

Tolerances: rr and wrr use ``numgen inc`` and are exact (600 connections, 3:2:1 → 300/200/100).
Weighted random is binomial: each server's share must be within ±60 of its expectation (≥ 4.5
standard deviations for n=600). Maglev: of the flows on surviving servers, fewer than 10 % may move
when one of three servers is removed (the table moves ~1 %).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.lvs_net import CLIENT_SRCS, DR_VIP, NAT_VIP, RS, SORRY, LvsLab

from hadaemon.config.model import (
    Config,
    IpAddress,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
    VrrpInstance,
)

pytestmark = [pytest.mark.netns, pytest.mark.nft, pytest.mark.xdist_group("lvs_nft")]

N = 600


@pytest.fixture(scope="module")
def lab() -> Iterator[LvsLab]:
    lab = LvsLab()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def drv(lab: LvsLab) -> Iterator[Any]:
    d = lab.driver()
    try:
        yield d
    finally:
        d("stop")
        d.close()


def vs(
    vip: str = NAT_VIP,
    sched: str = "wrr",
    weights: tuple[int, ...] = (1, 1, 1),
    method: str = "NAT",
    port: int = 80,
    rs_port: int = 8080,
    **kw: Any,
) -> VirtualServer:
    reals = tuple(
        RealServer(address=addr, port=rs_port, weight=w, lvs_method=method)
        for addr, w in zip(RS.values(), weights, strict=False)
    )
    return VirtualServer(
        address=vip, port=port, lvs_sched=sched, lvs_method=method, real_servers=reals, **kw
    )


#: the VRRP instance that carries the DR VIP on the director's eth0
VI_DR = VrrpInstance(
    name="VI_DR",
    interface="eth0",
    virtual_router_id=51,
    virtual_ipaddress=(IpAddress(address=DR_VIP, prefixlen=32),),
)


def conf(*servers: VirtualServer) -> dict[str, Any]:
    return Config(vrrp_instances=(VI_DR,), virtual_servers=servers).to_dict(with_location=False)


def key(v: VirtualServer) -> str:
    return v.key


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sched", "weights", "exact"),
    [
        ("rr", (1, 1, 1), {"rs1": 200, "rs2": 200, "rs3": 200}),
        ("wrr", (3, 2, 1), {"rs1": 300, "rs2": 200, "rs3": 100}),
        ("wlc", (3, 2, 1), None),  # approximated by weighted random, with a warning
    ],
)
def test_distribution_matches_weights(
    lab: LvsLab, drv: Any, sched: str, weights: tuple[int, ...], exact: dict[str, int] | None
) -> None:
    r = drv.ok("start", config=conf(vs(sched=sched, weights=weights)))
    if sched == "wlc":
        assert any("approximated" in p for p in r["problems"])
    res = lab.client_run(NAT_VIP, 80, N)
    assert res["failed"] == 0, res["errors"]
    counts = res["counts"]
    if exact is not None:
        assert counts == exact
    else:
        total = sum(weights)
        for name, w in zip(RS, weights, strict=True):
            assert abs(counts.get(name, 0) - N * w / total) <= 60, counts
    # NAT: the real server saw its own address as destination
    assert set(res["dsts"]) <= set(RS.values())
    # per-server counters read back for status: one new connection = one counted packet
    st = drv.ok("status")["status"]
    reals = {r["address"]: r for r in st["services"][0]["reals"]}
    assert sum(r["conns"] for r in reals.values()) == N
    assert reals[RS["rs1"]]["conns"] == counts["rs1"]
    # packets/bytes of the NAT connections, both directions (forward-hook named counters):
    # at least SYN + ACK in, SYN-ACK + data out, per connection
    for name, r in zip(RS, reals.values(), strict=True):
        assert r["inpkts"] >= 2 * counts[name] and r["outpkts"] >= 2 * counts[name], r
        assert r["bytes"] > r["packets"] * 40, r


def test_sh_keeps_each_client_on_one_server(lab: LvsLab, drv: Any) -> None:
    drv.ok("start", config=conf(vs(sched="sh")))
    res = lab.client_run(NAT_VIP, 80, len(CLIENT_SRCS) * 4, srcs=CLIENT_SRCS)
    assert res["failed"] == 0, res["errors"]
    for src, names in res["by_src"].items():
        assert len(set(names)) == 1, (src, names)
    # the sources spread over every server
    assert len(res["counts"]) == 3, res["counts"]


def test_persistence_keeps_client_and_granularity(lab: LvsLab, drv: Any) -> None:
    drv.ok("start", config=conf(vs(sched="rr", persistence_timeout=60)))
    res = lab.client_run(NAT_VIP, 80, 60, srcs=CLIENT_SRCS[:3])
    assert res["failed"] == 0, res["errors"]
    for src, names in res["by_src"].items():
        assert len(set(names)) == 1, (src, Counter(names))
    # /24 granularity: every source of the client's /24 goes to one server
    drv.ok(
        "config",
        config=conf(
            vs(sched="rr", persistence_timeout=60, persistence_granularity="255.255.255.0")
        ),
    )
    res = lab.client_run(NAT_VIP, 80, 40, srcs=CLIENT_SRCS[10:30])
    assert res["failed"] == 0, res["errors"]
    assert len(res["counts"]) == 1, res["counts"]


def test_maglev_moves_about_one_nth(lab: LvsLab, drv: Any) -> None:
    v = vs(sched="mh")
    drv.ok("start", config=conf(v))
    before = lab.client_run(NAT_VIP, 80, len(CLIENT_SRCS), srcs=CLIENT_SRCS)
    assert before["failed"] == 0
    b = {s: n[0] for s, n in before["by_src"].items()}
    assert len(set(b.values())) == 3, Counter(b.values())
    drv.ok("rs", vs=key(v), rs=[RS["rs3"], 8080], up=False)
    after = lab.client_run(NAT_VIP, 80, len(CLIENT_SRCS), srcs=CLIENT_SRCS)
    assert after["failed"] == 0
    a = {s: n[0] for s, n in after["by_src"].items()}
    assert "rs3" not in a.values()
    survivors = [s for s in b if b[s] != "rs3"]
    moved = [s for s in survivors if a[s] != b[s]]
    assert len(moved) / len(survivors) < 0.10, (moved, len(survivors))


def test_dr_carries_traffic(lab: LvsLab, drv: Any) -> None:
    v = vs(vip=DR_VIP, method="DR", sched="wrr", rs_port=80, weights=(2, 1, 1))
    r = drv.ok("start", config=conf(v))
    assert not [p for p in r["problems"] if "error" in p], r["problems"]
    res = lab.client_run(DR_VIP, 80, 300, srcs=CLIENT_SRCS)
    assert res["failed"] == 0, res["errors"]
    # DR: the real server received the packet still addressed to the VIP (on its lo)
    assert res["dsts"] == [DR_VIP]
    assert set(res["counts"]) == {"rs1", "rs2", "rs3"}
    assert res["counts"]["rs1"] > res["counts"]["rs3"]
    # stateless DR hashes the flow: every packet of a connection took the same path, and the
    # netdev counters saw every client packet (SYN, ACK, data/FIN...), not just the first
    c = drv.ok("status")["status"]["services"][0]["reals"]
    assert sum(x["packets"] for x in c) >= 3 * 300


def test_down_server_gets_no_new_connections(lab: LvsLab, drv: Any) -> None:
    v = vs(sched="rr")
    drv.ok("start", config=conf(v))
    lab.stop_server("rs3")
    try:
        # the checker's verdict, routed by the supervisor
        drv.ok("rs", vs=key(v), rs=[RS["rs3"], 8080], up=False)
        res = lab.client_run(NAT_VIP, 80, 300)
        assert res["failed"] == 0, res["errors"]
        assert res["counts"] == {"rs1": 150, "rs2": 150}
    finally:
        lab.start_server("rs3", lab.rs["rs3"])
    # inhibit_on_failure: the server stays with weight 0, still no new connections
    v2 = vs(sched="rr", inhibit_on_failure=True)
    drv.ok("config", config=conf(v2))
    drv.ok("rs", vs=key(v2), rs=[RS["rs2"], 8080], up=False)
    st = drv.ok("status")["status"]
    weights = {r["address"]: r["weight"] for r in st["services"][0]["reals"]}
    assert weights[RS["rs2"]] == 0
    res = lab.client_run(NAT_VIP, 80, 100)
    assert res["failed"] == 0 and "rs2" not in res["counts"], res


def test_checker_marks_stopped_server_down(lab: LvsLab, drv: Any) -> None:
    """Real CheckerService (TCP_CHECK) → LvsService → nft: a stopped server gets nothing."""
    from helpers.netns import wait_for

    chk = TcpCheck(connect_timeout=0.5, retry=0, delay_before_retry=0.1, delay_loop=0.2)
    reals = tuple(
        RealServer(address=a, port=8080, delay_loop=0.2, checkers=(chk,)) for a in RS.values()
    )
    v = VirtualServer(address=NAT_VIP, port=80, lvs_sched="rr", delay_loop=0.2, real_servers=reals)
    drv.ok("start", config=conf(v), checker=True)

    def rs3_state(up: bool) -> bool:
        evs = drv.ok("events")["events"]
        states = [b["up"] for k, b in evs if k == "real_server_state" and b["rs_ip"] == RS["rs3"]]
        return bool(states) and states[-1] is up

    lab.stop_server("rs3")
    try:
        wait_for(lambda: rs3_state(False), 10, 0.1, "the checker to mark rs3 down")
        res = lab.client_run(NAT_VIP, 80, 200)
        assert res["failed"] == 0, res["errors"]
        assert res["counts"] == {"rs1": 100, "rs2": 100}
    finally:
        lab.start_server("rs3", lab.rs["rs3"])
    wait_for(lambda: rs3_state(True), 10, 0.1, "the checker to mark rs3 up again")
    assert set(lab.client_run(NAT_VIP, 80, 30)["counts"]) == {"rs1", "rs2", "rs3"}


def test_no_failed_requests_while_servers_change(lab: LvsLab, drv: Any, tmp_path: Path) -> None:
    v = vs(sched="wrr", weights=(1, 1))  # rs1, rs2 only
    drv.ok("start", config=conf(v))
    stop = tmp_path / "stop"
    p = lab.client_run(NAT_VIP, 80, 200, srcs=CLIENT_SRCS, until=str(stop), background=True)
    steps = [
        conf(vs(sched="wrr", weights=(1, 1, 1))),  # add rs3
        conf(vs(sched="wrr", weights=(5, 1, 1))),  # reweight
        conf(vs(sched="wrr", weights=(0, 1, 1))),  # weight 0
        conf(vs(sched="wrr", weights=(1, 1))),  # remove rs3
        conf(vs(sched="mh", weights=(1, 1, 3))),  # scheduler change
    ]
    import time

    for c in steps:
        time.sleep(0.15)
        drv.ok("config", config=c)
    time.sleep(0.15)
    stop.touch()
    res = lab.client_result(p)
    assert res["failed"] == 0, res["errors"]
    assert res["total"] >= 200
    assert set(res["counts"]) == {"rs1", "rs2", "rs3"}


def test_quorum_lost_sorry_server_answers(lab: LvsLab, drv: Any) -> None:
    v = vs(sched="rr", quorum=2, sorry_server=SorryServer(address=SORRY, port=80))
    drv.ok("start", config=conf(v))
    assert lab.client_run(NAT_VIP, 80, 30)["counts"] == {"rs1": 10, "rs2": 10, "rs3": 10}
    drv.ok("rs", vs=key(v), rs=[RS["rs1"], 8080], up=False)
    assert set(lab.client_run(NAT_VIP, 80, 20)["counts"]) == {"rs2", "rs3"}
    drv.ok("rs", vs=key(v), rs=[RS["rs2"], 8080], up=False)  # alive weight 1 < quorum 2
    res = lab.client_run(NAT_VIP, 80, 20)
    assert res["counts"] == {"sorry": 20}, res
    assert drv.ok("status")["status"]["services"][0]["sorry"] is True
    drv.ok("rs", vs=key(v), rs=[RS["rs2"], 8080], up=True)
    assert set(lab.client_run(NAT_VIP, 80, 20)["counts"]) == {"rs2", "rs3"}


def test_lifecycle_restore_failed_batch_stop(lab: LvsLab, drv: Any) -> None:
    v = vs(sched="rr")
    drv.ok("start", config=conf(v))
    assert drv.ok("resync")["ops"] == []
    # a rule deleted by hand is restored on the next reconcile
    lab.topo.exec(lab.director, "nft", "flush", "chain", "ip", "hadaemon", "vs_10_77_100_1_tcp_80")
    assert lab.client_run(NAT_VIP, 80, 3, background=False)["counts"] == {}
    assert drv.ok("resync")["ops"] == ["UpdateService"]
    assert lab.client_run(NAT_VIP, 80, 30)["counts"] == {"rs1": 10, "rs2": 10, "rs3": 10}
    # a whole table deleted by hand comes back too
    lab.topo.exec(lab.director, "nft", "delete", "table", "ip", "hadaemon")
    assert "EnsureBase" in drv.ok("resync")["ops"]
    assert lab.client_run(NAT_VIP, 80, 3)["failed"] == 0
    # a failed transaction is reported with nft's error; the previous rules stay
    before = lab.nft_json()
    # (a port nft refuses, in a batch that would also delete the running service)
    r = drv(
        "services",
        services=[
            {
                "name": "x",
                "matches": [[DR_VIP, "tcp", 80, 0]],
                "reals": [[RS["rs1"], 70000, 1, ""]],
            }
        ],
    )
    assert not r["ok"], r
    assert r["type"] == "BackendError" and "out of range" in r["error"], r
    assert lab.nft_json() == before
    assert lab.client_run(NAT_VIP, 80, 3)["failed"] == 0
    # VIP released by VRRP → the service leaves the data path
    drv.ok("vip", vip=NAT_VIP, owned=False)
    tables = [o["table"]["family"] for o in lab.nft_json()["nftables"] if "table" in o]
    assert "ip" in tables
    assert lab.client_run(NAT_VIP, 80, 3)["counts"] == {}
    drv.ok("vip", vip=NAT_VIP, owned=True)
    assert lab.client_run(NAT_VIP, 80, 3)["failed"] == 0
    # stop → tables gone
    drv.ok("stop")
    assert not [o for o in lab.nft_json()["nftables"] if "table" in o]


def test_respawned_worker_adopts_the_table_without_a_gap(lab: LvsLab) -> None:
    """libnftables crashing kills only the LVS worker; the new one finds its rules intact."""
    import os
    import signal

    cfg = conf(vs(sched="wrr", weights=(2, 1, 1)))
    d1 = lab.driver()
    d1.ok("start", config=cfg)
    os.killpg(d1.proc.pid, signal.SIGKILL)  # as if libnftables had segfaulted
    d1.proc.wait(timeout=5)
    # the kernel keeps forwarding while no worker runs
    assert lab.client_run(NAT_VIP, 80, 40)["counts"] == {"rs1": 20, "rs2": 10, "rs3": 10}
    d2 = lab.driver()
    try:
        d2.ok("start", config=cfg)
        assert d2.ok("batch")["batch"] == ""  # nothing to do: no transaction at all
        assert lab.client_run(NAT_VIP, 80, 40)["failed"] == 0
    finally:
        d2("stop")
        d2.close()
