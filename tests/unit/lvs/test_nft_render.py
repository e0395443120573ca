"""nft text rendering (pure, no kernel): the statements each service shape produces."""

from __future__ import annotations

import re
from dataclasses import replace

from hadaemon.lvs.model import Match, Real, Service, validate_service
from hadaemon.lvs.nft import (
    check_service,
    render_base,
    render_delete,
    render_service,
    scheduler_rule,
)

REALS = (
    Real("10.0.2.11", 80, 3, "eth1"),
    Real("10.0.2.12", 8080, 1, "eth1"),
    Real("10.0.2.13", 80, 0, "eth1"),
)


def svc(**kw: object) -> Service:
    kw.setdefault("reals", REALS)
    return Service("a", (Match("10.0.0.1", "tcp", 80),), **kw)  # type: ignore[arg-type]


def test_nat_schedulers_put_servers_in_the_map() -> None:
    """NAT without persistence: no per-server chains, the servers are the map's data."""
    assert scheduler_rule(svc(scheduler="rr")) == (
        "meta l4proto tcp dnat ip to numgen inc mod 2 map "
        "{ 0 : 10.0.2.11 . 80, 1 : 10.0.2.12 . 8080 }"
    )
    wrr = scheduler_rule(svc(scheduler="wrr"))
    assert wrr is not None and wrr.startswith("meta l4proto tcp dnat ip to numgen inc mod 4 map")
    assert wrr.count("10.0.2.11 . 80") == 2  # 3:1 → slots compressed into ranges
    rnd = scheduler_rule(svc(scheduler="random"))
    assert rnd == (
        "meta l4proto tcp dnat ip to numgen random mod 4 map "
        "{ 0-2 : 10.0.2.11 . 80, 3 : 10.0.2.12 . 8080 }"
    )
    assert "jhash ip saddr mod 4 seed 0x5eed" in (scheduler_rule(svc(scheduler="sh")) or "")
    assert "jhash ip saddr . th sport mod" in (
        scheduler_rule(svc(scheduler="sh", hash_port=True)) or ""
    )
    mh = scheduler_rule(svc(scheduler="mh"))
    assert mh is not None and "jhash ip saddr mod 251 seed 0x5eed map" in mh
    assert "10.0.2.13" not in mh  # weight 0
    assert scheduler_rule(svc(scheduler="fo")) == "meta l4proto tcp dnat ip to 10.0.2.11:80"
    assert scheduler_rule(svc(reals=())) is None
    cmds, owned = render_service(svc(scheduler="wrr"), None, True)
    assert owned.chains == {"vs_a"} and not any("rs_" in c for c in cmds)


def test_persistent_nat_uses_server_chains() -> None:
    rule = scheduler_rule(svc(scheduler="wrr", persistence_timeout_s=30)) or ""
    assert rule.startswith("numgen inc mod 4 vmap") and "goto rs_a__10_0_2_11_80" in rule


def test_dr_never_uses_numgen() -> None:
    for s in ("rr", "wrr", "random", "sh", "mh", "fo"):
        rule = scheduler_rule(svc(scheduler=s, method="DR")) or ""
        assert "numgen" not in rule, (s, rule)
    assert "th sport" in (scheduler_rule(svc(scheduler="wrr", method="DR")) or "")
    assert "th sport" not in (scheduler_rule(svc(scheduler="sh", method="DR")) or "")


def test_service_commands_nat_with_persistence() -> None:
    cmds, owned = render_service(
        svc(persistence_timeout_s=60, persistence_granularity="255.255.255.0"), None, True
    )
    text = "\n".join(cmds)
    assert (
        "add set ip hadaemon p_a__10_0_2_11_80 { type ipv4_addr; flags dynamic,timeout; "
        "timeout 60s; }" in text
    )
    assert "flush set ip hadaemon p_a__10_0_2_13_80" in text  # weight 0: clients re-scheduled
    assert re.search(
        r"add rule ip hadaemon rs_a__10_0_2_12_8080 update @p_a__10_0_2_12_8080 "
        r"\{ ip saddr & 255.255.255.0 \} counter meta l4proto tcp "
        r"dnat to 10.0.2.12:8080 comment \"hd rs [0-9a-f]+\"",
        text,
    )
    assert "ip saddr & 255.255.255.0 @p_a__10_0_2_11_80 goto rs_a__10_0_2_11_80" in text
    assert "@p_a__10_0_2_13_80 goto" not in text  # no persistence to a weight-0 server
    assert "add element ip hadaemon svc { 10.0.0.1 . tcp . 80 : jump vs_a }" in text
    assert owned.keys == {("svc", "10.0.0.1 . tcp . 80")}
    # the last vs rule carries the shape counts used to detect damage
    fp = svc(persistence_timeout_s=60, persistence_granularity="255.255.255.0").fingerprint()
    assert f'comment "hd {fp} 3/3 m=1 r=3"' in text
    # delete removes elements before chains, sets before chains
    d = render_delete(owned)
    assert d[0].startswith("delete element") and d[-1].startswith("delete chain")


