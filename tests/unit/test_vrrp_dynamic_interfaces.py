"""Which instances the VRRP worker starts when an interface is missing (no root needed).

Without ``dynamic_interfaces`` an instance naming a missing interface is not started (kept in
``disabled_instances`` with the reason, the others start); with it, every instance starts and
waits in FAULT (the netns tests in tests/netns/test_dynamic_interfaces.py run that part).
"""

from __future__ import annotations

import logging

import pytest

from hadaemon.config import loads
from hadaemon.io.driver import VrrpService

MISSING = "hd-no-such0"  # not an interface on any test host

CONF = """
global_defs {
    %s
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.200/24
    }
}
vrrp_instance VI_2 {
    interface %s
    virtual_router_id 52
    virtual_ipaddress {
        10.0.2.200/24
    }
}
vrrp_instance VI_3 {
    interface lo
    virtual_router_id 53
    track_interface {
        %s weight 10
    }
    virtual_ipaddress {
        10.0.3.200/24 dev vrrp.53
    }
    use_vmac
}
"""


def _service(global_line: str, missing: str = MISSING) -> VrrpService:
    result = loads(CONF % (global_line, missing, missing), "t.conf", validate=False)
    assert not result.errors, result.errors
    return VrrpService(result.config, no_bpf=True)


def test_missing_interface_disables_only_its_instances(caplog: pytest.LogCaptureFixture) -> None:
    svc = _service("")
    caplog.set_level(logging.ERROR, logger="hadaemon.vrrp")
    started = [vi.name for vi in svc.config.vrrp_instances if svc._startable(vi)]
    # VI_3's VIP on its own VMAC (created by the daemon) does not count as missing
    assert started == ["VI_1"]
    assert svc.disabled == {
        "VI_2": f"interface {MISSING} doesn't exist",
        "VI_3": f"interface {MISSING} (track_interface) doesn't exist",
    }
    assert svc.status()["disabled_instances"] == svc.disabled
    assert f"(VI_2) interface {MISSING} doesn't exist: instance disabled" in caplog.text
    assert "add dynamic_interfaces to global_defs" in caplog.text
    # tried again (a reload): the interface is there now
    svc.config = loads(CONF % ("", "lo", "lo"), "t.conf", validate=False).config
    assert all(svc._startable(vi) for vi in svc.config.vrrp_instances)
    assert svc.disabled == {}


def test_dynamic_interfaces_starts_every_instance() -> None:
    svc = _service("dynamic_interfaces")
    assert all(svc._startable(vi) for vi in svc.config.vrrp_instances)
    assert svc.disabled == {}
