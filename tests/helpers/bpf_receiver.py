"""A receive path running inside a namespace, driven over stdin/stdout (JSON lines).

``python bpf_receiver.py --bind eth1:4:51,52 [--bind eth1:6:52] [--mode auto|classic|xdp|tc]
[--no-bcc]`` opens an :class:`~hadaemon.io.receive.AutoReceivePath`, upgrades it to eBPF
unless ``classic``, prints ``{"ready": kind, ...}`` and then answers one command per stdin line:

``read``      drain the sockets, reply with the packets read since the last ``read``
``status``    reply with status(), counters() and every last_seen()
``vrids IF FAM V,V``   update_vrids
``quit``      close (detach) and exit

``--no-bcc`` makes ``import bcc`` fail (as on a host without python3-bpfcc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _pk(r: Any, kind: str, now: int) -> dict[str, Any]:
    return {
        "vrid": r.data[1],
        "prio": r.data[2],
        "ttl": r.ttl,
        "src": r.src,
        "dst": r.dst,
        "ifindex": r.ifindex,
        "family": r.family,
        "stamp_ns": r.stamp_ns,
        "read_ns": now,
        "addr0": ".".join(str(b) for b in r.data[8:12]),
        "kind": kind,
    }


async def collect(path: Any, seconds: float) -> list[dict[str, Any]]:
    """Read on every socket from the loop while the eBPF upgrade runs in a thread.

    Prints ``{"switched": kind}`` when the upgrade is over, then reads ``seconds`` more.
    """
    loop = asyncio.get_running_loop()
    out: list[dict[str, Any]] = []

    def on_readable(fd: int) -> None:
        now = time.monotonic_ns()
        out.extend(_pk(r, path.kind, now) for r in path.read(fd))

    for fd in path.filenos():
        loop.add_reader(fd, on_readable, fd)
    await path.upgrade()
    print(json.dumps({"switched": path.kind}), flush=True)
    await asyncio.sleep(seconds)
    for fd in path.filenos():
        loop.remove_reader(fd)
    now = time.monotonic_ns()
    out.extend(_pk(r, path.kind, now) for r in path.read())
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", action="append", required=True)
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--no-bcc", action="store_true")
    ap.add_argument(
        "--collect",
        type=float,
        default=0.0,
        help="asyncio mode: read continuously while upgrading and this long after, "
        "print every packet, then serve commands",
    )
    a = ap.parse_args()
    if a.no_bcc:
        sys.modules["bcc"] = None  # type: ignore[assignment]
    from hadaemon.io.receive import AutoReceivePath, Binding

    binds = []
    for spec in a.bind:
        ifname, fam, vrids = spec.split(":")
        family = socket.AF_INET if fam == "4" else socket.AF_INET6
        binds.append(Binding(ifname, family, frozenset(int(v) for v in vrids.split(",") if v)))
    path = AutoReceivePath(
        binds, use_bpf=a.mode != "classic", attach_mode="auto" if a.mode == "classic" else a.mode
    )
    t0 = time.monotonic()
    if a.collect:
        print(json.dumps({"collect": a.collect, "kind": path.kind}), flush=True)
        got = asyncio.run(collect(path, a.collect))
        print(json.dumps({"collected": got}), flush=True)
    else:
        path.upgrade_sync()
    print(
        json.dumps(
            {
                "ready": path.kind,
                "upgrade_s": time.monotonic() - t0,
                "ebpf_error": path.status().get("ebpf_error"),
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "read":
            now = time.monotonic_ns()
            pk = [_pk(r, path.kind, now) for r in path.read()]
            print(json.dumps({"packets": pk}), flush=True)
        elif cmd[0] == "status":
            st = path.status()
            seen = {}
            for b in binds:
                idx = socket.if_nametoindex(b.ifname)
                for v in range(1, 256):
                    s = path.last_seen(idx, b.family, v)
                    if s is not None:
                        seen[f"{b.ifname}:{4 if b.family == socket.AF_INET else 6}:{v}"] = list(s)
            print(
                json.dumps(
                    {
                        "status": st,
                        "counters": path.counters(),
                        "drops": path.drop_counters(),
                        "last_seen": seen,
                        "kind": path.kind,
                        "now_ns": time.monotonic_ns(),
                    }
                ),
                flush=True,
            )
        elif cmd[0] == "vrids":
            family = socket.AF_INET if cmd[2] == "4" else socket.AF_INET6
            path.update_vrids(cmd[1], family, [int(v) for v in cmd[3].split(",") if v])
            print(json.dumps({"ok": True}), flush=True)
        elif cmd[0] == "quit":
            break
    path.close()
    print(json.dumps({"closed": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