def test_weight_change_rewrites_only_the_vs_chain() -> None:
    _, owned = render_service(svc(scheduler="wrr", method="DR"), None, True)
    changed = svc(
        scheduler="wrr", method="DR", reals=(Real("10.0.2.11", 80, 1, "eth1"), *REALS[1:])
    )
    cmds, _ = render_service(changed, owned, False)
    touched = {c.split()[4] for c in cmds if c.startswith(("add rule", "flush chain"))}
    assert touched == {"vs_a"}


def test_weight_change_and_down_in_nat_are_the_smallest_batch() -> None:
    """Direct NAT: a weight change or a server going down is one flush + the vs rules.

    No "add chain" for the existing chain, nothing outside ``vs_a``: libnftables' cost per
    command is small next to its cache fetch, but every extra object is one more kernel message.
    """
    _, owned = render_service(svc(scheduler="wrr"), None, True)
    for changed in (
        svc(scheduler="wrr", reals=(replace(REALS[0], weight=5), *REALS[1:])),
        svc(scheduler="wrr", reals=REALS[1:]),  # 10.0.2.11 down (removed)
    ):
        cmds, new = render_service(changed, owned, False)
        assert [c.split()[:5] for c in cmds] == [
            ["flush", "chain", "ip", "hadaemon", "vs_a"],
            ["add", "rule", "ip", "hadaemon", "vs_a"],
            ["add", "rule", "ip", "hadaemon", "vs_a"],
        ], cmds
        assert new.chains == {"vs_a"} and new.keys == owned.keys
    # a chain missing from the kernel (deleted by hand, so absent from the read-back) is created
    cmds, _ = render_service(svc(scheduler="wrr"), replace(owned, chains=set()), False)
    assert cmds[:2] == ["add chain ip hadaemon vs_a", "flush chain ip hadaemon vs_a"]


def test_dr_service_and_fwmark_nat() -> None:
    cmds, _ = render_service(svc(method="DR"), None, True)
    text = "\n".join(cmds)
    assert 'counter fwd ip to 10.0.2.11 device "eth1"' in text
    assert "netdev hadaemon" in text and "ip hadaemon" not in text
    fw = Service("f", (Match(fwmark=7),), reals=(Real("10.0.2.11", 0, 1),))
    text = "\n".join(render_service(fw, None, True)[0])
    assert "dnat ip to numgen inc mod 1 map { 0 : 10.0.2.11 }" in text  # keeps the port
    assert "add element ip hadaemon fwm { 7 : jump vs_f }" in text


def test_base_and_counters() -> None:
    base = "\n".join(render_base(["eth0"], ["old0"]))
    assert "delete chain netdev hadaemon ing_old0" in base
    assert 'type filter hook ingress device "eth0" priority 0' in base
    assert 'comment "hd base dev=eth0"' in base
    # per-server NAT counters: dynamic sets with per-element counters, no per-server objects
    assert (
        "add set ip hadaemon rsnew { type ipv4_addr . inet_proto . inet_service; "
        "size 65535; flags dynamic; counter; }" in base
    )
    assert (
        "ct state new ct status dnat update @rsnew { ip daddr . meta l4proto . th dport }" in base
    )
    assert "add counter" not in base


def test_check_service() -> None:
    assert check_service(svc()) == []
    assert "TUN" in check_service(svc(method="TUN"))[0]
    v6 = Service("b", (Match("fd00::1", "tcp", 80),), reals=(Real("fd00::2", 80, 1),), family=6)
    assert check_service(v6) == []
    assert check_service(replace(v6, method="DR")) == []
    mixed = replace(v6, reals=(Real("10.0.2.11", 80, 1),))
    assert "mixes IPv4 and IPv6" in check_service(mixed)[0]
    assert "mixes IPv4 and IPv6" in check_service(replace(v6, family=4))[0]


