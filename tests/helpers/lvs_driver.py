"""Runs the LVS worker's objects inside a network namespace for tests.

Started as ``ip netns exec NS python lvs_driver.py``; reads one JSON command per line on stdin and
answers one JSON line on stdout. libnftables acts on the caller's namespace, so the real
:class:`~hadaemon.lvs.service.LvsService` / :class:`~hadaemon.lvs.nft.NftBackend` run here, exactly
as in the ``lvs`` worker. The asyncio loop keeps running between commands, so a real
``CheckerService`` can feed the LVS service (``start`` with ``"checker": true``), the way the
supervisor routes ``real_server_state`` events.

Commands: ``start {config, checker}``, ``config {config}``, ``rs {vs, rs, up, weight}``,
``vip {vip, owned}``, ``resync``, ``status``, ``stop``, ``services {services}`` (raw desired
services, bypassing the config), ``pending``, ``counters``, ``batch``, ``nft {cmd}``, ``events``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, __file__.rsplit("/tests/", 1)[0])

from hadaemon.config.model import Config  # noqa: E402
from hadaemon.lvs.model import service_from_dict  # noqa: E402
from hadaemon.lvs.nft import NftBackend  # noqa: E402
from hadaemon.lvs.reconcile import reconcile  # noqa: E402
from hadaemon.lvs.service import LvsEngine, LvsService  # noqa: E402


class Driver:
    def __init__(self) -> None:
        self.backend = NftBackend()
        self.engine = LvsEngine(self.backend)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.svc: LvsService | None = None
        self.checker: Any = None

    def emit(self, kind: str, body: dict[str, Any]) -> None:
        self.events.append((kind, body))

    def checker_emit(self, kind: str, body: dict[str, Any]) -> None:
        self.events.append((kind, body))
        if self.svc is not None:
            self.svc.handle_event(kind, body)

    async def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        out: dict[str, Any] = {"ok": True}
        if op == "start":
            config = Config.from_dict(cmd["config"])
            self.svc = LvsService(config, self.emit, backend=self.backend, resync_interval_s=0)
            await self.svc.start()
            out["problems"] = [str(p) for p in self.svc.problems]
            if cmd.get("checker"):
                from hadaemon.checkers.service import CheckerService

                self.checker = CheckerService(config, self.checker_emit)
                await self.checker.start()
        elif op == "config":
            assert self.svc is not None
            await self.svc.apply_config(Config.from_dict(cmd["config"]))
        elif op == "rs":
            assert self.svc is not None
            self.svc.set_real_server_state(
                cmd["vs"], tuple(cmd["rs"]), cmd["up"], cmd.get("weight")
            )
        elif op == "vip":
            assert self.svc is not None
            self.svc.set_vip_owned(cmd["vip"], cmd["owned"])
        elif op == "resync":
            ops = self.svc.resync() if self.svc is not None else self.engine.resync()
            out["ops"] = [type(o).__name__ for o in ops]
        elif op == "status":
            assert self.svc is not None
            out["status"] = self.svc.status()
        elif op == "stop":
            if self.checker is not None:
                await self.checker.stop(run_omega=False)
                self.checker = None
            if self.svc is not None:
                await self.svc.stop()
            else:
                self.backend.destroy()
        elif op == "services":
            services = [service_from_dict(d) for d in cmd["services"]]
            out["ops"] = [type(o).__name__ for o in self.engine.set_desired(services)]
        elif op == "pending":
            actual = self.backend.read_actual()
            out["ops"] = [type(o).__name__ for o in reconcile(self.engine.desired, actual)]
        elif op == "counters":
            out["counters"] = self.backend.counters()
        elif op == "batch":
            out["batch"] = self.backend.last_batch
        elif op == "nft":
            out["out"] = self.backend.run(cmd["cmd"])
        elif op == "events":
            out["events"] = self.events
        else:
            raise ValueError(f"unknown op {op}")
        return out


async def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    loop = asyncio.get_running_loop()
    d = Driver()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if not line.strip():
            continue
        t0 = time.perf_counter()
        try:
            out = await d.run(json.loads(line))
        except Exception as e:  # noqa: BLE001 - reported to the test
            out = {
                "ok": False,
                "error": str(e),
                "type": type(e).__name__,
                "trace": traceback.format_exc(),
            }
        out["ms"] = (time.perf_counter() - t0) * 1e3
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    if d.checker is not None:
        await d.checker.stop(run_omega=False)


if __name__ == "__main__":
    asyncio.run(main())
