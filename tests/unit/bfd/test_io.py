"""The BFD I/O helpers that need no namespace: ancillary data, send sockets, worker choice."""

from __future__ import annotations

import argparse
import random
import socket
import struct
from collections.abc import Callable
from typing import Any

from hadaemon.bfd.core import Peer
from hadaemon.bfd.packet import BFD_SOURCE_PORT_MAX, BFD_SOURCE_PORT_MIN
from hadaemon.config import loads
from hadaemon.io.bfd import (
    IP_PKTINFO,
    IPV6_HOPLIMIT,
    IPV6_PKTINFO,
    open_send_socket,
    parse_ancillary,
)
from hadaemon.supervisor.main import DEFAULT_REGISTRY


def test_parse_ancillary_ipv4() -> None:
    pktinfo = struct.pack("@i4s4s", 2, socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"))
    anc = [
        (socket.IPPROTO_IP, socket.IP_TTL, struct.pack("@i", 255)),
        (socket.IPPROTO_IP, IP_PKTINFO, pktinfo),
    ]
    assert parse_ancillary(anc) == (255, "10.0.0.2")


def test_parse_ancillary_ipv6() -> None:
    pktinfo = socket.inet_pton(socket.AF_INET6, "fd00::2") + struct.pack("@I", 3)
    anc = [
        (socket.IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("@i", 254)),
        (socket.IPPROTO_IPV6, IPV6_PKTINFO, pktinfo),
    ]
    assert parse_ancillary(anc) == (254, "fd00::2")
    assert parse_ancillary([]) == (None, None)


def test_send_socket_source_port_and_ttl() -> None:
    s = open_send_socket(Peer("p", "127.0.0.2", source_ip="127.0.0.1"), random.Random(5))
    try:
        host, port = s.getsockname()
        assert host == "127.0.0.1"
        assert BFD_SOURCE_PORT_MIN <= port <= BFD_SOURCE_PORT_MAX
        assert s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 255
    finally:
        s.close()


def test_the_bfd_worker_runs_only_with_bfd_instances_and_not_with_no_bfd() -> None:
    spec = DEFAULT_REGISTRY["bfd"]
    with_bfd = loads("bfd_instance x {\n    neighbor_ip 192.0.2.1\n}\n").config
    without = loads("global_defs {\n    router_id r\n}\n").config
    args = argparse.Namespace(no_bfd=False, vrrp=True, check=False)
    assert spec.needed(with_bfd, args)  # also with -P: track_bfd needs it
    assert not spec.needed(without, args)
    assert not spec.needed(with_bfd, argparse.Namespace(no_bfd=True))
    part = spec.part(with_bfd)
    assert [b["name"] for b in part["bfd_instances"]] == ["x"]
    assert part["vrrp_instances"] == [] and part["virtual_servers"] == []


def test_status_text_lists_bfd_sessions() -> None:
    from hadaemon.supervisor.status_cli import format_table

    doc = {
        "hadaemon": {"version": "x"},
        "workers": {"bfd": {"pid": 7, "state": "RUNNING", "restarts": 0}},
        "services": {
            "bfd": {
                "sessions": [
                    {
                        "name": "peer1",
                        "neighbor_ip": "10.0.0.2",
                        "state": "Up",
                        "remote_state": "Up",
                        "local_diag": "none",
                        "detection_time_us": 300_000,
                        "state_age_s": 12.0,
                    }
                ]
            }
        },
    }
    text = format_table(doc)
    assert "BFD    NEIGHBOR  STATE  REMOTE  DIAG  DETECT  SINCE" in text
    assert "peer1  10.0.0.2  Up     Up      none  300ms   12.0s" in text


def test_service_emits_state_changes_but_not_its_own_admin_down() -> None:
    import asyncio
    import time

    from hadaemon.bfd.packet import ControlPacket, State
    from hadaemon.bfd.session import SessionParams
    from hadaemon.io.bfd import BfdService

    events: list[tuple[str, dict[str, Any]]] = []

    async def main() -> None:
        svc = BfdService(loads("global_defs {\n    router_id r\n}\n").config, _record(events))
        await svc.start()  # no bfd_instance: no sockets
        s = svc.core.add(SessionParams(name="x"), Peer("x", "192.0.2.1"), time.monotonic())
        remote = ControlPacket(state=State.DOWN, my_discriminator=9)
        s.handle_packet(remote, time.monotonic())
        svc.core._collect(s)
        svc._execute()
        assert [(k, b["name"], b["state"]) for k, b in events] == [("bfd_state", "x", "Init")]
        y = svc.core.add(SessionParams(name="y"), Peer("y", "192.0.2.2"), time.monotonic())
        await svc.apply_config(svc.config)  # a reload without x and y: both removed
        assert s.state is State.ADMIN_DOWN and y.state is State.ADMIN_DOWN
        assert not svc.core.sessions
        await svc.stop()
        assert len(events) == 1  # AdminDown goes to the peers, not up to the trackers

    asyncio.run(main())


def _record(events: list[tuple[str, dict[str, Any]]]) -> Callable[[str, dict[str, Any]], None]:
    return lambda kind, body: events.append((kind, body))
