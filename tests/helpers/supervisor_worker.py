"""A small real service for supervisor tests, hosted by ``hadaemon.workers.base``.

Its wire config is a plain map (``decode_config`` is the identity):

* ``instances``: ``{name: state}`` — emitted as ``state_changed`` at start; a state handed back
  by the supervisor (``options["handback"]``) wins, and the instance is then ``resumed``;
* ``emit_rs``: ``[[vs_key, rs_ip, rs_port, up], ...]`` — emitted as ``real_server_state``
  at start, with the checker's body shape;
* ``fail``: ``"config"`` makes ``make_service`` raise ValueError (a permanent error);
* ``garbage_once``: a path; if it does not exist the worker creates it and writes a malformed
  frame to the supervisor (a respawned worker then behaves).

Real server states and VRRP states the supervisor forwards are kept and shown in ``status()``.
"""

from __future__ import annotations

import gc
import os
import struct
from collections.abc import Callable
from typing import Any

#: nothing heavy to import before Configure
PRELOAD: tuple[str, ...] = ()


def decode_config(wire: dict[str, Any]) -> dict[str, Any]:
    """The identity: this worker takes the raw map."""
    return wire


class TestService:
    """Implements the service contract (start/stop/apply_config/status)."""

    def __init__(
        self,
        config: dict[str, Any],
        emit: Callable[[str, dict[str, Any]], None],
        options: dict[str, Any],
    ) -> None:
        self.config = config
        self.emit = emit
        self.options = options
        self.handback: dict[str, str] = dict(options.get("handback") or {})
        self.states: dict[str, str] = {}
        self.resumed: list[str] = []
        self.rs_received: list[list[Any]] = []
        self.vrrp_seen: dict[str, str] = {}
        self.applied = 0
        self.started = False

    async def start(self) -> None:
        for name, state in (self.config.get("instances") or {}).items():
            if name in self.handback:
                state = self.handback[name]
                self.resumed.append(name)
            self.states[name] = state
            self.emit(
                "state_changed",
                {
                    "instance": name,
                    "state": state,
                    "prev_state": "INIT",
                    "reason": "resumed" if name in self.resumed else "start",
                },
            )
        for vs, ip, port, up in self.config.get("emit_rs") or []:
            body = {
                "vs": vs,
                "vs_key": vs,
                "rs_ip": ip,
                "rs_port": port,
                "up": up,
                "present": up,
                "weight": 1,
                "reason": "test",
            }
            self.emit("real_server_state", body)
        garbage = self.config.get("garbage_once")
        if garbage and not os.path.exists(garbage):
            open(garbage, "w").close()
            from hadaemon.ipc.channel import Channel

            for obj in gc.get_objects():
                if isinstance(obj, Channel):
                    obj.writer.write(struct.pack(">I", 5) + b"\xc1\xc1\xc1\xc1\xc1")
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def apply_config(self, config: dict[str, Any]) -> None:
        self.config = config
        self.applied += 1

    def set_real_server_state(
        self, vs_key: str, rs_key: tuple[str, int | None], up: bool, weight: int | None = None
    ) -> None:
        self.rs_received.append([vs_key, rs_key[0], rs_key[1], up])

    def set_vip_owned(self, vip: str, owned: bool) -> None:
        self.vrrp_seen[vip] = "owned" if owned else "not owned"

    def status(self) -> dict[str, Any]:
        return {
            "instances": [
                {
                    "name": n,
                    "state": s,
                    "interface": "eth1",
                    "vrid": 51 + i,
                    "base_priority": 100,
                    "stats": {
                        "advert_sent": 7,
                        "advert_rcvd": 3,
                        "become_master": 1,
                        "ip_ttl_err": 2,
                    },
                }
                for i, (n, s) in enumerate(sorted(self.states.items()))
            ],
            "resumed": self.resumed,
            "handback": self.handback,
            "restart": self.options.get("restart"),
            "rs_received": self.rs_received,
            "vrrp_seen": self.vrrp_seen,
            "applied": self.applied,
            "config": self.config,
        }


def make_service(
    config: dict[str, Any], emit: Callable[[str, dict[str, Any]], None], options: dict[str, Any]
) -> TestService:
    """Worker-module entry point used by ``hadaemon.workers.base``."""
    if config.get("fail") == "config":
        raise ValueError("test worker: config rejected on purpose")
    return TestService(config, emit, options)
