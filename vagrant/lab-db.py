#!/usr/bin/env python3
"""The lab's database stand-in: answers every TCP connection with its name, then closes it."""

from __future__ import annotations

import argparse
import socketserver


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=3306)
    a = p.parse_args()
    answer = f"{a.name}\n".encode()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(answer)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("0.0.0.0", a.port), Handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
