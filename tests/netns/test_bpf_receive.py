"""The receive paths on real veths in network namespaces (classic BPF and eBPF).

Topology (one per module, the tests run in order on one xdist worker): namespaces ``a``
(sender, 10.0.0.1), ``b`` (receiver with a module-wide eBPF path, 10.0.0.2), ``c`` (a third
host, 10.0.0.3, the flooder) and ``d`` (10.0.0.4, fresh receivers per test) on one bridge.
Receivers run ``tests/helpers/bpf_receiver.py`` inside their namespace (the eBPF program is
attached from there); packets are crafted by ``tests/helpers/bpf_sender.py`` with exact TTL /
hop limit / VRID. bcc compiles are the slow part, so the eBPF receiver in ``b`` is shared and
counters are compared as deltas.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import Topology, wait_for

pytestmark = pytest.mark.xdist_group("bpf_receive")

HERE = Path(__file__).resolve().parent.parent
RECEIVER = str(HERE / "helpers" / "bpf_receiver.py")
SENDER = str(HERE / "helpers" / "bpf_sender.py")
PY = sys.executable


class Receiver:
    """The receiver helper process in a namespace, one JSON line per command."""

    def __init__(self, topo: Topology, ns: str, *args: str) -> None:
        self.p = topo.popen(
            ns, [PY, RECEIVER, *args], stdin=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.header = self.line()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for text in self.p.stdout:
            self.lines.put(text)
        self.lines.put(None)

    def line(self, timeout_s: float = 60.0) -> dict[str, Any]:
        try:
            text = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError("receiver did not answer") from None
        assert text is not None, f"receiver exited (rc={self.p.poll()})"
        return json.loads(text)

    def cmd(self, c: str) -> dict[str, Any]:
        assert self.p.stdin is not None
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        return self.line()

    def quit(self) -> None:
        assert self.cmd("quit") == {"closed": True}
        self.p.wait(timeout=10)


Lan = tuple[Topology, str, str, str, str]


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    t = Topology("bp")
    try:
        a, b, c, d = t.ns("a"), t.ns("b"), t.ns("c"), t.ns("d")
        t.lan(
            [
                (a, "eth1", ["10.0.0.1/24"]),
                (b, "eth1", ["10.0.0.2/24"]),
                (c, "eth1", ["10.0.0.3/24"]),
                (d, "eth1", ["10.0.0.4/24"]),
            ]
        )
        for n in (a, b, c, d):
            wait_for(lambda n=n: _ll_ready(t, n), 10, what="IPv6 link-local (DAD)")
        yield t, a, b, c, d
    finally:
        t.close()


@pytest.fixture(scope="module")
def ebpf_rx(lan: Lan) -> Iterator[Receiver]:
    """The module's eBPF receiver in ``b`` (XDP), compiled once."""
    t, _a, b, _c, _d = lan
    rx = Receiver(t, b, *BINDS, "--mode", "xdp")
    assert rx.header["ready"] == "ebpf", rx.header
    yield rx
    rx.quit()


def _ll_ready(t: Topology, ns: str) -> bool:
    out = t.exec(ns, "ip", "-6", "addr", "show", "dev", "eth1").stdout
    return "fe80" in out and "tentative" not in out


def send(t: Topology, ns: str, *args: str) -> int:
    out = t.exec(ns, PY, SENDER, "eth1", *args).stdout
    return int(json.loads(out.strip().splitlines()[-1])["sent"])


BINDS = ["--bind", "eth1:4:51,60", "--bind", "eth1:6:52"]
#: family:vrid:ttl:count — v4 {51,52,60} x {255,64}, v6 {52,9} x {255,1}
MATRIX = [f"4:{v}:{ttl}:2" for v in (51, 52, 60) for ttl in (255, 64)] + [
    f"6:{v}:{h}:2" for v in (52, 9) for h in (255, 1)
]
EXPECTED = sorted([(51, 255, 2)] * 2 + [(60, 255, 2)] * 2 + [(52, 255, 10)] * 2)


