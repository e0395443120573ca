"""Wire interop of the VRRP core codec with real keepalived 2.2.7 (decode side: golden captures).

One keepalived (all instances BACKUP, priority 100) and a sender namespace on one segment. The
sender transmits adverts built by ``hadaemon.vrrp.packet.encode`` at priority 200 for each
instance. keepalived stays BACKUP exactly for the adverts it accepts; an instance whose adverts
it rejects times out and enters MASTER. Negative controls (wrong password, wrong VIP, corrupted
checksum) prove the test can fail. keepalived 2.2.7 rejects the RFC 9568 v3/IPv4 checksum form
(message only), which is why it is opt-in (``v3_checksum_as_v2``).
"""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest
from helpers.netns import Topology, wait_for

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

ROOT = Path(__file__).resolve().parents[2]

# name: (vrid, version, advert_int, extra instance lines, VIPs, keepalived should accept)
CASES: dict[str, tuple[int, int, str, str, tuple[str, ...], bool]] = {
    "v2": (10, 2, "1", "", ("192.168.100.10",), True),
    "v2pass": (
        11,
        2,
        "1",
        "authentication {\n auth_type PASS\n auth_pass 123456\n}",
        ("192.168.100.11",),
        True,
    ),
    "v2badpass": (
        12,
        2,
        "1",
        "authentication {\n auth_type PASS\n auth_pass 123456\n}",
        ("192.168.100.12",),
        False,
    ),
    "v3": (13, 3, "0.1", "", ("192.168.100.13",), True),
    "v3uni": (
        14,
        3,
        "0.1",
        "unicast_src_ip 10.9.0.1\nunicast_peer {\n 10.9.0.2\n}",
        ("192.168.100.14",),
        True,
    ),
    "v3wrongvip": (15, 3, "0.1", "", ("192.168.100.15",), False),
    "v3badsum": (16, 3, "0.1", "", ("192.168.100.16",), False),
    "v3rfc9568": (17, 3, "0.1", "", ("192.168.100.17",), False),
    "v6": (18, 3, "0.1", "", ("fe80::18", "2001:db8::18"), True),
}

SENDER = r"""
import ipaddress, socket, sys, time
sys.path.insert(0, sys.argv[1])
from hadaemon.vrrp.packet import Advert, encode
SRC4, KA4 = "10.9.0.2", "10.9.0.1"
ll = sys.argv[2]
ifindex = socket.if_nametoindex("eth1")
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s4.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth1")
s4.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(SRC4))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s6.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth1")
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
s6.bind((ll, 0, 0, ifindex))
pkts = []  # (interval_s, sock, wire, dst)
def add(vrid, version, interval_cs, vips, dst, auth=b"", as_v2=False, corrupt=False,
        family=4, src=SRC4):
    a = Advert(version, vrid, 200, len(vips), 1 if auth else 0, interval_cs, 0, vips, auth,
               family=family)
    w = bytearray(encode(a, src=src, dst=dst, v3_checksum_as_v2=as_v2))
    if corrupt:
        w[7] ^= 0x55
    sock = s4 if family == 4 else s6
    addr = (dst, 0) if family == 4 else (dst, 0, 0, ifindex)
    pkts.append([interval_cs / 100, sock, bytes(w), addr, 0.0])
add(10, 2, 100, ("192.168.100.10",), "224.0.0.18")
add(11, 2, 100, ("192.168.100.11",), "224.0.0.18", auth=b"123456")
add(12, 2, 100, ("192.168.100.12",), "224.0.0.18", auth=b"654321")
add(13, 3, 10, ("192.168.100.13",), "224.0.0.18")
add(14, 3, 10, ("192.168.100.14",), KA4)
add(15, 3, 10, ("192.168.100.99",), "224.0.0.18")
add(16, 3, 10, ("192.168.100.16",), "224.0.0.18", corrupt=True)
add(17, 3, 10, ("192.168.100.17",), "224.0.0.18", as_v2=True)
add(18, 3, 10, ("fe80::18", "2001:db8::18"), "ff02::12", family=6, src=ll)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    now = time.monotonic()
    for p in pkts:
        if now >= p[4]:
            p[1].sendto(p[2], p[3])
            p[4] = now + p[0]
    time.sleep(0.01)
"""


def _ka_conf() -> str:
    out = ["global_defs {\n router_id wire_test\n vrrp_garp_master_repeat 1\n}"]
    for name, (vrid, version, adv, extra, vips, _) in CASES.items():
        vip_lines = "\n".join(f"  {v}/64" if ":" in v else f"  {v}/24" for v in vips)
        out.append(
            f"vrrp_instance {name} {{\n version {version}\n state BACKUP\n interface eth1\n"
            f" virtual_router_id {vrid}\n priority 100\n advert_int {adv}\n {extra}\n"
            f" virtual_ipaddress {{\n{vip_lines}\n }}\n}}"
        )
    return "\n".join(out) + "\n"


def _link_local(topo: Topology, ns: str) -> str:
    out = topo.exec(ns, "ip", "-6", "-o", "addr", "show", "dev", "eth1", "scope", "link").stdout
    m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64", out)
    return m.group(1) if m and "tentative" not in out else ""


def test_keepalived_accepts_exactly_the_valid_encodings(tmp_path: Path) -> None:
    topo = Topology("vw")
    try:
        ka = topo.ns("ka")
        tx = topo.ns("tx")
        topo.lan([(ka, "eth1", ["10.9.0.1/24"]), (tx, "eth1", ["10.9.0.2/24"])])
        ll = wait_for(lambda: _link_local(topo, tx), 10, 0.1, "IPv6 link-local on tx")
        wait_for(lambda: _link_local(topo, ka), 10, 0.1, "IPv6 link-local on ka")
        (tmp_path / "sender.py").write_text(SENDER)
        (tmp_path / "ka.conf").write_text(_ka_conf())
        observe_s = 5.0  # > v2 Master_Down_Interval (3.61 s) + startup
        sender = topo.popen(
            tx, [sys.executable, str(tmp_path / "sender.py"), str(ROOT), ll, str(observe_s + 2.0)]
        )
        time.sleep(0.3)
        k = topo.popen(
            ka,
            [
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(tmp_path / "ka.conf"),
                "-p",
                str(tmp_path / "k.pid"),
                "-r",
                str(tmp_path / "v.pid"),
                "-c",
                str(tmp_path / "c.pid"),
            ],
        )
        time.sleep(observe_s)
        k.send_signal(signal.SIGTERM)
        log = k.communicate(timeout=15)[0].decode(errors="replace")
        sender.wait(timeout=10)
        assert sender.returncode == 0, "sender failed"
        for name, (*_, accept) in CASES.items():
            assert f"({name}) Entering BACKUP STATE" in log, log
            took_over = f"({name}) Entering MASTER STATE" in log
            assert took_over != accept, (
                f"{name}: keepalived {'took over' if took_over else 'stayed BACKUP'}\n{log}"
            )
        # keepalived says why it dropped the controls
        assert "(v3wrongvip) ip address associated with VRID 15 not present" in log
        assert "(v2badpass) received an invalid passwd!" in log
        assert "(v3badsum) Invalid VRRPv3 checksum" in log
        # keepalived 2.2.7 cannot verify the RFC 9568 v3/IPv4 form: that is why hadaemon sends
        # keepalived's pseudo-header form unless v3_checksum_as_v2 is configured
        assert "(v3rfc9568) Invalid VRRPv3 checksum" in log
    finally:
        topo.close()
