"""Notify/track script runner, notify FIFO, script security and VIP/route/rule text parsing."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from hadaemon.io.netlink import NetlinkSpecError, RouteSpec, RuleSpec, VipSpec
from hadaemon.io.scripts import (
    NotifyFifo,
    ScriptRunner,
    TrackScript,
    check_script_security,
    instance_line,
)


def test_hanging_script_is_killed_with_its_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = tmp_path / "hang.sh"
    # the script starts a grandchild and ignores SIGTERM: the group must still die
    script.write_text(f"#!/bin/sh\ntrap '' TERM\nsleep 60 & echo $! > {pidfile}\nwait\n")
    script.chmod(0o755)

    async def main() -> tuple[bool, float]:
        runner = ScriptRunner()
        t0 = time.monotonic()
        res = await runner.run([str(script)], timeout_s=0.3)
        return res.timed_out, time.monotonic() - t0

    timed_out, _elapsed = asyncio.run(main())
    assert timed_out
    child = int(pidfile.read_text())
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a zombie of init may linger briefly; check its state
        try:
            if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.02)
    else:
        pytest.fail("grandchild survived the process-group kill")


def test_script_results() -> None:
    async def main() -> list[object]:
        r = ScriptRunner()
        return [
            (await r.run(["true"], timeout_s=5)).ok,
            (await r.run(["false"], timeout_s=5)).ok,
            (await r.run(["/nonexistent/script"], timeout_s=5)).returncode,
        ]

    assert asyncio.run(main()) == [True, False, None]


def test_loop_keeps_running_while_a_script_hangs() -> None:
    """A hanging script must not stall the event loop (adverts keep their timing)."""

    async def main() -> int:
        r = ScriptRunner()
        task = r.spawn(["sleep", "5"], timeout_s=0.5)
        ticks = 0
        while not task.done():
            await asyncio.sleep(0.01)
            ticks += 1
        assert task.result().timed_out
        return ticks

    assert asyncio.run(main()) > 10


def test_notify_fifo_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "fifo")
    fifo = NotifyFifo(path)
    assert fifo.write(instance_line("INSTANCE", "VI_1", "MASTER", 100))
    assert fifo.write(instance_line("GROUP", "G1", "BACKUP", 0))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data = os.read(fd, 4096).decode()
    os.close(fd)
    fifo.close()
    assert data == 'INSTANCE "VI_1" MASTER 100\nGROUP "G1" BACKUP 0\n'


def test_script_security(tmp_path: Path) -> None:
    assert check_script_security(["/bin/true"]) is None
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\n")
    bad.chmod(0o777)
    assert "writable" in (check_script_security([str(bad)]) or "")
    assert "not found" in (check_script_security(["/no/such/script"]) or "")


def test_track_script_rise_fall() -> None:
    changes: list[tuple[str, bool]] = []
    t = TrackScript(
        "chk",
        ["true"],
        runner=ScriptRunner(),
        interval_s=1,
        timeout_s=None,
        rise=2,
        fall=3,
        init_fail=False,
        on_change=lambda n, ok: changes.append((n, ok)),
    )
    assert t.feed(True) is True  # first result decides
    assert [t.feed(False), t.feed(False)] == [None, None]
    assert t.feed(False) is False  # third failure: fall 3
    assert t.feed(True) is None
    assert t.feed(False) is None  # streak reset
    assert [t.feed(True), t.feed(True)] == [None, True]


def test_vip_text() -> None:
    v = VipSpec.parse(
        "192.168.100.100/24 dev eth2 brd 192.168.100.255 scope link label eth2:1", "eth1"
    )
    assert (v.address, v.prefixlen, v.dev, v.broadcast, v.scope, v.label) == (
        "192.168.100.100",
        24,
        "eth2",
        "192.168.100.255",
        253,
        "eth2:1",
    )
    assert VipSpec.parse("10.1.1.1", "eth1").prefixlen == 32
    v6 = VipSpec.parse("fd00::1", "eth1")
    assert (v6.prefixlen, v6.family) == (128, socket.AF_INET6)
    for bad in ("", "10.1.1.1/40", "10.1.1.1 bogus", "nonsense", "10.1.1.1 label"):
        with pytest.raises(NetlinkSpecError):
            VipSpec.parse(bad, "eth1")


def test_route_and_rule_text() -> None:
    r = RouteSpec.parse("src 10.0.0.1 10.9.0.0/16 via 10.0.0.254 dev eth1 table 100 metric 7")
    assert (r.dst, r.gateway, r.dev, r.src, r.table, r.metric) == (
        "10.9.0.0/16",
        "10.0.0.254",
        "eth1",
        "10.0.0.1",
        100,
        7,
    )
    assert RouteSpec.parse("blackhole 10.8.0.0/16").type == 6
    assert RouteSpec.parse("default via 10.0.0.1").dst == "0.0.0.0/0"
    rule = RuleSpec.parse("from 10.0.0.0/24 to 10.1.0.0/16 table 10 priority 100 fwmark 0x10/0xff")
    assert (rule.src, rule.dst, rule.table, rule.priority, rule.fwmark, rule.fwmask) == (
        "10.0.0.0/24",
        "10.1.0.0/16",
        10,
        100,
        16,
        255,
    )
    with pytest.raises(NetlinkSpecError):
        RuleSpec.parse("from nowhere table 1")


def test_track_process_matching() -> None:
    from types import SimpleNamespace

    from hadaemon.io.driver import process_matches

    def tp(*process: str, param_match: str | None = None, full: bool = False) -> object:
        return SimpleNamespace(process=process, param_match=param_match, full_command=full)

    assert process_matches(tp("nginx"), "nginx", ["/usr/sbin/nginx", "-g", "x"])
    assert not process_matches(tp("nginx"), "nginx-debug", ["/usr/sbin/nginx-debug"])
    assert process_matches(tp("sleep", "10"), "sleep", ["sleep", "10"])
    assert not process_matches(tp("sleep", "10"), "sleep", ["sleep", "100"])
    assert process_matches(tp("sleep", "1", param_match="initial"), "sleep", ["sleep", "1", "2"])
    assert process_matches(tp("a", "b c", param_match="partial"), "a", ["a", "x", "b", "c"])
    assert process_matches(tp("/usr/bin/python3", full=True), "python3", ["/usr/bin/python3"])
    assert not process_matches(tp("python3", full=True), "python3", ["/usr/bin/python3"])
    # comm is cut at 15 characters by the kernel
    assert process_matches(tp("a-very-long-daemon-name"), "a-very-long-dae", ["x"])


def test_realtime_to_monotonic() -> None:
    import time as _t

    from hadaemon.io.vrrp_socket import realtime_to_monotonic_ns

    m = realtime_to_monotonic_ns(_t.time_ns())
    assert abs(m - _t.monotonic_ns()) < 1_000_000_000  # same clock, not epoch-offset


@pytest.mark.root
def test_script_runs_as_script_user() -> None:
    import pwd

    uid = pwd.getpwnam("nobody").pw_uid

    async def main() -> list[object]:
        r = ScriptRunner()
        ok = await r.run(
            ["/bin/sh", "-c", f'[ "$(id -u)" -eq {uid} ]'], timeout_s=5, user="nobody"
        )
        root = await r.run(["/bin/sh", "-c", f'[ "$(id -u)" -eq {uid} ]'], timeout_s=5)
        bad = await r.run(["true"], timeout_s=5, user="no-such-user-hd")
        return [ok.ok, root.ok, bad.returncode]

    assert asyncio.run(main()) == [True, False, None]
