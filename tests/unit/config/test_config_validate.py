"""Semantic validation (issue 3 item 8)."""

from __future__ import annotations

from pathlib import Path

from hadaemon.config import LoadResult, loads
from hadaemon.config.validate import (
    instance_interfaces,
    missing_interfaces,
    sys_interface_exists,
    vmac_names,
)

VIP4 = "virtual_ipaddress {\n 192.0.2.1/24\n}\n"


def load(text: str, exists: bool = True) -> LoadResult:
    return loads(text, "t.conf", "m", interface_exists=lambda n: exists)


def inst(name: str, vrid: int, body: str = "", iface: str = "eth0", vips: str = VIP4) -> str:
    return (
        f"vrrp_instance {name} {{\n interface {iface}\n virtual_router_id {vrid}\n{body}{vips}}}\n"
    )


def errors(r: LoadResult) -> list[str]:
    return [d.message for d in r.errors]


def test_clean_config_has_no_diagnostics() -> None:
    r = load(inst("VI_1", 1) + inst("VI_2", 2))
    assert r.diagnostics == []


def test_duplicate_vrid_same_interface_and_family_only() -> None:
    v6 = "virtual_ipaddress {\n fe80::1/64\n}\n"
    ok = load(inst("A", 1) + inst("B", 1, iface="eth1") + inst("C", 1, vips=v6))
    assert errors(ok) == []
    bad = load(inst("A", 1) + inst("B", 1))
    assert errors(bad) == [
        "(B) virtual_router_id 1 is already used by (A) on interface eth0 for IPv4"
    ]


def test_vip_family_mismatch() -> None:
    r = load(
        inst(
            "A",
            1,
            body="version 3\n",
            vips="virtual_ipaddress {\n 192.0.2.1/24\n 2001:db8::1/64\n}\n",
        )
    )
    assert errors(r) == ["(A) virtual_ipaddress mixes IPv4 and IPv6 (2001:db8::1)"]


def test_interval_ranges() -> None:
    assert errors(load(inst("A", 1, "advert_int 300\n"))) == [
        "(A) VRRPv2 advert_int 300s is outside 1-255 s"
    ]
    assert errors(load(inst("A", 1, "version 3\nadvert_int 0.001\n"))) == [
        "(A) VRRPv3 advert_int 0.001s is outside 0.01-40.95 s"
    ]
    assert errors(load(inst("A", 1, "version 3\nadvert_int 40.95\n"))) == []
    assert errors(load(inst("A", 1, "advert_int 255\n"))) == []


def test_unicast_without_peers_and_peer_family() -> None:
    r = load(inst("A", 1, "unicast_src_ip 192.0.2.5\n"))
    assert len(errors(r)) == 1 and "no unicast_peer" in errors(r)[0]
    r = load(inst("A", 1, "unicast_src_ip 192.0.2.5\nunicast_peer {\n 2001:db8::2\n}\n"))
    assert errors(r) == ["(A) unicast_peer 2001:db8::2 is not IPv4 like the instance's addresses"]


def test_missing_interface_disables_the_instance(tmp_path: Path) -> None:
    """Without dynamic_interfaces a missing interface is an error (``-t`` exit 4) that only
    disables its instance (``disables``: the daemon still runs the others)."""
    r = load(inst("A", 1) + inst("B", 2, iface="eth1"), exists=False)
    assert [(d.message, d.disables, str(d.location)) for d in r.errors] == [
        ("(A) interface eth0 doesn't exist; the instance is not started", "A", "t.conf:2:2"),
        ("(B) interface eth1 doesn't exist; the instance is not started", "B", "t.conf:9:2"),
    ]
    assert r.errors[0].hint is not None and "dynamic_interfaces" in r.errors[0].hint
    assert sys_interface_exists("lo") and not sys_interface_exists("no-such-if0")
    assert not sys_interface_exists("../etc")


def test_every_interface_an_instance_names_is_checked() -> None:
    body = (
        " track_interface {\n  eth7 weight 10\n  eth0\n }\n"
        " virtual_routes {\n  10.1.0.0/16 dev eth6\n }\n"
    )
    vips = "virtual_ipaddress {\n 192.0.2.1/24 dev eth5\n 192.0.2.2/24\n}\n"
    r = loads(inst("A", 1, body, vips=vips), "t.conf", "m", interface_exists=lambda n: n == "eth0")
    assert [(d.message, d.location.line if d.location else 0) for d in r.errors] == [
        ("(A) interface eth7 (track_interface) doesn't exist; the instance is not started", 5),
        (
            "(A) interface eth6 (dev of route 10.1.0.0/16) doesn't exist; the instance is not "
            "started",
            9,
        ),
        (
            "(A) interface eth5 (dev of ip address 192.0.2.1) doesn't exist; the instance is "
            "not started",
            12,
        ),
    ]
    vi = r.config.vrrp_instances[0]
    names = [ref.name for ref in instance_interfaces(vi)]
    assert names == ["eth0", "eth5", "eth6", "eth7"]  # once each
    assert [ref.name for ref in missing_interfaces(vi, lambda n: n != "eth6")] == ["eth6"]
    assert missing_interfaces(vi, lambda n: True) == []


