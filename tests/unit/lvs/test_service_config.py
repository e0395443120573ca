"""Config model → desired LVS services, and what ``hadaemon -t`` must report (no kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hadaemon.config import loads
from hadaemon.lvs.model import Match, Real
from hadaemon.lvs.service import NullResolver, RsState, check_config, desired_from_config

SEED = Path("/work/shared/examples/seed-master.conf")


class Routes(NullResolver):
    """A resolver from a dict (DR lookups without a kernel)."""

    def route_device(self, address: str) -> str | None:
        return "eth2" if address.startswith("192.168.10.") else None


def cfg(text: str):  # type: ignore[no-untyped-def]
    return loads(text, filename="test.conf").config


VS = """
virtual_server 10.0.0.100 80 {{
    lb_algo {sched}
    lb_kind {kind}
    {extra}
    real_server 192.168.10.1 8080 {{ weight 3 {rs1} }}
    real_server 192.168.10.2 8080 {{ weight 1 }}
}}
"""


def vs_conf(sched: str = "wrr", kind: str = "NAT", extra: str = "", rs1: str = "") -> str:
    return VS.format(sched=sched, kind=kind, extra=extra, rs1=rs1)


@pytest.mark.skipif(not SEED.exists(), reason="seed config not available")
def test_seed_master_maps_to_dr_wrr_with_persistence() -> None:
    config = cfg(SEED.read_text())
    services, problems = desired_from_config(config, resolver=Routes())
    assert not [p for p in problems if p.severity == "error"], problems
    (s,) = services
    assert s.matches == (Match("192.168.100.100", "tcp", 3306),)
    assert (s.method, s.scheduler, s.persistence_timeout_s) == ("DR", "wrr", 60)
    assert s.ingress_devices == ("eth1",)  # from vrrp_instance VI_1's virtual_ipaddress dev
    assert s.reals == (Real("192.168.10.18", 3306, 100, "eth2"),)
    assert not [p for p in check_config(config) if p.severity == "error"]


def test_checker_states_inhibit_and_alpha() -> None:
    config = cfg(vs_conf(rs1="inhibit_on_failure"))
    key = config.virtual_servers[0].key
    (s,), _ = desired_from_config(config)
    assert [r.weight for r in s.reals] == [3, 1]
    down1 = {(key, ("192.168.10.1", 8080)): RsState(up=False)}
    (s,), _ = desired_from_config(config, down1)
    assert [(r.address, r.weight) for r in s.reals] == [("192.168.10.1", 0), ("192.168.10.2", 1)]
    down2 = {(key, ("192.168.10.2", 8080)): RsState(up=False)}
    (s,), _ = desired_from_config(config, down2)
    assert [r.address for r in s.reals] == ["192.168.10.1"]
    dyn = {(key, ("192.168.10.2", 8080)): RsState(up=True, weight=7)}
    (s,), _ = desired_from_config(config, dyn)
    assert [r.weight for r in s.reals] == [3, 7]
    (s,), _ = desired_from_config(cfg(vs_conf(rs1="alpha")))
    assert [r.address for r in s.reals] == ["192.168.10.2"]


def test_quorum_lost_gives_sorry_server() -> None:
    config = cfg(vs_conf(extra="quorum 3\n sorry_server 192.168.10.99 80"))
    key = config.virtual_servers[0].key
    (s,), _ = desired_from_config(config)
    assert not s.sorry and len(s.reals) == 2
    (s,), _ = desired_from_config(config, {(key, ("192.168.10.1", 8080)): RsState(up=False)})
    assert s.sorry and s.reals == (Real("192.168.10.99", 80, 1),)


def test_vip_released_removes_service() -> None:
    config = cfg(vs_conf())
    assert desired_from_config(config, vip_owned={"10.0.0.100": False})[0] == []
    assert len(desired_from_config(config, vip_owned={"10.0.0.100": True})[0]) == 1


@pytest.mark.parametrize(
    ("sched", "native"),
    [
        ("lc", "random"),
        ("wlc", "random"),
        ("sed", "random"),
        ("nq", "random"),
        ("dh", "sh"),
        ("fo", "fo"),
        ("mh", "mh"),
        ("rr", "rr"),
    ],
)
def test_scheduler_mapping_and_warnings(sched: str, native: str) -> None:
    (s,), problems = desired_from_config(cfg(vs_conf(sched=sched)))
    assert s.scheduler == native and s.ipvs_scheduler == sched
    approximated = [p for p in problems if "approximated" in p.message or "failover" in p.message]
    assert bool(approximated) == (sched not in ("mh", "rr", "wrr", "sh"))


def test_check_config_reports_what_nft_cannot_do() -> None:
    msgs = [str(p) for p in check_config(cfg(vs_conf(kind="TUN")))]
    assert any("TUN is not supported" in m and "error" in m for m in msgs), msgs
    assert any("test.conf:" in m for m in msgs)  # located
    v6 = cfg("virtual_server fd00::1 80 { real_server fd00::2 80 { weight 1 } }")
    assert not [p for p in check_config(v6) if p.severity == "error"]  # IPv6 NAT works
    v6_mixed = cfg("virtual_server fd00::1 80 { real_server 10.1.1.1 80 { } }")
    assert any("mixes IPv4 and IPv6" in str(p) for p in check_config(v6_mixed))
    mixed = cfg(vs_conf(kind="DR", rs1="lvs_method NAT"))
    assert any("lvs_method" in p.message and p.severity == "error" for p in check_config(mixed))
    sync = cfg("global_defs { lvs_sync_daemon eth0 VI_1 }\n" + vs_conf())
    assert any(
        "lvs_sync_daemon" in p.message and p.severity == "warning" for p in check_config(sync)
    )
    dr_fwmark = cfg("virtual_server fwmark 5 { lb_kind DR\n real_server 10.1.1.1 80 { } }")
    assert any("fwmark" in p.message and p.severity == "error" for p in check_config(dr_fwmark))
    assert [p for p in check_config(cfg(vs_conf())) if p.severity == "error"] == []


def test_dr_without_known_interface_is_an_error() -> None:
    class Nothing(NullResolver):
        def vip_devices(self, vip: str) -> tuple[str, ...]:
            return ()

    _, problems = desired_from_config(cfg(vs_conf(kind="DR")), resolver=Nothing())
    assert any("receives 10.0.0.100" in p.message for p in problems)


def test_group_ranges_and_fwmarks() -> None:
    config = cfg(
        """
virtual_server_group WEB {
    10.0.0.10-12 80
    10.0.1.0/30 443
    fwmark 7
}
virtual_server group WEB {
    lb_algo rr
    real_server 192.168.10.1 80 { }
}
"""
    )
    (s,), problems = desired_from_config(config)
    assert not [p for p in problems if p.severity == "error"], problems
    addrs = sorted(m.address for m in s.matches if not m.fwmark)
    assert addrs == [
        "10.0.0.10",
        "10.0.0.11",
        "10.0.0.12",
        "10.0.1.0",
        "10.0.1.1",
        "10.0.1.2",
        "10.0.1.3",
    ]
    assert Match(fwmark=7) in s.matches
    assert {m.port for m in s.matches if not m.fwmark} == {80, 443}
