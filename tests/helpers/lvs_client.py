"""LVS test client: many short TCP connections, counts which real server answered.

Usage: ``python lvs_client.py VIP PORT COUNT [--src A,B,...] [--until FILE] [--timeout S]``
(IPv6 when VIP contains ``:``).
Each connection binds the next source address (round robin), reads one line (the server's name)
and closes. ``--until FILE`` keeps going (COUNT is then a minimum) until FILE exists.
Prints one JSON object: ``{"counts": {name: n}, "failed": n, "errors": [...],
"by_src": {src: [names]}, "total": n, "dsts": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket


def one(vip: str, port: int, src: str | None, timeout_s: float) -> str:
    s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout_s)
        if src:
            s.bind((src, 0))
        s.connect((vip, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            data += chunk
        if not data.endswith(b"\n"):
            raise OSError(f"short reply {data!r}")
        return data.decode().strip()
    finally:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("vip")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--src", default="")
    ap.add_argument("--until", default="")
    ap.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    srcs = [x for x in a.src.split(",") if x] or [None]
    counts: dict[str, int] = {}
    dsts: set[str] = set()
    by_src: dict[str, list[str]] = {}
    errors: list[str] = []
    failed = 0
    i = 0
    while i < a.count or (a.until and not os.path.exists(a.until)):
        src = srcs[i % len(srcs)]
        i += 1
        try:
            name = one(a.vip, a.port, src, a.timeout)
        except OSError as e:
            failed += 1
            if len(errors) < 20:
                errors.append(f"{src}: {e!r}")
            continue
        name, _, dst = name.partition(" ")
        dsts.add(dst)
        counts[name] = counts.get(name, 0) + 1
        by_src.setdefault(src or "", []).append(name)
    print(
        json.dumps(
            {
                "counts": counts,
                "failed": failed,
                "errors": errors,
                "by_src": by_src,
                "total": i,
                "dsts": sorted(dsts),
            }
        )
    )


if __name__ == "__main__":
    main()
