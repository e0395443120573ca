"""Send crafted VRRP packets from inside a namespace (run with ``python -m`` or as a script).

``python bpf_sender.py IFNAME --family 4 --vrid 51 --ttl 255 --count 5 --interval 0.01``
``python bpf_sender.py IFNAME --flood 3.0 --vrid 99``   (as fast as possible for 3 s, then exit)
``python bpf_sender.py IFNAME --seq --interval 0.01 --duration 30``  (SIGTERM ends it early)

IPv4 uses ``IP_HDRINCL`` so the TTL is exactly what is asked for; IPv6 sets the multicast hop
limit. Prints one JSON line ``{"sent": N}`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from helpers.bpf_packets import VRRP_GROUP4, VRRP_GROUP6, ipv4, vrrp_payload  # noqa: E402


def send_specs(ifname: str, specs: list[str]) -> int:
    """Send COUNT packets for each FAMILY:VRID:TTL:COUNT spec (one process for many sends)."""
    total = 0
    for spec in specs:
        fam, vrid, ttl, count = spec.split(":")
        sys.argv = [
            sys.argv[0],
            ifname,
            "--family",
            fam,
            "--vrid",
            vrid,
            "--ttl",
            ttl,
            "--count",
            count,
        ]
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            main()
        total += json.loads(buf.getvalue())["sent"]
    print(json.dumps({"sent": total}), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ifname")
    ap.add_argument("--family", type=int, default=4)
    ap.add_argument("--src", default=None)
    ap.add_argument("--vrid", type=int, default=51)
    ap.add_argument("--priority", type=int, default=100)
    ap.add_argument("--version", type=int, default=3)
    ap.add_argument("--ttl", type=int, default=255)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.0)
    ap.add_argument("--flood", type=float, default=0.0, help="seconds to flood")
    ap.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="send every --interval for this long (instead of --count)",
    )
    ap.add_argument(
        "--seq",
        action="store_true",
        help="IPv4: number the packets in the first address (10.1.hi.lo)",
    )
    ap.add_argument(
        "--spec",
        action="append",
        default=[],
        help="FAMILY:VRID:TTL:COUNT, repeatable: send each (other options ignored)",
    )
    a = ap.parse_args()
    if a.spec:
        return send_specs(a.ifname, a.spec)
    ifindex = socket.if_nametoindex(a.ifname)
    if a.family == 4:
        src = a.src or "10.0.0.1"
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, 25, a.ifname.encode())
        s.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_MULTICAST_IF,
            b"\0" * 8 + ifindex.to_bytes(4, sys.byteorder),
        )
        pkt = ipv4(
            vrrp_payload(version=a.version, vrid=a.vrid, priority=a.priority, src=src),
            src=src,
            ttl=a.ttl,
        )
        dst = (VRRP_GROUP4, 0)
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
        s.setsockopt(socket.SOL_SOCKET, 25, a.ifname.encode())
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, a.ttl)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        pkt = vrrp_payload(
            version=3,
            vrid=a.vrid,
            priority=a.priority,
            family=socket.AF_INET6,
            src="fe80::1",
            dst=VRRP_GROUP6,
        )
        dst = (VRRP_GROUP6, 0, 0, ifindex)
    sent = 0
    send = s.sendto
    if a.flood > 0:
        end = time.monotonic() + a.flood
        while time.monotonic() < end:
            for _ in range(256):
                try:
                    send(pkt, dst)
                    sent += 1
                except OSError:  # ENOBUFS under flood
                    pass
    elif a.seq or a.duration:
        end = time.monotonic() + a.duration
        i = 0
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop and ((i < a.count) if not a.duration else (time.monotonic() < end)):
            if a.seq:
                addr = f"10.1.{(i >> 8) & 255}.{i & 255}"
                pkt = ipv4(
                    vrrp_payload(
                        version=a.version, vrid=a.vrid, priority=a.priority, src=src, addrs=[addr]
                    ),
                    src=src,
                    ttl=a.ttl,
                )
            send(pkt, dst)
            sent += 1
            i += 1
            time.sleep(a.interval)
    else:
        for i in range(a.count):
            send(pkt, dst)
            sent += 1
            if a.interval and i + 1 < a.count:
                time.sleep(a.interval)
    print(json.dumps({"sent": sent}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
