"""Helper processes the lab runs inside its network namespaces.

Each agent is started as ``ip netns exec NS python -m hadaemon.lab.agent KIND ...`` and reports
what it sees as JSON lines on stdout, one object per line, each with ``"ev"`` (the event kind) and
``"t"`` (``time.monotonic()`` seconds; CLOCK_MONOTONIC is shared by all network namespaces, so
the lab can merge the streams).

Agents:

``rs``
    The real server's "database": a TCP service on port 3306 that answers every connection with
    its name and closes it.
``client``
    Keeps opening plain TCP connections to the VIP and records who answered; watches ARP for the
    VIP (raw ``AF_PACKET`` socket) and VRRP adverts (raw socket, group joined, kernel receive
    timestamps via ``SO_TIMESTAMPNS``) on the client's LAN interface. The adverts are parsed here
    with a few byte offsets on purpose: the lab observes the wire independently of the codec
    under test.
``director``
    Watches the VIP on a router's interface. With ``--forward`` it is the stand-in for the load
    balancer when the router implementation has none on this kernel (keepalived without IPVS):
    while the VIP is present it installs an nftables netdev rule that forwards VIP:port frames
    addressed to this router to the real server, direct-routing style (``fwd ip to``).
``checker``
    Stand-in for keepalived's TCP_CHECK when its checker cannot run (no IPVS here): connect
    every ``delay_loop``; after ``retry`` failed retries the real server is down and
    ``notify_down`` runs; back up on the first success (``notify_up``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

_LOCK = threading.Lock()

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ETH_P_ARP = 0x0806
VRRP_GROUP_V4 = "224.0.0.18"
IPPROTO_VRRP = 112


def emit(ev: str, **fields: Any) -> None:
    """Print one JSON event line (thread-safe); ``t`` defaults to ``time.monotonic()``."""
    fields.setdefault("t", time.monotonic())
    line = json.dumps({"ev": ev, **fields}, sort_keys=True)
    with _LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# -- rs ----------------------------------------------------------------------------------------


async def _rs_main(name: str, port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(f"{name}\n".encode())
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host="0.0.0.0", port=port, reuse_address=True)
    emit("rs_listening", name=name, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    emit("rs_stopped", name=name)


# -- client --------------------------------------------------------------------------------------


def _connector(
    vip: str, port: int, interval_s: float, timeout_s: float, stop: threading.Event
) -> None:
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with socket.create_connection((vip, port), timeout=timeout_s) as s:
                s.settimeout(timeout_s)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
            answer = data.decode(errors="replace").strip()
            if answer:
                emit("conn", t=t0, t_end=time.monotonic(), ok=True, rs=answer)
            else:
                emit("conn", t=t0, t_end=time.monotonic(), ok=False, err="empty answer")
        except OSError as e:
            err = "timeout" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
            emit("conn", t=t0, t_end=time.monotonic(), ok=False, err=err)
        rest = interval_s - (time.monotonic() - t0)
        if rest > 0:
            stop.wait(rest)


def _kernel_time(ancdata: list[tuple[int, int, bytes]]) -> float:
    """Monotonic time of a packet from its SO_TIMESTAMPNS stamp (else: now)."""
    for level, typ, data in ancdata:
        if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return float(sec + nsec / 1e9 - (time.time() - time.monotonic()))
    return time.monotonic()


def _arp_watch(dev: str, vip: str, stop: threading.Event) -> None:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((dev, ETH_P_ARP))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(0.2)
    vip_b = socket.inet_aton(vip)
    while not stop.is_set():
        try:
            frame, anc, _flags, _addr = s.recvmsg(128, 64)
        except TimeoutError:
            continue
        # Ethernet (14) + ARP: htype ptype hlen plen oper sha(6) spa(4) tha(6) tpa(4)
        if len(frame) < 42:
            continue
        oper = struct.unpack("!H", frame[20:22])[0]
        sha, spa = frame[22:28], frame[28:32]
        if spa == vip_b:
            emit(
                "arp",
                t=_kernel_time(anc),
                mac=sha.hex(":"),
                op="reply" if oper == 2 else "request",
            )


def _vrrp_watch(dev: str, stop: threading.Event) -> None:
    ifindex = socket.if_nametoindex(dev)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    mreqn = socket.inet_aton(VRRP_GROUP_V4) + struct.pack("=Ii", 0, ifindex)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            pkt, anc, _flags, _addr = s.recvmsg(2048, 64)
        except TimeoutError:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        if len(pkt) < ihl + 4:
            continue
        src = socket.inet_ntoa(pkt[12:16])
        ver_type, vrid, prio = pkt[ihl], pkt[ihl + 1], pkt[ihl + 2]
        emit(
            "adv",
            t=_kernel_time(anc),
            src=src,
            vrid=vrid,
            prio=prio,
            ver=ver_type >> 4,
            ttl=pkt[8],
        )


def _neigh_watch(dev: str, vip: str, stop: threading.Event) -> None:
    from pyroute2 import IPRoute

    last: tuple[str, str] | None = None
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=dev)[0]
        while not stop.is_set():
            cur = ("", "none")
            for n in ipr.get_neighbours(ifindex=idx, dst=vip):
                mac = n.get_attr("NDA_LLADDR") or ""
                cur = (mac, str(n["state"]))
            if cur != last:
                emit("neigh", mac=cur[0], state=cur[1])
                last = cur
            stop.wait(0.02)


def _client_main(a: argparse.Namespace) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(target=_arp_watch, args=(a.dev, a.vip, stop), daemon=True),
        threading.Thread(target=_vrrp_watch, args=(a.dev, stop), daemon=True),
        threading.Thread(target=_neigh_watch, args=(a.dev, a.vip, stop), daemon=True),
    ]
    for th in threads:
        th.start()
    emit("client_ready")
    conn = threading.Thread(
        target=_connector, args=(a.vip, a.port, a.interval, a.timeout, stop), daemon=True
    )
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if a.wait_start:
        # connections start when the lab writes a line on stdin (after the first election)
        sys.stdin.readline()
    conn.start()
    while not stop.is_set():
        stop.wait(0.2)
    emit("client_stopped")


# -- director (stand-in load balancer / VIP watcher) --------------------------------------------


def _nft(script: str) -> str:
    r = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    return r.stderr.strip()


def _director_main(a: argparse.Namespace) -> None:
    from pyroute2 import IPRoute

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    table = "hdlab_dr"
    present = False
    emit("director_ready", forward=a.forward)
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=a.dev)[0]
        while not stop.is_set():
            now_present = bool(ipr.get_addr(index=idx, address=a.vip))
            if now_present != present:
                present = now_present
                err = ""
                if a.forward and present:
                    err = _nft(
                        f"table netdev {table} {{\n"
                        f" chain ingress {{ type filter hook ingress"
                        f' device "{a.dev}" priority 0; policy accept;\n'
                        f"  ether daddr {a.mac} ip daddr {a.vip} tcp dport {a.port}"
                        f' fwd ip to {a.rs} device "{a.dev}"\n }}\n}}\n'
                    )
                elif a.forward:
                    err = _nft(f"delete table netdev {table}\n")
                emit("vip", present=present, err=err)
            stop.wait(0.01)


# -- checker (stand-in TCP_CHECK) ----------------------------------------------------------------


def _tcp_ok(addr: str, port: int, timeout_s: float) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _run_script(cmd: str | None, rs: str, port: int, what: str) -> None:
    if not cmd:
        return
    emit("notify", what=what, script=cmd)
    # keepalived runs notify scripts without waiting for them
    subprocess.Popen([cmd], start_new_session=True, env={**os.environ, "RS": f"{rs}:{port}"})


def _checker_main(a: argparse.Namespace) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    up = True  # keepalived starts real servers as up (alive) unless told otherwise
    emit("checker_ready", rs=a.rs, port=a.port)
    while not stop.is_set():
        ok = _tcp_ok(a.rs, a.port, a.connect_timeout)
        tries = 0
        while not ok and tries < a.retry and not stop.is_set():
            stop.wait(a.delay_before_retry)
            ok = _tcp_ok(a.rs, a.port, a.connect_timeout)
            tries += 1
        if ok != up:
            up = ok
            emit("check", rs=a.rs, up=up)
            _run_script(a.notify_up if up else a.notify_down, a.rs, a.port, "up" if up else "down")
        stop.wait(a.delay_loop)


# -- entry point ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The agent command line (internal to the lab)."""
    p = argparse.ArgumentParser(prog="python -m hadaemon.lab.agent")
    sub = p.add_subparsers(dest="kind", required=True)
    rs = sub.add_parser("rs")
    rs.add_argument("--name", required=True)
    rs.add_argument("--port", type=int, default=3306)
    cl = sub.add_parser("client")
    cl.add_argument("--vip", required=True)
    cl.add_argument("--port", type=int, default=3306)
    cl.add_argument("--dev", default="eth1")
    cl.add_argument("--interval", type=float, default=0.05)
    cl.add_argument("--timeout", type=float, default=0.5)
    cl.add_argument("--wait-start", action="store_true")
    di = sub.add_parser("director")
    di.add_argument("--vip", required=True)
    di.add_argument("--port", type=int, default=3306)
    di.add_argument("--dev", default="eth1")
    di.add_argument("--rs", default="")
    di.add_argument("--mac", default="")
    di.add_argument("--forward", action="store_true")
    ch = sub.add_parser("checker")
    ch.add_argument("--rs", required=True)
    ch.add_argument("--port", type=int, default=3306)
    ch.add_argument("--delay-loop", type=float, default=6.0)
    ch.add_argument("--connect-timeout", type=float, default=5.0)
    ch.add_argument("--retry", type=int, default=1)
    ch.add_argument("--delay-before-retry", type=float, default=1.0)
    ch.add_argument("--notify-down", default=None)
    ch.add_argument("--notify-up", default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one agent until SIGTERM."""
    a = build_parser().parse_args(argv)
    try:
        if a.kind == "rs":
            asyncio.run(_rs_main(a.name, a.port))
        elif a.kind == "client":
            _client_main(a)
        elif a.kind == "director":
            _director_main(a)
        elif a.kind == "checker":
            _checker_main(a)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        emit("agent_error", kind=a.kind, error=str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