def v6svc(**kw: object) -> Service:
    base: dict[str, object] = dict(
        name="six",
        matches=(Match("fd00:0::1", "tcp", 80),),
        reals=(Real("fd00:2::11", 80, 2), Real("fd00:2::12", 8080, 1)),
        family=6,
    )
    base.update(kw)
    return Service(**base)  # type: ignore[arg-type]


def test_ipv6_nat_render() -> None:
    text = "\n".join(render_service(v6svc(), None, True)[0])
    assert "add chain ip6 hadaemon vs_six" in text and "ip hadaemon" not in text
    assert (
        "meta l4proto tcp dnat ip6 to numgen inc mod 3 map "
        "{ 0 : fd00:2::11 . 80, 1 : fd00:2::12 . 8080, 2 : fd00:2::11 . 80 }" in text
    )
    # the dispatch key is written as nft lists it back (compressed), so read-back matches
    assert "add element ip6 hadaemon svc { fd00::1 . tcp . 80 : jump vs_six }" in text
    text = "\n".join(render_service(v6svc(scheduler="sh", hash_port=True), None, True)[0])
    assert "jhash ip6 saddr . th sport mod 3" in text
    text = "\n".join(render_service(v6svc(scheduler="fo"), None, True)[0])
    assert "meta l4proto tcp dnat ip6 to [fd00:2::11]:80" in text
    # persistence: an ipv6_addr set; the default granularity is the whole address
    text = "\n".join(render_service(v6svc(persistence_timeout_s=60), None, True)[0])
    assert "{ type ipv6_addr; flags dynamic,timeout; timeout 60s; }" in text
    assert "ip6 saddr @p_six__fd00_2_11_80 goto rs_six__fd00_2_11_80" in text
    assert "meta l4proto tcp dnat to [fd00:2::12]:8080" in text
    text = "\n".join(
        render_service(v6svc(persistence_timeout_s=60, persistence_granularity="64"), None, True)[
            0
        ]
    )
    assert "update @p_six__fd00_2_11_80 { ip6 saddr & ffff:ffff:ffff:ffff:: }" in text
    assert validate_service(v6svc(persistence_granularity="129"))
    assert not validate_service(v6svc(persistence_granularity="ffff:ffff::"))
    fw = Service("f6", (Match(fwmark=7),), reals=(Real("fd00:2::11", 0, 1),), family=6)
    text = "\n".join(render_service(fw, None, True)[0])
    assert "dnat ip6 to numgen inc mod 1 map { 0 : fd00:2::11 }" in text
    assert "add element ip6 hadaemon fwm { 7 : jump vs_f6 }" in text


def test_ipv6_dr_render() -> None:
    dr = v6svc(
        method="DR",
        scheduler="wrr",
        reals=(Real("fd00:2::11", 80, 2, "eth1"), Real("fd00:2::12", 80, 1, "eth1")),
    )
    text = "\n".join(render_service(dr, None, True)[0])
    assert "add element netdev hadaemon svc6 { fd00::1 . tcp . 80 : jump vs_six }" in text
    assert "jhash ip6 saddr . th sport mod 3" in text  # stateless: hash the flow
    assert 'counter fwd ip6 to fd00:2::11 device "eth1"' in text


def test_base_has_ipv6_table() -> None:
    base = "\n".join(render_base([], []))
    assert (
        "add map ip6 hadaemon svc { type ipv6_addr . inet_proto . inet_service : verdict; }"
        in base
    )
    assert "add rule ip6 hadaemon prerouting ip6 daddr . meta l4proto . th dport vmap @svc" in base
    assert "update @rsnew { ip6 daddr . meta l4proto . th dport }" in base
    base = "\n".join(render_base(["eth0"], []))
    assert "add map netdev hadaemon svc6 { type ipv6_addr . inet_proto" in base
    assert (
        "add rule netdev hadaemon ing_eth0 ip6 daddr . meta l4proto . th dport vmap @svc6" in base
    )


def test_persistence_off_flushes_kept_server_chains_before_deleting_sets() -> None:
    """A kept DR server chain still uses its persistence set until it is rewritten (EBUSY)."""
    before = svc(method="DR", persistence_timeout_s=60)
    _, owned = render_service(before, None, True)
    cmds, _ = render_service(svc(method="DR"), owned, False)
    delete_set = cmds.index("delete set netdev hadaemon p_a__10_0_2_11_80")
    assert cmds.index("flush chain netdev hadaemon rs_a__10_0_2_11_80") < delete_set
