"""Settings hadaemon parses but does not act on are accepted with a located warning that says
what to do instead (docs/compatibility.md ⏸); supported ones stay silent."""

from __future__ import annotations

from hadaemon.config import loads
from hadaemon.config.unsupported import GLOBAL_NOT_ACTED_ON

INSTANCE = """
vrrp_instance VI_1 {
    interface eth1
    virtual_router_id 5
    priority 100
    virtual_ipaddress {
        10.9.9.9/32
    }
}
"""


def _warnings(text: str) -> list[str]:
    res = loads(text, interface_exists=lambda n: n.startswith("eth"))
    assert res.errors == [], [str(d) for d in res.errors]
    return [str(d) for d in res.diagnostics if d.severity == "warning"]


def test_global_settings_not_acted_on_warn_at_their_line() -> None:
    text = "global_defs {\n    router_id r1\n    enable_snmp_vrrp\n    net_namespace blue\n}\n"
    w = _warnings(text + INSTANCE)
    assert any(
        "<string>:3:5: warning: 'enable_snmp_vrrp' is accepted but not acted on" in x for x in w
    ), w
    assert not any("net_namespace" in x for x in w), w  # acted on: the daemon enters it


def test_keywords_not_acted_on_warn_and_supported_ones_do_not() -> None:
    w = _warnings(
        "global_defs {\n    disable_local_igmp\n    vrrp_owner_ignore_adverts\n"
        "    v3_checksum_as_v2\n}\n" + INSTANCE
    )
    assert len(w) == 1 and "'disable_local_igmp' is accepted but not acted on" in w[0], w


def test_every_listed_setting_exists_in_the_model() -> None:
    from hadaemon.config.model import GlobalDefs

    fields = set(GlobalDefs.__dataclass_fields__)
    assert set(GLOBAL_NOT_ACTED_ON) <= fields


def test_instance_defaults_from_global_defs() -> None:
    res = loads(
        "global_defs {\n    vrrp_owner_ignore_adverts\n    v3_checksum_as_v2\n}\n" + INSTANCE,
        interface_exists=lambda n: True,
    )
    inst = res.config.vrrp_instances[0]
    assert inst.owner_ignore_adverts and inst.v3_checksum_as_v2
    plain = loads(INSTANCE, interface_exists=lambda n: True).config.vrrp_instances[0]
    assert not plain.owner_ignore_adverts and not plain.v3_checksum_as_v2
