"""``hadaemon genhash``: keepalived's genhash - the MD5 digest of a URL for HTTP_GET/SSL_GET.

    hadaemon genhash -s 10.0.0.11 -p 80 -u /health [-S|--ssl] [-V vhost] [-I sni] [-r 1.1]

prints ``MD5SUM = <hex>`` - the value to put in ``url { digest ... }``. It uses the same HTTP
client as the checker, so the digest is computed exactly as the checker will.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from hadaemon.checkers.probes.http import HttpError, fetch, make_ssl_context


def build_parser() -> argparse.ArgumentParser:
    """keepalived genhash's options."""
    p = argparse.ArgumentParser(
        prog="hadaemon genhash", description="Compute the MD5 digest of a URL for HTTP_GET."
    )
    p.add_argument("-s", "--server", required=True, help="server IP address")
    p.add_argument("-p", "--port", type=int, help="TCP port (default 80, or 443 with --ssl)")
    p.add_argument("-u", "--url", required=True, help="URL path, e.g. /index.html")
    p.add_argument("-S", "--use-ssl", "--ssl", dest="ssl", action="store_true", help="use TLS")
    p.add_argument("-V", "--use-virtualhost", dest="vhost", help="Host: header to send")
    p.add_argument("-I", "--sni", dest="sni", help="TLS server name indication")
    p.add_argument(
        "-r",
        "--release",
        dest="http_protocol",
        default="1.0",
        choices=["1.0", "1.0C", "1.1"],
        help="HTTP protocol version",
    )
    p.add_argument("-t", "--timeout", type=float, default=5.0, help="timeout in seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="print status and headers")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 fetch failed, 2 usage)."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    port = args.port or (443 if args.ssl else 80)
    if not 0 < port < 65536:
        print(f"genhash: invalid port {port}", file=sys.stderr)
        return 2
    try:
        resp = asyncio.run(
            fetch(
                args.server,
                port,
                args.url,
                virtualhost=args.vhost,
                http_protocol=args.http_protocol,
                ssl_context=make_ssl_context(None) if args.ssl else None,
                server_hostname=args.sni,
                timeout_s=args.timeout,
                want_digest=True,
            )
        )
    except HttpError as exc:
        print(f"genhash: {args.server}:{port}{args.url}: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"genhash: {exc}", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"HTTP status code: {resp.status}")
        for k, v in resp.headers.items():
            print(f"{k}: {v}")
        print(f"body: {resp.body_bytes} bytes")
    print(f"MD5SUM = {resp.digest}")
    return 0