def _send_matrix(t: Topology, a: str) -> None:
    send(t, a, *(x for spec in MATRIX for x in ("--spec", spec)))


def _read_until(rx: Receiver, n: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += rx.cmd("read")["packets"]
        time.sleep(0.05)
    time.sleep(0.1)
    got += rx.cmd("read")["packets"]
    return got


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _xdp_id(t: Topology, ns: str) -> int:
    info = json.loads(t.exec(ns, "ip", "-j", "-d", "link", "show", "eth1").stdout)[0]
    xdp = info.get("xdp") or {}
    prog = xdp.get("prog") or {}
    return int(prog.get("id", 0))


def _prog_exists(prog_id: int) -> bool:
    return (
        subprocess.run(
            ["bpftool", "prog", "show", "id", str(prog_id)], capture_output=True
        ).returncode
        == 0
    )


def _kill9(rx: Receiver) -> None:
    os.killpg(rx.p.pid, signal.SIGKILL)  # our own process group (start_new_session)
    rx.p.wait(timeout=10)


TC_SHOW = ("tc", "filter", "show", "dev", "eth1", "ingress")


@pytest.mark.netns
def test_classic_path_filters_ttl_and_vrid(lan: Lan) -> None:
    t, a, _b, _c, d = lan
    rx = Receiver(t, d, *BINDS, "--mode", "classic")
    assert rx.header["ready"] == "classic"
    _send_matrix(t, a)
    got = _read_until(rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx.cmd("status")
    # IPv4 TTL/VRID and IPv6 VRID never reach user space (classic filter); IPv6 hop limit 1
    # is dropped in user space from the cmsg
    assert st["counters"] == {"rx": 6, "user_drop_ttl": 2}
    assert st["drops"] == {"ttl": 2}
    # stamps are kernel (SO_TIMESTAMPNS) times on CLOCK_MONOTONIC: before the read, not long ago
    for p in got:
        assert 0 < p["read_ns"] - p["stamp_ns"] < 30e9
    assert st["last_seen"]["eth1:4:51"][0] == max(p["stamp_ns"] for p in got if p["vrid"] == 51)
    rx.quit()


@pytest.mark.netns
@pytest.mark.bpf
def test_ebpf_xdp_drops_in_kernel_and_stamps(lan: Lan, ebpf_rx: Receiver) -> None:
    t, a, b, _c, _d = lan
    assert "xdp_vrrp" in t.exec(b, "ip", "link", "show", "eth1").stdout
    assert "tc_vrrp" not in t.exec(b, *TC_SHOW).stdout
    ebpf_rx.cmd("read")
    st0 = ebpf_rx.cmd("status")
    before, before_drops = st0["counters"], st0["drops"]
    _send_matrix(t, a)
    got = _read_until(ebpf_rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = ebpf_rx.cmd("status")
    c = _delta(st["counters"], before)
    # TTL is checked before the VRID: ttl 64 for 51, 52, 60 and hop limit 1 for 52 and 9
    assert c == {
        "kernel_pass": 6,
        "kernel_drop_ttl": 5 * 2,
        "kernel_drop_vrid": 2 * 2,
        "rx": 6,
        "stamp_ebpf": 6,
    }
    assert st["status"]["hooks"] == {"eth1": "xdp"}
    assert _delta(st["drops"], before_drops) == {"ttl": 10, "vrid": 4}
    # kernel last_seen = the eBPF stamp of the latest packet read
    for key, vrid, fam in (("eth1:4:51", 51, 2), ("eth1:4:60", 60, 2), ("eth1:6:52", 52, 10)):
        stamps = [p["stamp_ns"] for p in got if p["vrid"] == vrid and p["family"] == fam]
        assert st["last_seen"][key][0] == max(stamps)
        assert st["last_seen"][key][1] == 100


@pytest.mark.netns
@pytest.mark.bpf
def test_reload_updates_the_kernel_bitmap(lan: Lan, ebpf_rx: Receiver) -> None:
    t, a, _b, _c, _d = lan
    ebpf_rx.cmd("read")
    before = ebpf_rx.cmd("status")["counters"]
    assert ebpf_rx.cmd("vrids eth1 4 52") == {"ok": True}
    try:
        send(t, a, "--spec", "4:51:255:2", "--spec", "4:52:255:3")
        got = _read_until(ebpf_rx, 3)
        assert [p["vrid"] for p in got] == [52, 52, 52]
        c = _delta(ebpf_rx.cmd("status")["counters"], before)
        assert c["kernel_drop_vrid"] == 2 and c["kernel_pass"] == 3
    finally:
        assert ebpf_rx.cmd("vrids eth1 4 51,60") == {"ok": True}


@pytest.mark.netns
def test_falls_back_to_classic_when_bcc_cannot_load(lan: Lan) -> None:
    t, a, _b, _c, d = lan
    rx = Receiver(t, d, *BINDS, "--mode", "auto", "--no-bcc")
    assert rx.header["ready"] == "classic"
    assert "bcc cannot be imported" in rx.header["ebpf_error"]
    _send_matrix(t, a)
    got = _read_until(rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx.cmd("status")
    assert st["kind"] == "classic" and "bcc cannot be imported" in st["status"]["ebpf_error"]
    assert "xdp" not in t.exec(d, "ip", "link", "show", "eth1").stdout
    rx.quit()


@pytest.mark.netns
@pytest.mark.bpf
def test_switch_to_ebpf_loses_and_duplicates_nothing(lan: Lan) -> None:
    """Adverts numbered 0..N-1 every 10 ms while the path starts classic and upgrades."""
    t, a, _b, _c, d = lan
    rx = Receiver(t, d, "--bind", "eth1:4:51", "--mode", "auto", "--collect", "2")
    assert rx.header == {"collect": 2.0, "kind": "classic"}
    sender = t.popen(
        a,
        [PY, SENDER, "eth1", "--vrid", "51", "--seq", "--interval", "0.01", "--duration", "120"],
        text=True,
    )
    assert rx.line(120)["switched"] == "ebpf"
    time.sleep(0.5)
    sender.send_signal(signal.SIGTERM)  # our own child; it stops and reports what it sent
    sent = json.loads(sender.communicate(timeout=10)[0].strip().splitlines()[-1])["sent"]
    got = rx.line()["collected"]
    ready = rx.line()
    assert ready["ready"] == "ebpf", ready
    nums = [int(x.split(".")[2]) * 256 + int(x.split(".")[3]) for x in (p["addr0"] for p in got)]
    assert sorted(nums) == list(range(sent)), "every advert read exactly once"
    kinds = [p["kind"] for p in got]
    assert kinds[0] == "classic" and kinds[-1] == "ebpf"
    # in arrival order, and stamps never go backwards across the switch
    assert nums == sorted(nums)
    stamps = [p["stamp_ns"] for p in got]
    assert stamps == sorted(stamps)
    c = rx.cmd("status")["counters"]
    assert c["rx"] == sent and c["stamp_ebpf"] > 0
    rx.quit()


@pytest.mark.netns
@pytest.mark.bpf
def test_tc_hook_then_kill9_respawn_replaces_and_term_leaves_nothing(lan: Lan) -> None:
    t, a, _b, _c, d = lan
    # 1. the tc clsact hook filters like XDP does
    rx1 = Receiver(t, d, *BINDS, "--mode", "tc")
    assert rx1.header["ready"] == "ebpf"
    assert "xdp" not in t.exec(d, "ip", "link", "show", "eth1").stdout
    assert "tc_vrrp" in t.exec(d, *TC_SHOW).stdout
    _send_matrix(t, a)
    got = _read_until(rx1, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx1.cmd("status")
    assert st["status"]["hooks"] == {"eth1": "tc"}
    c = st["counters"]
    assert (c["kernel_pass"], c["kernel_drop_ttl"], c["kernel_drop_vrid"]) == (6, 10, 4)
    assert c["stamp_ebpf"] == 6
    # 2. it dies by SIGKILL: its filter stays behind
    _kill9(rx1)
    assert "tc_vrrp" in t.exec(d, *TC_SHOW).stdout
    # 3. the respawn attaches XDP and removes the stale tc filter (and its clsact)
    rx2 = Receiver(t, d, *BINDS, "--mode", "auto")
    assert rx2.header["ready"] == "ebpf"
    first = _xdp_id(t, d)
    assert first and "tc_vrrp" not in t.exec(d, *TC_SHOW).stdout
    assert "clsact" not in t.exec(d, "tc", "qdisc", "show", "dev", "eth1").stdout
    _kill9(rx2)
    assert _xdp_id(t, d) == first  # left behind by the kill
    # 4. the next respawn replaces that XDP program instead of stacking
    rx3 = Receiver(t, d, *BINDS, "--mode", "auto")
    second = _xdp_id(t, d)
    assert second and second != first
    assert not _prog_exists(first), "the replaced program must be freed"
    assert t.exec(d, "ip", "link", "show", "eth1").stdout.count("prog/xdp") == 1
    # 5. a clean stop leaves nothing: no XDP, no tc filter, no qdisc, program freed
    rx3.quit()
    assert _xdp_id(t, d) == 0
    assert t.exec(d, *TC_SHOW).stdout.strip() == ""
    assert "clsact" not in t.exec(d, "tc", "qdisc", "show", "dev", "eth1").stdout
    assert not _prog_exists(second)


@pytest.mark.netns
@pytest.mark.bpf
@pytest.mark.parametrize("flood", ["foreign-vrid", "ttl-64"])
def test_flood_is_dropped_in_kernel_while_adverts_keep_arriving(
    lan: Lan, ebpf_rx: Receiver, flood: str
) -> None:
    """A third host floods proto 112 (bounded, 2 s) while the master advertises every 100 ms."""
    t, a, _b, c, _d = lan
    ebpf_rx.cmd("read")
    before = ebpf_rx.cmd("status")["counters"]
    flood_args = ["--vrid", "99"] if flood == "foreign-vrid" else ["--vrid", "51", "--ttl", "64"]
    master = t.popen(
        a,
        [PY, SENDER, "eth1", "--vrid", "51", "--interval", "0.1", "--duration", "3.0"],
        text=True,
    )
    time.sleep(0.5)
    flooder = t.popen(
        c, [PY, SENDER, "eth1", "--src", "10.0.0.3", "--flood", "2.0", *flood_args], text=True
    )
    got: list[dict[str, Any]] = []
    while master.poll() is None or flooder.poll() is None:
        got += ebpf_rx.cmd("read")["packets"]
        time.sleep(0.1)
    time.sleep(0.2)
    got += ebpf_rx.cmd("read")["packets"]
    adverts = json.loads(master.communicate()[0].strip().splitlines()[-1])["sent"]
    flooded = json.loads(flooder.communicate()[0].strip().splitlines()[-1])["sent"]
    c_ = _delta(ebpf_rx.cmd("status")["counters"], before)
    reason = "kernel_drop_vrid" if flood == "foreign-vrid" else "kernel_drop_ttl"
    assert flooded > 1000
    # what the bridge delivered of the flood is dropped by the hook; none of it reaches the
    # VRRP socket (every packet read is a valid advert from the master)
    assert c_[reason] > 1000, c_
    assert all((p["vrid"], p["ttl"], p["src"]) == (51, 255, "10.0.0.1") for p in got)
    assert not any(k.startswith("user_drop") for k in c_)
    # the master's adverts kept arriving and being stamped in the kernel during the flood
    assert len(got) >= adverts // 2, (len(got), adverts)
    stamps = sorted(p["stamp_ns"] for p in got)
    gaps_s = [(y - x) / 1e9 for x, y in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps_s) < 1.0, gaps_s
    assert c_["stamp_ebpf"] == len(got)
