"""Pure parts of the eBPF loader and of the scheduling helpers (no root, no bcc needed)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from hadaemon.io import bpf, sched


def test_vrid_bits() -> None:
    words = bpf.vrid_bits([1, 63, 64, 255])
    assert words == [(1 << 1) | (1 << 63), 1, 0, 1 << 63]
    with pytest.raises(ValueError, match="VRID 0"):
        bpf.vrid_bits([0])


def test_cflags_knobs() -> None:
    flags = bpf.build_cflags(enforce=False, ringbuf_pages=32)
    assert "-DVRRP_ENFORCE=0" in flags and "-DVRRP_RINGBUF_PAGES=32" in flags
    with pytest.raises(ValueError, match="power of two"):
        bpf.build_cflags(ringbuf_pages=3)


def test_counter_names_match_header() -> None:
    header = (bpf.bpf_dir() / "vrrp_filter.h").read_text()
    body = header.split("enum vrrp_counter {", 1)[1].split("};", 1)[0]
    names = [
        ln.split()[0].rstrip(",").split("=")[0]
        for ln in body.splitlines()
        if ln.strip().startswith("VRRP_CNT_")
    ]
    assert names[-1] == "VRRP_CNT_MAX"
    assert [n.removeprefix("VRRP_CNT_").lower() for n in names[:-1]] == list(bpf.COUNTER_NAMES)


def test_dump_source_cli() -> None:
    """``hadaemon --dump-bpf`` prints cflags, header and program, and needs no bcc."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['bcc'] = None; "
            "from hadaemon.cli import main; sys.exit(main(['--dump-bpf']))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "-DVRRP_ENFORCE=1" in out.stdout
    assert "struct vrrp_seen_key" in out.stdout and "int xdp_vrrp(" in out.stdout


def test_dump_source_missing_dir_is_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setenv("HADAEMON_BPF_DIR", str(tmp_path))
    assert "cannot read the eBPF source" in bpf.dump_source()


def test_filter_without_bcc_raises_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bcc", None)
    with pytest.raises(bpf.BpfUnavailable, match="bcc cannot be imported"):
        bpf.VrrpFilter()


def test_late_timer_monitor(caplog: pytest.LogCaptureFixture) -> None:
    m = sched.LateTimerMonitor(threshold_s=0.1)
    seen: list[float] = []
    m.observe(seen.append)
    with caplog.at_level(logging.WARNING, logger="hadaemon.vrrp.sched"):
        assert m.check(10.0, 10.05) == pytest.approx(0.05)
        assert m.check(10.0, 9.9) == 0.0  # early is not late
        assert m.check(20.0, 22.5) == pytest.approx(2.5)
    assert m.late_count == 1
    assert "A thread timer expired 2.500000 seconds ago" in caplog.text
    assert m.status()["timer_max_lateness_s"] == pytest.approx(2.5)
    assert seen == pytest.approx([0.05, 0.0, 2.5])


def test_rt_priority_out_of_range_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="hadaemon.vrrp.sched"):
        assert sched.set_realtime(0) is False
        assert sched.set_realtime(100) is False
    assert "out of range" in caplog.text


def test_freeze_gc() -> None:
    import gc

    sched.freeze_gc()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_receive_path_without_bindings_reports_empty_status() -> None:
    """A path with no interface yet (before config) is valid, JSON-able and closable twice."""
    import json

    from hadaemon.io.receive import AutoReceivePath

    p = AutoReceivePath(use_bpf=False)
    st = p.status()
    assert st["kind"] == "classic" and st["interfaces"] == [] and st["last_seen"] == []
    assert st["ebpf_error"] == "disabled by configuration"
    assert p.counters() == {} and p.drop_counters() == {} and p.read() == []
    assert p.last_seen(1, 2, 51) is None
    json.dumps(st)
    assert p.upgrade_sync() is False
    p.close()
    p.close()


def test_bad_binding_is_a_clear_error() -> None:
    import socket

    from hadaemon.io.receive import Binding, ClassicReceivePath, ReceivePathError

    with pytest.raises(ReceivePathError, match="VRID 300 out of range"):
        ClassicReceivePath([Binding("lo", socket.AF_INET, frozenset({300}))])
    with pytest.raises(ReceivePathError, match="not found"):
        ClassicReceivePath([Binding("nosuchif0", socket.AF_INET, frozenset({1}))])
    with pytest.raises(ReceivePathError, match="unsupported address family"):
        ClassicReceivePath([Binding("lo", socket.AF_UNIX, frozenset({1}))])


def test_ringbuf_records_match_socket_packets_by_stamp() -> None:
    """Each packet read takes the hook's record whose stamp is just after its socket stamp;
    records of packets read before the switch (older) are discarded, none is used twice."""
    from hadaemon.io import receive

    pe = receive._PendingEvents()
    key = (3, 2, 51, "10.0.0.1")
    ms = 1_000_000
    for t in (100 * ms, 200 * ms, 300 * ms + 20_000, 400 * ms + 15_000):
        pe.add(key, t)
    # the socket stamp (netif_rx) is a few µs before the XDP stamp
    # 100 and 200 ms records are stale (their packets were read before the switch)
    assert pe.match(key, 300 * ms, 400 * ms) == 300 * ms + 20_000
    # used once; the next packet's record (after the next socket stamp) is not taken
    assert pe.match(key, 300 * ms, 400 * ms) is None
    assert pe.match((3, 2, 52, "10.0.0.1"), 400 * ms) is None  # other VRID
    assert pe.match(key, 400 * ms) == 400 * ms + 15_000
    pe.add(key, 500 * ms)
    assert pe.match(key, 100 * ms) is None  # far too early: no record within the window
    pe.prune(500 * ms + receive._EVENT_TTL_NS + 1)
    assert pe.by_key == {}
    for i in range(receive._EVENT_KEYS_MAX + 5):
        pe.add((3, 2, 51, f"10.1.{i >> 8}.{i & 255}"), 1)
    assert len(pe.by_key) <= receive._EVENT_KEYS_MAX


def test_call_at_monitored_reports_lateness() -> None:
    import asyncio

    async def main() -> tuple[list[str], sched.LateTimerMonitor]:
        loop = asyncio.get_running_loop()
        m = sched.LateTimerMonitor(threshold_s=10.0)
        fired: list[str] = []
        when = loop.time() + 0.01
        sched.call_at_monitored(loop, when, fired.append, "x", monitor=m)
        await asyncio.sleep(0.05)
        return fired, m

    fired, m = asyncio.run(main())
    assert fired == ["x"]
    assert m.checks == 1 and m.last_lateness_s >= 0.0


def test_rt_priority_for_default_and_opt_out() -> None:
    assert sched.rt_priority_for(20) == 20  # vrrp_rt_priority wins
    assert sched.rt_priority_for(20, realtime=False) == 20
    assert sched.rt_priority_for(None) == sched.DEFAULT_RT_PRIORITY == 1
    assert sched.rt_priority_for(None, realtime=False) is None  # vrrp_realtime off
