"""MISC_CHECK with real scripts: exit codes, misc_dynamic weight, timeout kill of the whole
process group, non-executable and insecure scripts (enable_script_security)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.checker_harness import CheckerRun
from helpers.netns import Topology, wait_for

from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    MiscSpec,
    RealServerSpec,
    VirtualServerSpec,
    fmt_service,
)

pytestmark = [pytest.mark.root, pytest.mark.netns]


def misc(
    path: str, *, retry: int = 0, timeout_s: float | None = 10.0, dynamic: bool = False
) -> CheckSpec:
    return CheckSpec(
        kind="MISC_CHECK",
        connect_ip="10.0.0.11",
        connect_port=80,
        retry=retry,
        delay_before_retry_s=0.1,
        delay_loop_s=0.2,
        misc=MiscSpec(misc_path=path, misc_timeout_s=timeout_s, misc_dynamic=dynamic),
    )


def _alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def test_misc_checks(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("")
    pidf, childf = tmp_path / "pid", tmp_path / "child"
    noexec = tmp_path / "noexec.sh"
    noexec.write_text("#!/bin/sh\nexit 0\n")
    insecure = tmp_path / "insecure.sh"
    insecure.write_text("#!/bin/sh\nexit 0\n")
    insecure.chmod(0o777)  # writable by others (keepalived's rule)
    checks = [
        misc(f"/bin/sh -c '[ -f {flag} ]'", retry=1),  # 0
        misc("/bin/sh -c 'exit 12'", dynamic=True),  # 1
        misc(
            f"/bin/sh -c 'echo $$ > {pidf}; sleep 1000 & echo $! > {childf}; wait'", timeout_s=0.3
        ),  # 2
        misc(str(noexec)),  # 3
        misc(str(insecure)),  # 4
        misc("/bin/sh -c 'exit 1'"),  # 5
    ]
    rss = tuple(
        RealServerSpec(ip="10.0.0.11", port=9000 + i, weight=1, checkers=(c,))
        for i, c in enumerate(checks)
    )
    cfg = CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("192.168.100.100", 80),
                ip="192.168.100.100",
                port=80,
                real_servers=rss,
            ),
        ),
        enable_script_security=True,
    )
    topo = Topology("cm")
    try:
        lb = topo.ns("lb")
        run = CheckerRun(topo, lb, cfg, tmp_path)
        try:
            firsts = run.first_attempts(len(checks), 10)
            assert firsts[0]["ok"]
            dyn = firsts[1]
            assert dyn["ok"] and dyn["weight"] == 10
            run.wait(
                lambda: run.rs_states("10.0.0.11", 9001)[-1]["weight"] == 10,
                5,
                "dynamic weight reported",
            )
            assert "timed out" in firsts[2]["reason"]
            assert "not executable" in run.attempts((0, 3, 0))[0]["reason"]
            assert "insecure" in run.attempts((0, 4, 0))[0]["reason"]
            assert "failed (exit status 1)" in run.attempts((0, 5, 0))[0]["reason"]
            for i in (2, 3, 4, 5):
                run.wait(
                    lambda i=i: not run.rs_states("10.0.0.11", 9000 + i)[-1]["up"],
                    5,
                    f"misc {i} down",
                )
            # the hanging script and the sleep it started were both killed at misc_timeout
            script_pid, child_pid = int(pidf.read_text()), int(childf.read_text())
            wait_for(
                lambda: not _alive(script_pid) and not _alive(child_pid),
                5,
                what="hung script and its child gone",
            )

            # the "service" goes away: DOWN on the 2nd failed attempt (retry 1), then back
            flag.unlink()
            run.wait(lambda: not run.rs_states("10.0.0.11", 9000)[-1]["up"], 15, "misc 0 down")
            atts = run.attempts((0, 0, 0))
            last_ok = max(i for i, a in enumerate(atts) if a["ok"])
            assert len(atts) - last_ok - 1 == 2
            flag.write_text("")
            run.wait(lambda: run.rs_states("10.0.0.11", 9000)[-1]["up"], 15, "misc 0 up")
        finally:
            run.stop()
        assert not _alive(int(pidf.read_text()))
        assert os.path.exists(noexec)
    finally:
        topo.close()
