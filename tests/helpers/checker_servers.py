"""Real servers for checker tests, run inside a namespace: ``python checker_servers.py MODE ...``.

Each prints ``READY`` once listening. Modes:
  tcp IP PORT                       accept and close
  http IP PORT [CERT KEY]           HTTP (HTTPS with cert/key) with paths:
      /ok -> 200 "hello checker"   /503 -> 503   /garbage -> garbage headers
      /big -> 200 with a 100 MB body (streamed)  /hang -> never answers  /reset -> RST
      /sni -> 200 with the TLS SNI name as body  /chunked -> chunked "hello checker"
  hang IP PORT                      accept and never answer
  dns IP PORT                       answer every query NOERROR (A 10.9.9.9 for A queries)
  udp IP PORT                       echo datagrams back prefixed with b"OK"
  smtp IP PORT                      aiosmtpd SMTP server
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys

BIG_BYTES = 100 * 1024 * 1024
OK_BODY = b"hello checker"


def ready() -> None:
    print("READY", flush=True)


async def http_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        req = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    path = req.split(b" ", 2)[1].decode()
    ssl_obj = writer.get_extra_info("ssl_object")
    if path == "/hang":
        await asyncio.sleep(3600)
        return
    if path == "/reset":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    if path == "/ok":
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
    elif path == "/chunked":
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nhello \r\n7\r\nchecker\r\n0\r\n\r\n"
        )
    elif path == "/503":
        writer.write(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    elif path == "/garbage":
        writer.write(b"HTTP/1.0 200 OK\r\n\x00\xff\xfe garbage without colon\r\n\r\nbody")
    elif path == "/sni":
        name = (getattr(ssl_obj, "sni", None) or "none").encode()
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(name) + name)
    elif path == "/big":
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG_BYTES)
        chunk = b"\0" * (1024 * 1024)
        try:
            for _ in range(BIG_BYTES // len(chunk)):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            return
    else:
        writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def main(argv: list[str]) -> None:
    mode, ip, port = argv[0], argv[1], int(argv[2])
    if mode == "tcp":

        async def close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.close()

        srv = await asyncio.start_server(close, ip, port, reuse_address=True)
    elif mode == "hang":

        async def hang(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(3600)

        srv = await asyncio.start_server(hang, ip, port, reuse_address=True)
    elif mode == "http":
        ctx = None
        if len(argv) > 3:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(argv[3], argv[4])

            def remember_sni(sslobj: ssl.SSLObject, name: str | None, c: ssl.SSLContext) -> None:
                sslobj.sni = name  # type: ignore[attr-defined]

            ctx.sni_callback = remember_sni  # type: ignore[assignment]
        srv = await asyncio.start_server(http_handler, ip, port, ssl=ctx, reuse_address=True)
    elif mode in ("dns", "udp"):
        import dns.message
        import dns.rrset

        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.t = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if mode == "udp":
                    self.t.sendto(b"OK" + data, addr)  # type: ignore[attr-defined]
                    return
                q = dns.message.from_wire(data)
                r = dns.message.make_response(q)
                if q.question and q.question[0].rdtype == 1:
                    r.answer.append(
                        dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "10.9.9.9")
                    )
                self.t.sendto(r.to_wire(), addr)  # type: ignore[attr-defined]

        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Proto, local_addr=(ip, port))
        ready()
        await asyncio.sleep(3600)
        return
    elif mode == "smtp":
        from aiosmtpd.controller import Controller

        class Sink:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                return "250 OK"

        c = Controller(Sink(), hostname=ip, port=port)
        c.start()
        ready()
        await asyncio.sleep(3600)
        return
    else:
        raise SystemExit(f"unknown mode {mode}")
    ready()
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
