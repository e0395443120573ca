"""hadaemon's BFD against keepalived 2.2.7's BFD process, in a pair of network namespaces.

keepalived runs with a config holding only a ``bfd_instance``; hadaemon runs as the whole
daemon (supervisor + ``bfd`` worker). Assertions are on protocol state (sessions Up/Down, the
diagnostic), never on how fast something happened; the waits are generous.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.bfd_lab import BfdLab, bfd_conf

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
