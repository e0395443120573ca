#!/usr/bin/env python3
"""Capture real keepalived 2.2.7 adverts into golden files (run once by hand, as root).

    cd /work/main && .venv/bin/python tests/golden/packets/capture_keepalived.py

Builds a namespace ``ka`` (keepalived) and ``cap`` (tcpdump) on one bridge segment, runs
keepalived with one instance per packet form (v2, v2+PASS, v3 IPv4 multicast, v3 IPv4
unicast, v3 IPv4 unicast with ``old_unicast_checksum``, v3 IPv6), captures for a few seconds,
stops keepalived with SIGTERM (priority-0 adverts) and writes, per instance, the first advert
and the priority-0 advert as ``ka227_<name>[_prio0].hex`` (the VRRP payload) with a
``.json`` holding the IP-level metadata and the decoded fields (decoded by hadaemon's codec;
the hex is the wire truth). keepalived 2.2.7 has no ``v3_checksum_as_v2``, so the RFC 9568
v3/IPv4 form is covered by ``hadaemon_v3_ipv4_rfc9568.hex`` (hadaemon's encoder; its checksum is
re-derived independently in ``tests/unit/vrrp/test_packet.py``).

Not part of the test suite.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.netns import Topology, wait_for  # noqa: E402

from hadaemon.vrrp.packet import decode  # noqa: E402

CONF = """
global_defs {
    router_id ka_capture
    vrrp_garp_master_repeat 1
    vrrp_garp_master_delay 0
}
vrrp_instance v2 {
    version 2
    state MASTER
    interface eth1
    virtual_router_id 10
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.100.100/24
        192.168.100.101/24
    }
}
vrrp_instance v2auth {
    version 2
    state MASTER
    interface eth1
    virtual_router_id 11
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 123456
    }
    virtual_ipaddress {
        192.168.100.110/24
    }
}
vrrp_instance v3 {
    version 3
    state MASTER
    interface eth1
    virtual_router_id 12
    priority 200
    advert_int 0.1
    virtual_ipaddress {
        192.168.100.120/24
    }
}
vrrp_instance v3uni {
    version 3
    state MASTER
    interface eth1
    virtual_router_id 13
    priority 120
    advert_int 1
    unicast_src_ip 10.9.0.1
    unicast_peer {
        10.9.0.2
    }
    virtual_ipaddress {
        192.168.100.130/24
    }
}
vrrp_instance v3uniold {
    version 3
    state MASTER
    interface eth1
    virtual_router_id 14
    priority 120
    advert_int 1
    unicast_src_ip 10.9.0.1
    old_unicast_checksum
    unicast_peer {
        10.9.0.2
    }
    virtual_ipaddress {
        192.168.100.140/24
    }
}
vrrp_instance v6 {
    version 3
    state MASTER
    interface eth1
    virtual_router_id 15
    priority 100
    advert_int 1
    virtual_ipaddress {
        fe80::15/64
        2001:db8::15/64
    }
}
"""

NAMES = {10: "v2", 11: "v2auth", 12: "v3", 13: "v3uni", 14: "v3uniold", 15: "v6"}


def parse_pcap(data: bytes) -> list[dict[str, object]]:
    """Ethernet pcap -> VRRP packets with IP metadata."""
    out: list[dict[str, object]] = []
    off = 24
    while off + 16 <= len(data):
        _ts, _us, incl, _orig = struct.unpack_from("<IIII", data, off)
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        etype = struct.unpack_from("!H", frame, 12)[0]
        ip = frame[14:]
        if etype == 0x0800 and ip[9] == 112:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack_from("!H", ip, 2)[0]
            out.append(
                {
                    "family": 4,
                    "ttl": ip[8],
                    "src": str(ipaddress.IPv4Address(ip[12:16])),
                    "dst": str(ipaddress.IPv4Address(ip[16:20])),
                    "payload": ip[ihl:total],
                }
            )
        elif etype == 0x86DD and ip[6] == 112:
            plen = struct.unpack_from("!H", ip, 4)[0]
            out.append(
                {
                    "family": 6,
                    "ttl": ip[7],
                    "src": str(ipaddress.IPv6Address(ip[8:24])),
                    "dst": str(ipaddress.IPv6Address(ip[24:40])),
                    "payload": ip[40 : 40 + plen],
                }
            )
    return out


def main() -> None:
    topo = Topology("cap")
    try:
        ka = topo.ns("ka")
        cap = topo.ns("cap")
        topo.lan([(ka, "eth1", ["10.9.0.1/24"]), (cap, "eth1", ["10.9.0.2/24"])])
        tmp = Path(tempfile.mkdtemp(prefix="hdcap"))
        pcap = tmp / "ka.pcap"
        conf = tmp / "keepalived.conf"
        conf.write_text(CONF)
        td = topo.popen(
            cap, ["tcpdump", "-i", "eth1", "-U", "-w", str(pcap), "ip proto 112 or ip6 proto 112"]
        )
        time.sleep(1.0)
        k = topo.popen(
            ka,
            [
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(conf),
                "-p",
                str(tmp / "k.pid"),
                "-r",
                str(tmp / "v.pid"),
                "-c",
                str(tmp / "c.pid"),
            ],
        )

        def seen() -> bool:
            if not pcap.exists():
                return False
            vrids = {bytes(p["payload"])[1] for p in parse_pcap(pcap.read_bytes())}  # type: ignore[arg-type]
            return set(NAMES) <= vrids

        wait_for(seen, 20, 0.2, "adverts of every instance")
        time.sleep(1.5)
        k.send_signal(signal.SIGTERM)
        k.wait(timeout=10)
        time.sleep(1.0)
        td.send_signal(signal.SIGINT)
        td.wait(timeout=5)
        pkts = parse_pcap(pcap.read_bytes())
        written: set[str] = set()
        for p in pkts:
            payload = bytes(p["payload"])  # type: ignore[arg-type]
            vrid, prio = payload[1], payload[2]
            name = f"ka227_{NAMES.get(vrid, str(vrid))}" + ("_prio0" if prio == 0 else "")
            if name in written:
                continue
            written.add(name)
            multicast = ipaddress.ip_address(str(p["dst"])).is_multicast
            advert = decode(
                payload,
                family=int(p["family"]),
                src=str(p["src"]),  # type: ignore[call-overload]
                dst=str(p["dst"]),
                ttl=int(p["ttl"]),
                multicast=multicast,
            )  # type: ignore[call-overload]
            (HERE / f"{name}.hex").write_text(payload.hex() + "\n")
            meta = {
                "source": "keepalived 2.2.7 (Debian 12), captured by capture_keepalived.py",
                "family": p["family"],
                "src": p["src"],
                "dst": p["dst"],
                "ttl": p["ttl"],
                "multicast": multicast,
                "advert": advert.as_dict(),
            }
            (HERE / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
            print(name, payload.hex(), advert.checksum_form)
    finally:
        topo.close()


if __name__ == "__main__":
    main()
