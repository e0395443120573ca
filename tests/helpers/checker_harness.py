"""Run a ``CheckerService`` inside a namespace and watch what it emits.

The harness process (``python -m helpers.checker_harness CONFIG``; CONFIG is a pickled
``CheckerConfig`` or a keepalived.conf parsed by ``hadaemon.config``) prints one JSON line per
event: ``{"kind": "real_server_state"|..., "body": ...}``, ``{"kind": "attempt", "cid": [..],
"ok": bool, "reason": str}`` and ``{"kind": "log", "msg": ...}``; SIGTERM stops the service
(omega scripts run) and prints ``{"kind": "stopped"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from helpers.netns import Topology, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
SERVERS = str(Path(__file__).with_name("checker_servers.py"))


def _out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class _JsonLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _out({"kind": "log", "msg": record.getMessage()})


async def _amain(path: str) -> None:
    from hadaemon.checkers.service import CheckerService

    if path.endswith(".conf"):
        from hadaemon.config import load

        cfg = load(path).config
    else:
        with open(path, "rb") as fh:
            cfg = pickle.load(fh)
    logging.getLogger("hadaemon.checkers").addHandler(_JsonLog())
    logging.getLogger("hadaemon.checkers").setLevel(logging.INFO)
    svc = CheckerService(
        cfg,
        lambda kind, body: _out({"kind": kind, "body": body}),
        on_attempt=lambda cid, r: _out(
            {
                "kind": "attempt",
                "cid": list(cid),
                "ok": r.ok,
                "reason": r.reason,
                "weight": r.weight,
            }
        ),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await svc.start()
    _out({"kind": "started"})
    await stop.wait()
    await svc.stop()
    _out({"kind": "stopped"})


class CheckerRun:
    """A harness process in namespace ``ns`` and the events it printed so far."""

    def __init__(self, topo: Topology, ns: str, config: Any, tmp_path: Path) -> None:
        if isinstance(config, str):  # keepalived.conf text: parsed by hadaemon.config
            cfg_path = tmp_path / f"checker-{time.monotonic_ns()}.conf"
            cfg_path.write_text(config)
        else:
            cfg_path = tmp_path / f"checker-{time.monotonic_ns()}.pickle"
            cfg_path.write_bytes(pickle.dumps(config))
        env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}")
        self.proc = topo.popen(
            ns,
            [sys.executable, "-m", "helpers.checker_harness", str(cfg_path)],
            env=env,
            cwd=str(ROOT),
            stderr=subprocess.PIPE,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.wait(lambda: self.find("started"), 10, "harness start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"kind": "junk", "line": line.decode(errors="replace")})

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def find(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Events of ``kind`` whose body (or the event) contains ``match``."""
        out = []
        for e in list(self.events):
            if e["kind"] != kind:
                continue
            body = e.get("body", e)
            if all(body.get(k) == v for k, v in match.items()):
                out.append(e)
        return out

    def rs_states(self, rs_ip: str, rs_port: int | None = None) -> list[dict[str, Any]]:
        """Bodies of real_server_state events for one real server, in order."""
        m: dict[str, Any] = {"rs_ip": rs_ip}
        if rs_port is not None:
            m["rs_port"] = rs_port
        return [e["body"] for e in self.find("real_server_state", **m)]

    def attempts(self, cid: tuple[int, int, int]) -> list[dict[str, Any]]:
        """Attempt events of one checker, in order."""
        return [e for e in self.find("attempt") if tuple(e["cid"]) == cid]

    def first_attempts(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait for one attempt of each of the first ``count`` checkers of real server (0, 0);
        their first attempt events, in checker order."""
        cids = [(0, i, 0) for i in range(count)]
        self.wait(
            lambda: all(self.attempts(c) for c in cids), timeout_s, "an attempt of every checker"
        )
        return [self.attempts(c)[0] for c in cids]

    def logs(self) -> list[str]:
        return [e["msg"] for e in self.find("log")]

    def wait(self, pred: Any, timeout_s: float, what: str) -> Any:
        def check() -> Any:
            if self.proc.poll() is not None and not pred():
                raise AssertionError(
                    f"harness exited while waiting for {what}: "
                    f"{self.stderr.decode(errors='replace')[-2000:]}"
                )
            return pred()

        return wait_for(check, timeout_s, what=what)

    def stop(self) -> None:
        """SIGTERM (the service stops, omega runs), then wait for the process."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._t.join(timeout=5)


def start_server(topo: Topology, ns: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``checker_servers.py`` in ``ns`` and wait for READY."""
    p = topo.popen(
        ns, [sys.executable, SERVERS, *args], env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    if b"READY" not in line:
        rest = p.stdout.read() if p.poll() is not None else b""
        raise AssertionError(f"server {args} did not start: {line!r} {rest!r}")
    return p


def stop_server(p: subprocess.Popen[bytes]) -> None:
    """Kill a server we started (its whole process group) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=5)


if __name__ == "__main__":
    asyncio.run(_amain(sys.argv[1]))
