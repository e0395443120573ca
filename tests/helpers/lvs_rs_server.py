"""A real server for LVS tests: answers every TCP connection with ``NAME LOCAL_IP\\n``.

Usage: ``python lvs_rs_server.py NAME [--ipv6] PORT [PORT ...]``; prints ``ready`` once listening
(on 0.0.0.0, or on :: only with ``--ipv6``).
The client closes first (so TIME_WAIT stays on the client, which never reuses such ports).
"""

from __future__ import annotations

import asyncio
import sys


async def main(name: str, ports: list[int], host: str = "0.0.0.0") -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            local = writer.get_extra_info("sockname")[0]
            writer.write(f"{name} {local}\n".encode())
            await writer.drain()
            await asyncio.wait_for(reader.read(1), timeout=10)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(handle, host, p, backlog=1024) for p in ports]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    args = sys.argv[2:]
    v6 = "--ipv6" in args
    ports = [int(p) for p in args if p != "--ipv6"]
    asyncio.run(main(sys.argv[1], ports, "::" if v6 else "0.0.0.0"))
