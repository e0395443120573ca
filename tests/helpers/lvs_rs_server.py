"""A real server for LVS tests: answers every TCP connection with ``NAME LOCAL_IP\\n``.

Usage: ``python lvs_rs_server.py NAME PORT [PORT ...]``; prints ``ready`` once listening.
The client closes first (so TIME_WAIT stays on the client, which never reuses such ports).
"""

from __future__ import annotations

import asyncio
import sys


async def main(name: str, ports: list[int]) -> None:
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

    servers = [await asyncio.start_server(handle, "0.0.0.0", p, backlog=1024) for p in ports]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
