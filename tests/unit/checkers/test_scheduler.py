"""The scheduler keeps going when a probe misbehaves (raises, or never returns)."""

from __future__ import annotations

import asyncio

from hadaemon.checkers.decisions import Action, HealthEngine, RealServerState
from hadaemon.checkers.probes import ProbeResult
from hadaemon.checkers.scheduler import CheckScheduler
from hadaemon.checkers.spec import CheckSpec, RealServerSpec, VirtualServerSpec


def spec(port: int) -> CheckSpec:
    return CheckSpec(
        kind="TCP_CHECK",
        connect_ip="192.0.2.10",
        connect_port=port,
        connect_timeout_s=0.01,
        retry=0,
        delay_before_retry_s=0.01,
        delay_loop_s=0.02,
    )


def test_a_raising_probe_is_a_down_and_others_keep_running() -> None:
    vs = VirtualServerSpec(
        key="[192.0.2.1]:tcp:80",
        ip="192.0.2.1",
        port=80,
        real_servers=tuple(
            RealServerSpec(ip="192.0.2.10", port=p, checkers=(spec(p),)) for p in (1, 2)
        ),
    )
    engine = HealthEngine((vs,))
    actions: list[Action] = []
    calls = {1: 0, 2: 0}

    async def probe(s: CheckSpec) -> ProbeResult:
        assert s.connect_port is not None
        calls[s.connect_port] += 1
        if s.connect_port == 1:
            raise RuntimeError("probe bug")
        return ProbeResult(True, "ok")

    async def main() -> None:
        sched = CheckScheduler(engine, actions.extend, probe=probe)
        sched.start()
        await asyncio.sleep(0.3)
        await sched.stop()

    asyncio.run(main())
    assert calls[1] >= 3 and calls[2] >= 3
    down = [a for a in actions if isinstance(a, RealServerState) and a.rs_port == 1]
    assert down[-1].up is False
    assert engine.state((0, 0, 0)).failures == calls[1]


def test_an_attempt_that_never_returns_is_cut_at_the_cap() -> None:
    s = CheckSpec(
        kind="TCP_CHECK",
        connect_ip="192.0.2.10",
        connect_port=1,
        connect_timeout_s=0.05,
        retry=0,
        delay_before_retry_s=0.01,
        delay_loop_s=0.05,
    )
    vs = VirtualServerSpec(
        key="k",
        ip="192.0.2.1",
        port=80,
        real_servers=(RealServerSpec("192.0.2.10", 1, checkers=(s,)),),
    )
    engine = HealthEngine((vs,))
    results: list[ProbeResult] = []

    async def hang(_s: CheckSpec) -> ProbeResult:
        await asyncio.sleep(3600)
        raise AssertionError

    async def main() -> None:
        sched = CheckScheduler(
            engine, lambda a: None, probe=hang, on_attempt=lambda cid, r: results.append(r)
        )
        sched.start()
        await asyncio.sleep(2.0)
        await sched.stop()

    asyncio.run(main())
    assert results and not results[0].ok and "exceeded" in results[0].reason
