"""SMTP_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK and FILE_CHECK against real peers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers.checker_harness import CheckerRun, start_server, stop_server
from helpers.checker_servers import OK_BODY
from helpers.netns import Topology

from hadaemon.checkers.probes.udp import parse_hex_str
from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    DnsSpec,
    FileSpec,
    HttpSpec,
    RealServerSpec,
    UdpSpec,
    UrlSpec,
    VirtualServerSpec,
    fmt_service,
)

pytestmark = [pytest.mark.root, pytest.mark.netns]

RS = "10.0.0.11"
OK_MD5 = hashlib.md5(OK_BODY).hexdigest()


def spec(
    kind: str, port: int | None, *, ip: str = RS, delay_loop_s: float = 0.2, **kw: object
) -> CheckSpec:
    kw.setdefault("connect_timeout_s", 3.0)
    return CheckSpec(
        kind=kind,
        connect_ip=ip,
        connect_port=port,
        retry=0,
        delay_before_retry_s=0.1,
        delay_loop_s=delay_loop_s,
        **kw,
    )  # type: ignore[arg-type]


def test_smtp_dns_ping_udp_file(tmp_path: Path) -> None:
    tracked = tmp_path / "weight"
    tracked.write_text("0\n")
    checks = [
        spec("SMTP_CHECK", 2525, smtp_helo_name="lb.example"),  # 0 up
        spec("SMTP_CHECK", 2526),  # 1 closes
        spec("SMTP_CHECK", 2527, connect_timeout_s=0.4),  # 2 silent
        spec("DNS_CHECK", 5353, dns=DnsSpec("A", "example.org"), connect_timeout_s=1.0),  # 3 up
        spec("DNS_CHECK", 5354, dns=DnsSpec(), delay_loop_s=1.0, connect_timeout_s=1.0),  # 4
        spec("PING_CHECK", None),  # 5 up
        spec("PING_CHECK", None, ip="10.0.0.250", connect_timeout_s=0.4),  # 6 no host
        spec(
            "UDP_CHECK",
            7777,
            udp=UdpSpec(
                payload=b"hi", require_reply=True, reply_pattern=parse_hex_str("4f4b", True)
            ),
            connect_timeout_s=1.0,
        ),  # 7
        spec(
            "UDP_CHECK",
            7777,
            udp=UdpSpec(
                payload=b"hi", require_reply=True, reply_pattern=parse_hex_str("58XX", True)
            ),
        ),  # 8
        spec("UDP_CHECK", 7778, udp=UdpSpec(payload=b"hi"), delay_loop_s=1.0),  # 9 closed
        spec("FILE_CHECK", None, file=FileSpec(path=str(tracked), weight=2, dynamic=True)),  # 10
        spec("FILE_CHECK", None, file=FileSpec(path=str(tmp_path / "missing"))),  # 11
    ]
    good = {0, 3, 5, 7, 10}
    rss = tuple(
        RealServerSpec(ip=RS, port=9000 + i, weight=1, checkers=(c,)) for i, c in enumerate(checks)
    )
    cfg = CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("192.168.100.100", 25),
                ip="192.168.100.100",
                port=25,
                real_servers=rss,
            ),
        )
    )
    topo = Topology("cp")
    try:
        lb, rs1 = topo.ns("lb"), topo.ns("rs1")
        topo.lan([(lb, "eth1", ["10.0.0.1/24"]), (rs1, "eth1", [f"{RS}/24"])])
        smtp = start_server(topo, rs1, "smtp", RS, "2525")
        closer = start_server(topo, rs1, "tcp", RS, "2526")
        hang = start_server(topo, rs1, "hang", RS, "2527")
        dns = start_server(topo, rs1, "dns", RS, "5353")
        udp = start_server(topo, rs1, "udp", RS, "7777")
        run = CheckerRun(topo, lb, cfg, tmp_path)
        try:
            firsts = run.first_attempts(len(checks), 10)
            for i, first in enumerate(firsts):
                assert first["ok"] == (i in good), (i, first["reason"])
            reasons = {i: first["reason"] for i, first in enumerate(firsts)}
            assert "Read timeout" in reasons[2]
            assert "port unreachable" in reasons[9]
            assert "timeout" in reasons[6]
            assert run.attempts((0, 10, 0))[0]["weight"] == 0
            for i in set(range(len(checks))) - good:
                run.wait(lambda i=i: not run.rs_states(RS, 9000 + i)[-1]["up"], 15, f"{i} down")

            # servers go away -> DOWN; come back -> UP
            stop_server(smtp)
            stop_server(dns)
            stop_server(udp)
            for i in (0, 3, 7):
                run.wait(lambda i=i: not run.rs_states(RS, 9000 + i)[-1]["up"], 15, f"{i} down")
            smtp = start_server(topo, rs1, "smtp", RS, "2525")
            dns = start_server(topo, rs1, "dns", RS, "5353")
            udp = start_server(topo, rs1, "udp", RS, "7777")
            for i in (0, 3, 7):
                run.wait(lambda i=i: run.rs_states(RS, 9000 + i)[-1]["up"], 15, f"{i} up")

            # FILE_CHECK: value * weight is the dynamic weight; <= -254 is down
            tracked.write_text("5\n")
            run.wait(lambda: run.rs_states(RS, 9010)[-1]["weight"] == 11, 15, "file weight 1+10")
            tracked.write_text("-200\n")
            run.wait(lambda: not run.rs_states(RS, 9010)[-1]["up"], 15, "file down")
        finally:
            run.stop()
            for p in (smtp, closer, hang, dns, udp):
                stop_server(p)
    finally:
        topo.close()


def test_ipv6_tcp_http_and_ping(tmp_path: Path) -> None:
    rs6 = "fd00::11"
    checks = [
        spec("TCP_CHECK", 3306, ip=rs6),  # 0 up
        spec("PING_CHECK", None, ip=rs6),  # 1 up
        spec("PING_CHECK", None, ip="fd00::250", connect_timeout_s=0.4),  # 2 no neighbour
        spec("HTTP_GET", 80, ip=rs6, http=HttpSpec(urls=(UrlSpec("/ok", digest=OK_MD5),))),  # 3
        spec("TCP_CHECK", 3307, ip=rs6),  # 4 refused
    ]
    good = {0, 1, 3}
    rss = tuple(RealServerSpec(ip=rs6, port=9000 + i, checkers=(c,)) for i, c in enumerate(checks))
    cfg = CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("fd00::100", 80), ip="fd00::100", port=80, real_servers=rss
            ),
        )
    )
    topo = Topology("c6")
    try:
        lb, rs1 = topo.ns("lb"), topo.ns("rs1")
        topo.lan([(lb, "eth1", []), (rs1, "eth1", [])])
        topo.exec(lb, "ip", "addr", "add", "fd00::1/64", "dev", "eth1", "nodad")
        topo.exec(rs1, "ip", "addr", "add", f"{rs6}/64", "dev", "eth1", "nodad")
        tcp = start_server(topo, rs1, "tcp", rs6, "3306")
        web = start_server(topo, rs1, "http", rs6, "80")
        run = CheckerRun(topo, lb, cfg, tmp_path)
        try:
            firsts = run.first_attempts(len(checks), 20)
            for i, first in enumerate(firsts):
                assert first["ok"] == (i in good), (i, first["reason"])
            assert "TCP connection to [fd00::11]:tcp:3307 failed." in run.logs()
        finally:
            run.stop()
            stop_server(tcp)
            stop_server(web)
    finally:
        topo.close()
