"""A real SMTP server (aiosmtpd) that records every mail: ``python smtp_sink.py IP PORT OUT``.

Each accepted mail is appended to OUT as one JSON line ``{helo, mail_from, rcpt_tos, data}``
(``helo`` is the HELO/EHLO name the client gave). Prints ``READY`` once listening.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


class Recorder:
    """aiosmtpd handler writing each mail to a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", errors="replace")
        rec = {
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": content,
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 OK"


async def main(ip: str, port: int, out: str) -> None:
    from aiosmtpd.controller import Controller

    c = Controller(Recorder(out), hostname=ip, port=port)
    c.start()
    print("READY", flush=True)
    try:
        await asyncio.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
