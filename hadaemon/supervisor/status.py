"""Status socket server: ``<run-dir>/status.sock`` (mode 0600) answers one JSON document.

Protocol: connect, optionally send a request line (``status``; anything else is answered with
an error object), read the JSON document until EOF. ``hadaemon status`` is the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hadaemon.supervisor.main import Supervisor

log = logging.getLogger("hadaemon.supervisor.status")

REQUEST_WAIT_S = 0.2


async def start_status_server(sup: Supervisor, path: str) -> asyncio.AbstractServer:
    """Listen on ``path`` (replacing a stale socket) with mode 0600."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = b""
            with contextlib.suppress(TimeoutError, asyncio.LimitOverrunError, ValueError):
                request = await asyncio.wait_for(reader.readline(), REQUEST_WAIT_S)
            req = request.decode(errors="replace").strip() or "status"
            if req == "status":
                doc = await sup.collect_status()
            else:
                doc = {"error": f"unknown request {req[:40]!r}; send 'status'"}
            writer.write(json.dumps(doc, sort_keys=True, default=str).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            log.debug("status client went away: %s", exc)
        finally:
            writer.close()

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(handle, path=path)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return server
