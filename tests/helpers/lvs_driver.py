"""Runs the LVS worker's objects inside a network namespace for tests.

Started as ``ip netns exec NS python lvs_driver.py``; reads one JSON command per line on stdin and
answers one JSON line on stdout. libnftables acts on the caller's namespace, so the real
:class:`~hadaemon.lvs.service.LvsService` / :class:`~hadaemon.lvs.nft.NftBackend` run here, exactly
as in the ``lvs`` worker.

Commands: ``start {config}``, ``config {config}``, ``rs {vs, rs, up, weight}``,
``vip {vip, owned}``, ``resync``, ``status``, ``stop``, ``services {services}`` (raw desired
services, bypassing the config), ``batch`` (last nft transaction text), ``nft {cmd}``.
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


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    loop = asyncio.new_event_loop()
    backend = NftBackend()
    events: list[tuple[str, dict[str, Any]]] = []
    svc: LvsService | None = None
    engine = LvsEngine(backend)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd["op"]
        out: dict[str, Any] = {"ok": True}
        t0 = time.perf_counter()
        try:
            if op == "start":
                svc = LvsService(
                    Config.from_dict(cmd["config"]),
                    lambda k, b: events.append((k, b)),
                    backend=backend,
                    resync_interval_s=0,
                )
                loop.run_until_complete(svc.start())
                out["problems"] = [str(p) for p in svc.problems]
            elif op == "config":
                assert svc is not None
                loop.run_until_complete(svc.apply_config(Config.from_dict(cmd["config"])))
            elif op == "rs":
                assert svc is not None
                svc.set_real_server_state(
                    cmd["vs"], tuple(cmd["rs"]), cmd["up"], cmd.get("weight")
                )
            elif op == "vip":
                assert svc is not None
                svc.set_vip_owned(cmd["vip"], cmd["owned"])
            elif op == "resync":
                ops = svc.resync() if svc is not None else engine.resync()
                out["ops"] = [type(o).__name__ for o in ops]
            elif op == "status":
                assert svc is not None
                out["status"] = svc.status()
            elif op == "stop":
                if svc is not None:
                    loop.run_until_complete(svc.stop())
                else:
                    backend.destroy()
            elif op == "services":
                services = [service_from_dict(d) for d in cmd["services"]]
                ops = engine.set_desired(services)
                out["ops"] = [type(o).__name__ for o in ops]
            elif op == "pending":
                out["ops"] = [
                    type(o).__name__ for o in reconcile(engine.desired, backend.read_actual())
                ]
            elif op == "counters":
                out["counters"] = backend.counters()
            elif op == "batch":
                out["batch"] = backend.last_batch
            elif op == "nft":
                out["out"] = backend.run(cmd["cmd"])
            elif op == "events":
                out["events"] = events
            else:
                raise ValueError(f"unknown op {op}")
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


if __name__ == "__main__":
    main()
