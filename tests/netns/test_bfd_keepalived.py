"""hadaemon's BFD against keepalived 2.2.7's BFD process, in a pair of network namespaces.

keepalived runs with a config holding only a ``bfd_instance``; hadaemon runs as the whole
daemon (supervisor + ``bfd`` worker). Assertions are on protocol state (sessions Up/Down, the
diagnostic), never on how fast something happened; the waits are generous.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.bfd_lab import BfdLab, bfd_conf
from helpers.netns import wait_for

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

KA_GLOBAL = "global_defs {\n    router_id ka\n}\n"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[BfdLab]:
    lab = BfdLab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


def test_session_with_keepalived_up_down_up(lab: BfdLab) -> None:
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_hadaemon("a", bfd_conf("peer1", b, a))
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("peer1", a, b))
    up = lab.wait_session("peer1", "Up", 20)
    lab.wait_log("ka", r"\(peer1\) Entering Up state", 10)
    # the three-way handshake and both poll sequences are over: fast timers on both sides
    lab.wait_session("peer1", "Up", 10)
    s = lab.session("peer1")
    assert s is not None
    assert s["remote_state"] == "Up"
    assert s["remote_discriminator"] == up["remote_discriminator"] != 0
    assert s["detection_time_us"] == 300_000
    assert s["remote_desired_min_tx_us"] == 100_000
    assert s["stats"]["drops"] == {}
    # the worker is a process of its own, named as keepalived names its BFD child
    doc = lab.status()
    assert doc is not None
    pid = doc["workers"]["bfd"]["pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().startswith(b"hadaemon: bfd")

    # keepalived dies: hadaemon's session goes Down on the Detection Time
    lab.kill("ka")
    down = lab.wait_session("peer1", "Down", 10)
    assert down["local_diag"] == "time_expired"
    assert down["stats"]["down_transitions"] == 1
    assert "BFD_Instance(peer1) Entering DOWN state" in lab.log("hd")

    # keepalived comes back: Up again on both sides
    since = len(lab.log("ka"))
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("peer1", a, b))
    again = lab.wait_session("peer1", "Up", 20)
    assert again["stats"]["up_transitions"] == 2
    lab.wait_log("ka", r"\(peer1\) Entering Up state", 10, since=since)

    # hadaemon stops in order: it says AdminDown and keepalived leaves Up at once
    since = len(lab.log("ka"))
    hd = lab.procs["hd"]
    hd.terminate()
    assert hd.wait(timeout=15) == 0
    lab.wait_log("ka", r"\(peer1\) Entering Down state", 10, since=since)


def test_passive_hadaemon_waits_for_keepalived(lab: BfdLab) -> None:
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_hadaemon("a", bfd_conf("p", b, a, "    passive\n"))
    lab.wait_session("p", "Down", 20)
    s = lab.session("p")
    assert s is not None and s["stats"]["tx_packets"] == 0  # passive: silent alone
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("p", a, b))
    lab.wait_session("p", "Up", 20)
    lab.wait_log("ka", r"\(p\) Entering Up state", 10)


def test_reload_new_timers_then_removal_says_admin_down(lab: BfdLab) -> None:
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_hadaemon("a", bfd_conf("peer1", b, a))
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("peer1", a, b))
    lab.wait_session("peer1", "Up", 20)
    hd = lab.procs["hd"]
    conf = lab.tmp / "hd.conf"

    # slower transmission, same neighbor: a Poll Sequence, the session stays Up
    conf.write_text(bfd_conf("peer1", b, a).replace("min_tx 100", "min_tx 200"))
    hd.send_signal(signal.SIGHUP)

    def polled() -> dict[str, Any] | None:
        s = lab.session("peer1")
        ok = s and s["desired_min_tx_us"] == 200_000 and not s["poll_active"]
        return s if ok else None

    s = wait_for(polled, 15, 0.1, "new min_tx in effect")
    assert s["state"] == "Up" and s["stats"]["down_transitions"] == 0
    assert s["tx_interval_us"] == 200_000
    assert s["stats"]["polls_sent"] >= 2  # the first Up, then this change

    # peer1 goes (another session stays, so the worker applies the reload itself): it says
    # AdminDown and keepalived leaves Up at once
    since = len(lab.log("ka"))
    other = b.rsplit(".", 1)[0] + ".77"  # nobody there
    conf.write_text(bfd_conf("other", other, a))
    hd.send_signal(signal.SIGHUP)
    lab.wait_log("ka", r"\(peer1\) Entering Down state", 10, since=since)

    def sessions() -> list[str] | None:
        doc = lab.status() or {}
        svc = doc.get("services", {}).get("bfd") or {}
        names = [x["name"] for x in svc.get("sessions", [])]
        return names if names == ["other"] else None

    wait_for(sessions, 10, 0.1, "only the new session")
    doc = lab.status()
    assert doc is not None and doc["workers"]["bfd"]["restarts"] == 0


def test_bfd_worker_killed_is_respawned_and_comes_back_up(lab: BfdLab) -> None:
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_hadaemon("a", bfd_conf("peer1", b, a))
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("peer1", a, b))
    first = lab.wait_session("peer1", "Up", 20)
    doc = lab.status()
    assert doc is not None
    pid = doc["workers"]["bfd"]["pid"]
    os.kill(pid, signal.SIGKILL)

    def new_session() -> dict[str, Any] | None:
        s = lab.session("peer1")
        if s and s["state"] == "Up" and s["local_discriminator"] != first["local_discriminator"]:
            return s
        return None

    wait_for(new_session, 30, 0.1, "a new session Up after the respawn")
    doc = lab.status()
    assert doc is not None and doc["workers"]["bfd"]["restarts"] == 1
    assert doc["workers"]["bfd"]["pid"] != pid


def test_ipv6_session_with_keepalived(lab: BfdLab) -> None:
    a6, b6 = "fd00:bfd::1", "fd00:bfd::2"
    for r, addr in (("a", a6), ("b", b6)):
        lab.topo.exec(lab.ns[r], "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
        lab.topo.exec(lab.ns[r], "ip", "addr", "add", f"{addr}/64", "dev", "eth0", "nodad")
    lab.start_hadaemon("a", bfd_conf("v6", b6, a6))
    # keepalived sends with hop limit 64 unless told: RFC 5881 single hop wants 255
    lab.start_keepalived("b", KA_GLOBAL + bfd_conf("v6", a6, b6, "    hoplimit 255\n"))
    s = lab.wait_session("v6", "Up", 20)
    assert s["neighbor_ip"] == b6
    lab.wait_log("ka", r"\(v6\) Entering Up state", 10)
    lab.kill("ka")
    assert lab.wait_session("v6", "Down", 10)["local_diag"] == "time_expired"


def test_port_taken_by_keepalived_on_the_same_host_is_a_clear_error(lab: BfdLab) -> None:
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_keepalived("a", KA_GLOBAL + bfd_conf("ka_side", b, a))
    lab.wait_log("ka", r"Starting BFD child process", 10)
    wait_for(
        lambda: "3784" in lab.topo.exec(lab.ns["a"], "ss", "-Hlun", "sport = 3784").stdout,
        10,
        0.1,
        "keepalived listening on 3784",
    )
    lab.start_hadaemon("a", bfd_conf("peer1", b, a))
    lab.wait_log("hd", r"bfd_instance peer1 cannot start: cannot listen on UDP port 3784", 20)
    doc = lab.status()
    assert doc is not None and doc["workers"]["bfd"]["state"] == "RUNNING"
    assert doc["services"]["bfd"]["sessions"] == []


SEND = """
import socket, sys
from hadaemon.bfd.packet import ControlPacket, State
dst, ttl, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pkt = ControlPacket(state=State.DOWN, my_discriminator=4242).encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.bind(("", 50000))
s.sendto(pkt if kind == "good" else pkt[:10], (dst, 3784))
"""


def test_wrong_ttl_and_garbage_are_dropped_and_counted(lab: BfdLab) -> None:
    """GTSM (RFC 5881 §5) in the real receive path: the TTL comes from IP_RECVTTL."""
    a, b = lab.addr["a"], lab.addr["b"]
    lab.start_hadaemon("a", bfd_conf("peer1", b, a, "    passive\n"))
    lab.wait_session("peer1", "Down", 20)

    def send(ttl: int, kind: str) -> None:
        lab.topo.exec(lab.ns["b"], sys.executable, "-c", SEND, a, str(ttl), kind)

    def drops() -> dict[str, int]:
        doc = lab.status() or {}
        return dict((doc.get("services", {}).get("bfd") or {}).get("drops") or {})

    send(64, "good")  # one hop away could have been anywhere: dropped
    send(255, "short")
    wait_for(lambda: drops() == {"bad_ttl": 1, "short": 1}, 10, 0.1, f"drops ({drops()})")
    s = lab.session("peer1")
    assert s is not None and s["state"] == "Down" and s["stats"]["rx_packets"] == 0
    send(255, "good")  # the same packet with TTL 255 reaches the (passive) session
    lab.wait_session("peer1", "Init", 10)
