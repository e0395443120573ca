"""``vrrp_bpf off`` in global_defs selects the classic receive path, like ``--no-bpf``."""

from __future__ import annotations

from hadaemon.config import loads
from hadaemon.io.driver import VrrpService

CONF = """
global_defs {
    %s
}
vrrp_instance VI_1 {
    interface eth1
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        10.0.0.200/24
    }
}
"""


def _service(line: str, **kw: bool) -> VrrpService:
    result = loads(CONF % line, "t.conf", validate=False)
    assert not result.errors, result.errors
    return VrrpService(result.config, **kw)


def test_vrrp_bpf_defaults_on() -> None:
    assert loads(CONF % "", "t.conf", validate=False).config.global_defs.vrrp_bpf is True
    assert _service("").no_bpf is False


def test_vrrp_bpf_off_is_no_bpf() -> None:
    assert (
        loads(CONF % "vrrp_bpf off", "t.conf", validate=False).config.global_defs.vrrp_bpf is False
    )
    assert _service("vrrp_bpf off").no_bpf is True
    assert _service("vrrp_bpf on", no_bpf=True).no_bpf is True  # the command line wins
