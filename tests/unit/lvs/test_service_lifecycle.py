"""LvsService against the memory backend: lifecycle, incremental updates, failed batches."""

from __future__ import annotations

import asyncio
from typing import Any

from hadaemon.config import loads
from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.memory import MemoryBackend
from hadaemon.lvs.reconcile import AddService, DeleteService, EnsureBase, UpdateService
from hadaemon.lvs.service import LvsService, NullResolver

CONF = """
virtual_server 10.0.0.1 80 {
    lb_algo rr
    real_server 10.0.2.11 80 { weight 1 }
    real_server 10.0.2.12 80 { weight 2 inhibit_on_failure }
}
virtual_server 10.0.0.2 53 {
    protocol UDP
    lb_algo sh
    real_server 10.0.2.11 53 { }
}
"""


class FlakyBackend(MemoryBackend):
    """Memory backend whose next batch can be made to fail."""

    fail_next = False

    def apply(self, ops: Any, desired: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise BackendError("Error: Could not process rule: No buffer space available")
        super().apply(ops, desired)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_lifecycle_and_incremental_batches() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    b = FlakyBackend()
    cfg = loads(CONF, filename="t.conf").config
    svc = LvsService(
        cfg,
        lambda k, body: events.append((k, body)),
        backend=b,
        resolver=NullResolver(),
        resync_interval_s=0,
    )

    async def scenario() -> None:
        await svc.start()
        assert [type(o) for o in b.batches[0]] == [EnsureBase, AddService, AddService]
        vs1 = cfg.virtual_servers[0].key
        # checker verdict: one UpdateService for that VS only
        svc.set_real_server_state(vs1, ("10.0.2.12", 80), up=False)
        assert b.batches[-1] == [UpdateService(b.services["10_0_0_1_tcp_80"])]
        assert [r.weight for r in b.services["10_0_0_1_tcp_80"].reals] == [1, 0]  # inhibited
        # nothing changed → no batch
        n = len(b.batches)
        svc.set_real_server_state(vs1, ("10.0.2.12", 80), up=False)
        assert len(b.batches) == n
        # a failed batch is reported and the previous state stays
        before = dict(b.services)
        b.fail_next = True
        svc.set_real_server_state(vs1, ("10.0.2.12", 80), up=True)
        assert b.services == before
        assert events[-1][0] == "lvs_error" and "No buffer space" in events[-1][1]["error"]
        assert svc.status()["last_error"]
        # the next resync completes it
        svc.resync()
        assert [r.weight for r in b.services["10_0_0_1_tcp_80"].reals] == [1, 2]
        assert svc.status()["last_error"] is None
        # VIP released → its service leaves; taken back → returns
        svc.set_vip_owned("10.0.0.2", False)
        assert b.batches[-1] == [DeleteService("10_0_0_2_udp_53")]
        svc.set_vip_owned("10.0.0.2", True)
        assert "10_0_0_2_udp_53" in b.services
        # reload with one VS removed and a weight changed: only the difference
        cfg2 = loads(
            CONF.replace("weight 1", "weight 4").split("virtual_server 10.0.0.2")[0],
            filename="t.conf",
        ).config
        await svc.apply_config(cfg2)
        kinds = sorted(type(o).__name__ for o in b.batches[-1])
        assert kinds == ["DeleteService", "UpdateService"]
        st = svc.status()
        assert st["backend"] == "memory" and len(st["services"]) == 1
        assert st["services"][0]["reals"][0]["weight"] == 4
        await svc.stop()
        assert b.services == {}

    run(scenario())


def test_service_the_backend_cannot_do_is_left_out() -> None:
    class NoUdp(MemoryBackend):
        def check(self, svc: Any) -> list[str]:
            return ["no udp here"] if any(m.protocol == "udp" for m in svc.matches) else []

    b = NoUdp()
    cfg = loads(CONF, filename="t.conf").config
    svc = LvsService(
        cfg, lambda k, body: None, backend=b, resolver=NullResolver(), resync_interval_s=0
    )
    asyncio.run(svc.start())
    assert list(b.services) == ["10_0_0_1_tcp_80"]
    assert any("no udp here" in p for p in svc.status()["problems"])


def test_bad_vip_state_is_ignored_not_raised() -> None:
    b = MemoryBackend()
    svc = LvsService(
        loads(CONF, filename="t.conf").config,
        lambda k, body: None,
        backend=b,
        resolver=NullResolver(),
        resync_interval_s=0,
    )
    asyncio.run(svc.start())
    svc.set_vip_owned("not-an-address", False)
    svc.set_vip_owned("10.0.0.2/32", False)  # prefix forms are accepted
    assert list(b.services) == ["10_0_0_1_tcp_80"]


def test_quorum_hysteresis() -> None:
    conf = """
virtual_server 10.0.0.1 80 {
    quorum 3
    hysteresis 1
    sorry_server 10.0.2.99 80
    real_server 10.0.2.11 80 { weight 2 }
    real_server 10.0.2.12 80 { weight 2 }
}
"""
    b = MemoryBackend()
    cfg = loads(conf, filename="t.conf").config
    svc = LvsService(
        cfg, lambda k, body: None, backend=b, resolver=NullResolver(), resync_interval_s=0
    )
    asyncio.run(svc.start())
    key = cfg.virtual_servers[0].key

    def sorry() -> bool:
        return b.services["10_0_0_1_tcp_80"].sorry

    steps = [
        ("10.0.2.11", False, False),  # live 2 >= 3 - 1: quorum kept
        ("10.0.2.12", False, True),  # live 0: lost → sorry server
        ("10.0.2.11", True, True),  # live 2 < 3 + 1: still lost
        ("10.0.2.12", True, False),
    ]  # live 4 >= 4: regained
    for addr, up, want_sorry in steps:
        svc.set_real_server_state(key, (addr, 80), up=up)
        assert sorry() is want_sorry, (addr, up)
