#!/usr/bin/env python3
"""Keep connecting to VIP:3306 and print who answered (and the VIP's ARP entry) on each change."""

from __future__ import annotations

import argparse
import socket
import subprocess
import time


def neigh(vip: str) -> str:
    out = subprocess.run(["ip", "neigh", "show", vip], capture_output=True, text=True).stdout
    parts = out.split()
    return parts[parts.index("lladdr") + 1] if "lladdr" in parts else "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vip", default="192.168.100.100")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=1.0)
    a = p.parse_args()
    last = None
    failed = 0
    t0 = time.monotonic()
    while True:
        try:
            with socket.create_connection((a.vip, a.port), timeout=a.timeout) as s:
                s.settimeout(a.timeout)
                answer = s.recv(64).decode(errors="replace").strip() or "empty answer"
        except OSError as e:
            answer = f"FAILED ({e.strerror or type(e).__name__})"
        failed += answer.startswith("FAILED")
        state = (answer, neigh(a.vip))
        if state != last:
            print(f"{time.monotonic() - t0:8.2f}s  answered by {state[0]:<24} ARP owner "
                  f"{state[1]}  (failed so far: {failed})", flush=True)
            last = state
        time.sleep(a.interval)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
