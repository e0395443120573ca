"""VrrpService reload in a namespace: unchanged instances are not touched; timers are HrTimers.

The service runs in-process inside one namespace (a snippet under ``ip netns exec``); a spy on
each router's ``handle`` records the events the driver feeds it. No timing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.vrrp_lab import Lab, hd_config, hd_instance, run_py

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.lab_shape(routers=1, client=False)]


RELOADS = """
import asyncio, json, sys, time
from hadaemon.io.driver import VrrpService
from hadaemon.io.hrtimer import HrTimerHandle

confs = [json.load(open(p)) for p in {paths!r}]


async def until(cond, what):
    end = time.monotonic() + 10
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for " + what)
        await asyncio.sleep(0.02)


async def main():
    svc = VrrpService(confs[0], no_bpf=True)
    await svc.start()
    out = {{}}
    try:
        await until(
            lambda: len(svc.insts) == 2
            and all(i.router.state.value == "MASTER" for i in svc.insts.values())
            and svc.track_scripts["chk"].ok is True,
            "two masters and a passing track script",
        )
        out["uses_timerfd"] = svc._timers.uses_timerfd
        out["hr_handles"] = all(isinstance(i.timer, HrTimerHandle) for i in svc.insts.values())
        events = {{n: [] for n in svc.insts}}
        for n, i in svc.insts.items():
            def spy(event, now, _n=n, _orig=i.router.handle):
                events[_n].append(type(event).__name__)
                return _orig(event, now)
            i.router.handle = spy
        objs = {{n: (i, i.router, i.router.params) for n, i in svc.insts.items()}}

        def same(n):
            i, r, p = objs[n]
            return svc.insts[n] is i and i.router is r and i.router.params is p

        def take():
            got = {{n: list(v) for n, v in events.items()}}
            for v in events.values():
                v.clear()
            return got

        def sent(n):
            return svc.insts[n].router.stats.advert_sent

        ts, sg = svc.track_scripts["chk"], svc.sync_groups.get("G")
        # 1. the same configuration again: nothing is touched
        await svc.apply_config(confs[0])
        out["noop"] = dict(
            events=take(),
            same={{n: same(n) for n in objs}},
            same_track_script=svc.track_scripts["chk"] is ts,
            same_sync_group=svc.sync_groups.get("G") is sg,
        )
        # 2. VI_1's priority changes: only VI_1 is reconfigured; VI_2 keeps advertising
        before = sent("VI_2")
        await svc.apply_config(confs[1])
        await until(lambda: sent("VI_2") > before + 2, "VI_2 adverts after the reload")
        out["prio"] = dict(
            events=take(),
            same={{n: same(n) for n in objs}},
            same_track_script=svc.track_scripts["chk"] is ts,
            priority={{n: i.router.params.priority for n, i in svc.insts.items()}},
            states={{n: i.router.state.value for n, i in svc.insts.items()}},
        )
        # 3. global_defs changes (defaults every instance inherits): both are reconfigured
        await svc.apply_config(confs[2])
        out["global"] = dict(events=take(), same={{n: same(n) for n in objs}})
    finally:
        await svc.stop()
    print(json.dumps(out))


asyncio.run(main())
"""


def test_reload_touches_only_changed_instances(lab: Lab, tmp_path: Path) -> None:
    script = {"name": "chk", "script": {"args": ["/bin/true"]}, "interval": 0.5, "weight": 0}

    def conf(prio1: int, **g: object) -> str:
        return hd_config(
            hd_instance("VI_1", vrid=51, priority=prio1, state="MASTER"),
            hd_instance(
                "VI_2",
                vrid=52,
                priority=150,
                state="MASTER",
                vips=("10.0.0.202/24",),
                track_script=[{"name": "chk"}],
            ),
            vrrp_scripts=[script],
            **g,
        )

    paths = []
    for k, text in enumerate([conf(150), conf(120), conf(120, vrrp_garp_master_repeat=2)]):
        p = tmp_path / f"c{k}.json"
        p.write_text(text)
        paths.append(str(p))
    out = json.loads(
        run_py(lab.topo, lab.ns["r1"], RELOADS.format(paths=paths), timeout_s=60)
        .strip()
        .splitlines()[-1]
    )
    assert out["uses_timerfd"] and out["hr_handles"]
    assert out["noop"] == {
        "events": {"VI_1": [], "VI_2": []},
        "same": {"VI_1": True, "VI_2": True},
        "same_track_script": True,
        "same_sync_group": True,
    }
    prio = out["prio"]
    assert "ConfigChanged" in prio["events"]["VI_1"]
    assert prio["events"]["VI_2"] == []  # not even the track script's verdict again
    assert prio["same_track_script"] is True
    assert prio["same"]["VI_2"] is True and prio["same"]["VI_1"] is False
    assert prio["priority"] == {"VI_1": 120, "VI_2": 150}
    assert prio["states"] == {"VI_1": "MASTER", "VI_2": "MASTER"}
    assert "ConfigChanged" in out["global"]["events"]["VI_1"]
    assert "ConfigChanged" in out["global"]["events"]["VI_2"]