def test_dynamic_interfaces_makes_it_a_warning() -> None:
    text = "global_defs {\n dynamic_interfaces\n}\n" + inst("A", 1)
    r = load(text, exists=False)
    assert r.errors == []
    assert [d.message for d in r.warnings] == [
        "(A) interface eth0 doesn't exist yet; dynamic_interfaces: used once it is created"
    ]
    assert r.config.global_defs.dynamic_interfaces
    r = load("global_defs {\n dynamic_interfaces allow_if_changes\n}\n" + inst("A", 1))
    assert r.config.global_defs.dynamic_interfaces_allow_if_changes and r.diagnostics == []
    r = load("global_defs {\n dynamic_interfaces sometimes\n}\n" + inst("A", 1))
    assert errors(r) == ["unknown dynamic_interfaces option 'sometimes'"]


def test_use_vmac_interfaces_are_not_missing() -> None:
    """The VMAC the daemon creates itself may carry addresses (``dev vrrp.51``)."""
    vips = "virtual_ipaddress {\n 192.0.2.1/24 dev vrrp.1\n 192.0.2.2/24 dev vm2\n}\n"
    text = inst("A", 1, " use_vmac\n", vips=vips) + inst("B", 2, " use_vmac vm2\n")
    r = loads(text, "t.conf", "m", interface_exists=lambda n: n == "eth0")
    assert r.errors == []
    assert vmac_names(r.config) == {"vrrp.1", "vm2"}


def test_undefined_trackers_and_sync_groups() -> None:
    r = load(
        "vrrp_script chk {\n script /bin/true\n}\n"
        + inst("A", 1, "track_script {\n chk\n chk2\n}\ntrack_file {\n f\n}\n")
        + "vrrp_sync_group G {\n group {\n A\n B\n }\n}\n"
        + "vrrp_sync_group H {\n group {\n A\n }\n}\n"
    )
    assert errors(r) == [
        "(A) track_script 'chk2': no vrrp_script with that name",
        "(A) track_file 'f': no track_file with that name",
        "vrrp_sync_group G names unknown vrrp_instance 'B'",
        "vrrp_instance A is in sync groups G and H",
    ]


def test_real_server_port_and_group_references() -> None:
    r = load(
        "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 {\n }\n}\n"
        "virtual_server fwmark 3 {\n real_server 192.0.2.3 {\n }\n}\n"
        "virtual_server group NOPE {\n real_server 192.0.2.4 80 {\n }\n}\n"
    )
    assert errors(r) == [
        "real_server 192.0.2.2 has no port (virtual_server 192.0.2.1:80/TCP)",
        "virtual_server group 'NOPE': no virtual_server_group with that name",
    ]


def test_script_security_warning() -> None:
    r = load(inst("A", 1, "notify_master /bin/x\n"))
    assert r.errors == [] and r.config.has_scripts
    assert any("enable_script_security" in d.message for d in r.warnings)
    r = load("global_defs {\n enable_script_security\n}\n" + inst("A", 1, "notify /bin/x\n"))
    assert r.diagnostics == []


def test_duplicate_names() -> None:
    r = load(inst("A", 1) + inst("A", 2))
    assert errors(r) == ["duplicate vrrp_instance 'A' (first defined at t.conf:1:1)"]


def test_strict_mode_and_source_family_and_quorum() -> None:
    r = load(
        inst("A", 1, "strict_mode\nunicast_src_ip 192.0.2.5\nunicast_peer {\n 192.0.2.6\n}\n")
    )
    assert errors(r) == ["(A) strict mode does not allow unicast peers or authentication"]
    r = load(inst("A", 1, "mcast_src_ip 2001:db8::5\n"))
    assert errors(r) == ["(A) mcast_src_ip 2001:db8::5 is not IPv4 like the instance's addresses"]
    r = load(
        "virtual_server 192.0.2.1 80 {\n quorum 5\n real_server 192.0.2.2 80 {\n weight 2\n }\n}\n"
    )
    assert [d.message for d in r.warnings] == [
        "virtual_server 192.0.2.1:80/TCP quorum 5 is more than the total weight 2 of its real "
        "servers; it can never be up"
    ]


def test_route_tracking_and_fwmark_protocol_warnings() -> None:
    r = load(
        inst(
            "A",
            1,
            "virtual_routes {\n 10.9.0.0/16 gw 192.0.2.254\n"
            " 10.8.0.0/16 via 192.0.2.254 dev eth0\n blackhole 10.7.0.0/16 no_track\n}\n",
        )
        + "virtual_server fwmark 4 {\n protocol UDP\n real_server 192.0.2.9 {\n }\n}\n"
    )
    assert [d.message for d in r.warnings] == [
        "(A) cannot track route 10.9.0.0/16 with no interface specified, not tracking",
        '"gw" for routes is deprecated, use "via"',
        "virtual_server fwmark 4: protocol specified for fwmark - protocol will be ignored",
    ]
    assert r.errors == []
