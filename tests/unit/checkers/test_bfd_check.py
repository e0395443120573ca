"""BFD_CHECK: config mapping and the service following BFD session states (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hadaemon.checkers.adapt import CheckerConfigError, from_config
from hadaemon.checkers.service import CheckerService
from hadaemon.config import loads

CONF = """
bfd_instance rs1_bfd {
    neighbor_ip 10.0.0.11
}
virtual_server 192.0.2.1 80 {
    delay_loop 30
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 80 {
        BFD_CHECK {
            name rs1_bfd
        }
    }
}
"""


def _config(text: str = CONF) -> Any:
    return loads(text).config


def test_adapt_maps_bfd_check() -> None:
    (vs,) = from_config(_config()).virtual_servers
    (chk,) = vs.real_servers[0].checkers
    assert chk.kind == "BFD_CHECK" and chk.bfd == "rs1_bfd"
    assert chk.retry == 0 and chk.alpha  # down until the session is reported Up


def test_adapt_refuses_an_unknown_session() -> None:
    cfg = loads(CONF.replace("name rs1_bfd", "name nope"), validate=False).config
    with pytest.raises(CheckerConfigError, match="bfd_instance 'nope' is not defined"):
        from_config(cfg)


def test_service_follows_the_session_at_once() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def rs_up() -> list[bool]:
        return [b["up"] for k, b in events if k == "real_server_state"]

    async def main() -> None:
        svc = CheckerService(_config(), lambda k, b: events.append((k, b)))
        await svc.start()
        await asyncio.sleep(0.05)
        assert rs_up()[-1] is False  # down until the bfd worker says Up
        svc.set_bfd_state("rs1_bfd", True)  # delay_loop is 30 s: only the event can do it
        assert rs_up()[-1] is True
        svc.set_bfd_state("other", False)
        assert rs_up()[-1] is True
        svc.set_bfd_state("rs1_bfd", False)
        assert rs_up()[-1] is False
        st = svc.status()["virtual_servers"][0]["real_servers"][0]
        assert st["checkers"][0]["type"] == "BFD_CHECK"
        assert st["checkers"][0]["last_reason"] == "BFD_CHECK rs1_bfd is down"
        await svc.stop()

    asyncio.run(main())
