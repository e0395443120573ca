"""diff(old, new) -> ReloadPlan."""

from __future__ import annotations

from hadaemon.config import loads
from hadaemon.config.diff import diff
from hadaemon.config.model import Config


def cfg(text: str) -> Config:
    r = loads(text, "t.conf", "m", interface_exists=lambda n: True)
    assert r.errors == [], [str(d) for d in r.errors]
    return r.config


def inst(name: str, vrid: int, prio: int = 100, extra: str = "") -> str:
    return (
        f"vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n"
        f" priority {prio}\n{extra} virtual_ipaddress {{\n 192.0.2.{vrid}/24\n }}\n}}\n"
    )


def vs(port: int, rss: list[tuple[str, int]], sched: str = "rr") -> str:
    body = "".join(f" real_server {a} {port} {{\n weight {w}\n }}\n" for a, w in rss)
    return f"virtual_server 192.0.2.100 {port} {{\n lvs_sched {sched}\n{body}}}\n"


SCRIPT = "vrrp_script chk {{\n script /bin/true\n interval {i}\n}}\n"


def test_identical_configs_give_an_empty_plan_even_if_reformatted() -> None:
    a = cfg(inst("A", 1) + vs(80, [("10.0.0.1", 1)]))
    b = cfg("\n\n# moved\n" + inst("A", 1) + "\n" + vs(80, [("10.0.0.1", 1)]))
    plan = diff(a, b)
    assert plan.empty and not plan.vrrp_changed and not plan.lvs_changed


def test_instances_added_removed_changed() -> None:
    old = cfg(inst("A", 1) + inst("B", 2) + inst("C", 3))
    new = cfg(inst("A", 1) + inst("B", 2, prio=50) + inst("D", 4))
    p = diff(old, new)
    assert (p.vrrp_instances.added, p.vrrp_instances.removed, p.vrrp_instances.changed) == (
        ("D",),
        ("C",),
        ("B",),
    )
    assert p.vrrp_changed and not p.lvs_changed and not p.empty


def test_virtual_and_real_servers() -> None:
    old = cfg(vs(80, [("10.0.0.1", 1), ("10.0.0.2", 1)]) + vs(443, [("10.0.0.1", 1)]))
    new = cfg(vs(80, [("10.0.0.1", 5), ("10.0.0.3", 1)]) + vs(8080, [("10.0.0.1", 1)]))
    p = diff(old, new)
    assert p.virtual_servers.to_dict() == {
        "added": ["192.0.2.100:8080/TCP"],
        "removed": ["192.0.2.100:443/TCP"],
        "changed": ["192.0.2.100:80/TCP"],
    }
    rs = p.real_servers["192.0.2.100:80/TCP"]
    assert (rs.added, rs.removed, rs.changed) == (
        ("10.0.0.3:80",),
        ("10.0.0.2:80",),
        ("10.0.0.1:80",),
    )
    assert p.lvs_changed and not p.vrrp_changed


def test_script_change_marks_tracking_instances_affected() -> None:
    track = " track_script {\n chk\n }\n"
    old = cfg(SCRIPT.format(i=1) + inst("A", 1, extra=track) + inst("B", 2))
    new = cfg(SCRIPT.format(i=2) + inst("A", 1, extra=track) + inst("B", 2))
    p = diff(old, new)
    assert p.vrrp_scripts.changed == ("chk",)
    assert p.vrrp_instances.empty and p.affected_vrrp_instances == ("A",)
    assert p.to_dict()["affected_vrrp_instances"] == ["A"]


def test_global_defs_change() -> None:
    p = diff(cfg("global_defs {\n router_id a\n}\n"), cfg("global_defs {\n router_id b\n}\n"))
    assert p.global_defs_changed and not p.empty
