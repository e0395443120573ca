"""The receive paths on real veths in network namespaces (classic BPF and eBPF).

Topology: namespaces ``a`` (sender, 10.0.0.1), ``b`` (receiver, 10.0.0.2) and ``c`` (a third
host, 10.0.0.3, the flooder) on one bridge. The receiver runs ``tests/helpers/bpf_receiver.py``
in ``b`` (the eBPF program must be attached from inside that namespace); packets are crafted by
``tests/helpers/bpf_sender.py`` with exact TTL / hop limit / VRID.
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


@pytest.fixture()
def topo() -> Iterator[tuple[Topology, str, str, str]]:
    t = Topology("bp")
    try:
        a, b, c = t.ns("a"), t.ns("b"), t.ns("c")
        t.lan(
            [
                (a, "eth1", ["10.0.0.1/24"]),
                (b, "eth1", ["10.0.0.2/24"]),
                (c, "eth1", ["10.0.0.3/24"]),
            ]
        )
        for n in (a, b, c):
            wait_for(lambda n=n: _ll_ready(t, n), 10, what="IPv6 link-local (DAD)")
        yield t, a, b, c
    finally:
        t.close()


def _ll_ready(t: Topology, ns: str) -> bool:
    out = t.exec(ns, "ip", "-6", "addr", "show", "dev", "eth1").stdout
    return "fe80" in out and "tentative" not in out


def send(t: Topology, ns: str, *args: str) -> int:
    out = t.exec(ns, PY, SENDER, "eth1", *args).stdout
    return int(json.loads(out.strip().splitlines()[-1])["sent"])


BINDS = ["--bind", "eth1:4:51,60", "--bind", "eth1:6:52"]


def _send_matrix(t: Topology, a: str) -> None:
    for vrid in (51, 52, 60):
        for ttl in (255, 64):
            send(t, a, "--vrid", str(vrid), "--ttl", str(ttl), "--count", "2")
    for vrid in (52, 9):
        for hlim in (255, 1):
            send(t, a, "--family", "6", "--vrid", str(vrid), "--ttl", str(hlim), "--count", "2")


def _read_until(rx: Receiver, n: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += rx.cmd("read")["packets"]
        time.sleep(0.05)
    time.sleep(0.1)
    got += rx.cmd("read")["packets"]
    return got


EXPECTED = sorted([(51, 255, 2)] * 2 + [(60, 255, 2)] * 2 + [(52, 255, 10)] * 2)


@pytest.mark.netns
def test_classic_path_filters_ttl_and_vrid(topo: tuple[Topology, str, str, str]) -> None:
    t, a, b, _c = topo
    rx = Receiver(t, b, *BINDS, "--mode", "classic")
    assert rx.header["ready"] == "classic"
    _send_matrix(t, a)
    got = _read_until(rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx.cmd("status")
    # IPv4 TTL/VRID and IPv6 VRID never reach user space (classic filter); IPv6 hop limit 1
    # is dropped in user space from the cmsg
    assert st["counters"] == {"rx": 6, "user_drop_ttl": 2}
    # stamps are kernel (SO_TIMESTAMPNS) times on CLOCK_MONOTONIC: before the read, not long ago
    for p in got:
        assert 0 < p["read_ns"] - p["stamp_ns"] < 30e9
    assert st["last_seen"]["eth1:4:51"][0] == max(p["stamp_ns"] for p in got if p["vrid"] == 51)
    rx.quit()


@pytest.mark.netns
@pytest.mark.bpf
@pytest.mark.parametrize("mode", ["xdp", "tc"])
def test_ebpf_path_drops_in_kernel_and_stamps(
    topo: tuple[Topology, str, str, str], mode: str
) -> None:
    t, a, b, _c = topo
    rx = Receiver(t, b, *BINDS, "--mode", mode)
    assert rx.header["ready"] == "ebpf", rx.header
    link = t.exec(b, "ip", "link", "show", "eth1").stdout
    tcf = t.exec(b, "tc", "filter", "show", "dev", "eth1", "ingress").stdout
    if mode == "xdp":
        assert "xdp_vrrp" in link and "tc_vrrp" not in tcf
    else:
        assert "xdp" not in link and "tc_vrrp" in tcf
    _send_matrix(t, a)
    got = _read_until(rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx.cmd("status")
    c = st["counters"]
    assert c["kernel_pass"] == 6
    # TTL is checked before the VRID: ttl 64 for 51, 52, 60 and hop limit 1 for 52 and 9
    assert c["kernel_drop_ttl"] == 5 * 2
    assert c["kernel_drop_vrid"] == 2 * 2  # v4 52 and v6 9 with TTL 255
    assert c["rx"] == 6 and c["stamp_ebpf"] == 6
    assert not any(k.startswith("user_drop") for k in c)
    assert st["status"]["hooks"] == {"eth1": mode}
    # kernel last_seen = the eBPF stamp of the latest packet read
    for key, vrid, fam in (("eth1:4:51", 51, 2), ("eth1:4:60", 60, 2), ("eth1:6:52", 52, 10)):
        stamps = [p["stamp_ns"] for p in got if p["vrid"] == vrid and p["family"] == fam]
        assert st["last_seen"][key][0] == max(stamps)
        assert st["last_seen"][key][1] == 100
    rx.quit()
    assert "xdp" not in t.exec(b, "ip", "link", "show", "eth1").stdout
    assert t.exec(b, "tc", "filter", "show", "dev", "eth1", "ingress").stdout.strip() == ""
    assert "clsact" not in t.exec(b, "tc", "qdisc", "show", "dev", "eth1").stdout


@pytest.mark.netns
def test_falls_back_to_classic_when_bcc_cannot_load(
    topo: tuple[Topology, str, str, str],
) -> None:
    t, a, b, _c = topo
    rx = Receiver(t, b, *BINDS, "--mode", "auto", "--no-bcc")
    assert rx.header["ready"] == "classic"
    assert "bcc cannot be imported" in rx.header["ebpf_error"]
    _send_matrix(t, a)
    got = _read_until(rx, len(EXPECTED))
    assert sorted((p["vrid"], p["ttl"], p["family"]) for p in got) == EXPECTED
    st = rx.cmd("status")
    assert st["kind"] == "classic" and "bcc cannot be imported" in st["status"]["ebpf_error"]
    assert "xdp" not in t.exec(b, "ip", "link", "show", "eth1").stdout
    rx.quit()


@pytest.mark.netns
@pytest.mark.bpf
def test_switch_to_ebpf_loses_and_duplicates_nothing(
    topo: tuple[Topology, str, str, str],
) -> None:
    """Adverts numbered 0..N-1 every 10 ms while the path starts classic and upgrades."""
    t, a, b, _c = topo
    rx = Receiver(t, b, "--bind", "eth1:4:51", "--mode", "auto", "--collect", "2")
    assert rx.header == {"collect": 2.0, "kind": "classic"}
    sender = t.popen(
        a,
        [PY, SENDER, "eth1", "--vrid", "51", "--seq", "--interval", "0.01", "--duration", "60"],
        text=True,
    )
    assert rx.line()["switched"] == "ebpf"
    time.sleep(0.5)
    sender.send_signal(signal.SIGTERM)  # our own child; it stops and reports what it sent
    sent = json.loads(sender.communicate(timeout=10)[0].strip().splitlines()[-1])["sent"]
    got = rx.line()["collected"]
    ready = rx.line()
    assert ready["ready"] == "ebpf", ready
    seqs = [tuple(int(x) for x in p["addr0"].split(".")[2:]) for p in got]
    nums = [hi * 256 + lo for hi, lo in seqs]
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


@pytest.mark.netns
@pytest.mark.bpf
def test_respawn_after_kill9_replaces_and_term_leaves_nothing(
    topo: tuple[Topology, str, str, str],
) -> None:
    t, _a, b, _c = topo
    tc_show = ("tc", "filter", "show", "dev", "eth1", "ingress")
    # 1. a tc-attached instance dies by SIGKILL: its filter stays behind
    rx1 = Receiver(t, b, *BINDS, "--mode", "tc")
    assert rx1.header["ready"] == "ebpf"
    _kill9(rx1)
    assert "tc_vrrp" in t.exec(b, *tc_show).stdout
    # 2. the respawn attaches XDP and removes the stale tc filter (and its clsact)
    rx2 = Receiver(t, b, *BINDS, "--mode", "auto")
    assert rx2.header["ready"] == "ebpf"
    first = _xdp_id(t, b)
    assert first and "tc_vrrp" not in t.exec(b, *tc_show).stdout
    assert "clsact" not in t.exec(b, "tc", "qdisc", "show", "dev", "eth1").stdout
    _kill9(rx2)
    assert _xdp_id(t, b) == first  # left behind by the kill
    # 3. the next respawn replaces that XDP program instead of stacking
    rx3 = Receiver(t, b, *BINDS, "--mode", "auto")
    second = _xdp_id(t, b)
    assert second and second != first
    assert not _prog_exists(first), "the replaced program must be freed"
    assert t.exec(b, "ip", "link", "show", "eth1").stdout.count("prog/xdp") == 1
    # 4. a clean stop leaves nothing: no XDP, no tc filter, no qdisc, program freed
    rx3.quit()
    assert _xdp_id(t, b) == 0
    assert t.exec(b, *tc_show).stdout.strip() == ""
    assert "clsact" not in t.exec(b, "tc", "qdisc", "show", "dev", "eth1").stdout
    assert not _prog_exists(second)


@pytest.mark.netns
@pytest.mark.bpf
@pytest.mark.parametrize("flood", ["foreign-vrid", "ttl-64"])
def test_flood_is_dropped_in_kernel_while_adverts_keep_arriving(
    topo: tuple[Topology, str, str, str], flood: str
) -> None:
    """A third host floods proto 112 (bounded, 2 s) while the master advertises every 100 ms."""
    t, a, b, c = topo
    rx = Receiver(t, b, *BINDS, "--mode", "auto")
    assert rx.header["ready"] == "ebpf"
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
        got += rx.cmd("read")["packets"]
        time.sleep(0.1)
    time.sleep(0.2)
    got += rx.cmd("read")["packets"]
    adverts = json.loads(master.communicate()[0].strip().splitlines()[-1])["sent"]
    flooded = json.loads(flooder.communicate()[0].strip().splitlines()[-1])["sent"]
    c_ = rx.cmd("status")["counters"]
    reason = "kernel_drop_vrid" if flood == "foreign-vrid" else "kernel_drop_ttl"
    assert flooded > 1000
    # what the sender got out and the bridge delivered is dropped by the hook, none of it
    # reaches the VRRP socket (every packet read is a valid advert from the master)
    assert c_[reason] > 1000, c_
    assert all((p["vrid"], p["ttl"], p["src"]) == (51, 255, "10.0.0.1") for p in got)
    assert not any(k.startswith("user_drop") for k in c_)
    # the master's adverts kept arriving and being stamped in kernel during the flood
    assert len(got) >= adverts // 2, (len(got), adverts)
    stamps = sorted(p["stamp_ns"] for p in got)
    gaps_s = [(y - x) / 1e9 for x, y in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps_s) < 1.0, gaps_s
    assert c_["stamp_ebpf"] == len(got)
    rx.quit()
