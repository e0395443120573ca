"""Worker process entry: host one service object behind the supervisor's pipe.

Started by the supervisor as ``python -m hadaemon.workers.base --name vrrp --module
hadaemon.workers.vrrp --fd N --ppid P``. The process

* names itself ``hadaemon: <name>`` (setproctitle), asks for ``PR_SET_PDEATHSIG`` = SIGTERM and
  exits at once if the supervisor is already gone (it runs in its own process group, made by
  the supervisor's ``posix_spawn(setpgroup=0)``);
* imports its module (and ``PRELOAD``), says :class:`~hadaemon.ipc.messages.Hello` (a standby
  process is then warm), waits for :class:`Configure`, builds the service
  with ``module.make_service(config, emit, options)`` and ``await service.start()``, then says
  :class:`Ready`;
* serves ApplyConfig / StatusRequest / Ping / DumpRequest / RealServerState / VipState /
  BfdState / Shutdown until the pipe closes, SIGTERM/SIGINT arrives or Shutdown is received, then
  ``await service.stop()`` and exits 0.

A worker module provides ``make_service(config, emit, options) -> service`` and optionally
``decode_config(wire: dict) -> object`` (default: ``hadaemon.config.model.Config.from_dict``).
``options`` holds ``handback`` (instance → last state known to the supervisor; a respawned vrrp
worker resumes from it), ``restart`` (True if this is a respawn), ``no_bpf``, ``debug``,
``config_id`` and ``run_dir``.

Exit codes (:mod:`hadaemon.supervisor.lifecycle`): 78 the config was rejected and 77 missing
permission (both permanent: no respawn loop), 69 the module cannot be imported (permanent), 70
any other failure, 76 a malformed frame from the supervisor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import inspect
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from hadaemon.ipc import messages as m
from hadaemon.ipc.channel import Channel
from hadaemon.supervisor.lifecycle import (
    EXIT_CONFIG,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_SOFTWARE,
    EXIT_UNAVAILABLE,
)

log = logging.getLogger("hadaemon.worker")

STOP_TIMEOUT_S = 4.0

Emit = Callable[[str, dict[str, Any]], None]


def _default_decode(wire: dict[str, Any]) -> Any:
    from hadaemon.config.model import Config

    return Config.from_dict(wire)


def classify_error(exc: BaseException) -> int:
    """Exit code for an exception raised while building or starting a service."""
    if isinstance(exc, PermissionError):
        return EXIT_NOPERM
    if isinstance(exc, ValueError | KeyError | TypeError) or type(exc).__name__ in (
        "ConfigError",
        "ValidationError",
    ):
        return EXIT_CONFIG
    return EXIT_SOFTWARE


def apply_handback(config: Any, handback: dict[str, str]) -> Any:
    """The config with each VRRP instance's ``state`` set to the state handed back.

    A respawned vrrp worker whose instance was MASTER starts it as ``state MASTER`` (first
    advert after one interval instead of a full Master_Down_Interval, unless a master is
    heard); one that was BACKUP starts as BACKUP.
    """
    if not handback or not hasattr(config, "vrrp_instances"):
        return config
    insts = tuple(
        i.replace(state=handback[i.name]) if handback.get(i.name) in ("MASTER", "BACKUP") else i
        for i in config.vrrp_instances
    )
    return config.replace(vrrp_instances=insts)


def vrrp_make_service(config: Any, emit: Emit, options: dict[str, Any]) -> Any:
    """Default factory for the vrrp worker (used while ``hadaemon.workers.vrrp`` has none)."""
    from hadaemon.io.driver import VrrpService

    sched = getattr(importlib.import_module("hadaemon.workers.vrrp"), "_sched", None)
    if sched is not None:
        sched(config)
    config = apply_handback(config, options.get("handback") or {})
    return VrrpService(config, emit, no_bpf=bool(options.get("no_bpf")))


#: modules a worker imports before it is configured (a standby process has them loaded when
#: it is adopted); a worker module may name its own in ``PRELOAD``
PRELOAD: dict[str, tuple[str, ...]] = {
    "vrrp": ("hadaemon.io.driver",),
    "checker": ("hadaemon.checkers.service",),
    "lvs": ("hadaemon.lvs.service",),
}

FALLBACK_FACTORIES: dict[str, Callable[[Any, Emit, dict[str, Any]], Any]] = {
    "vrrp": vrrp_make_service,
}


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class WorkerHost:
    """Runs one service object for the supervisor over ``chan``."""

    def __init__(self, name: str, module_name: str, chan: Channel) -> None:
        self.name = name
        self.module_name = module_name
        self.chan = chan
        self.service: Any = None
        self.decode: Callable[[dict[str, Any]], Any] = _default_decode
        self._stop = asyncio.Event()
        self.exit_code = EXIT_OK

    def emit(self, kind: str, body: dict[str, Any]) -> None:
        """The service's event callback: typed messages for known kinds, else ServiceEvent."""
        try:
            msg = m.from_emit(kind, body)
        except m.MalformedFrame as exc:
            log.error("%s: service emitted a bad %r event: %s", self.name, kind, exc)
            return
        try:
            self.chan.send(msg)
        except m.ChannelClosed:
            self._stop.set()
        except ValueError as exc:  # over the frame size cap: our bug, never the peer's
            log.error("%s: %r event not sent: %s", self.name, kind, exc)

    def _fatal(self, exc: BaseException, code: int) -> int:
        log.error("%s: cannot run: %s", self.name, exc)
        with contextlib.suppress(Exception):
            self.chan.send(m.Fatal(message=f"{type(exc).__name__}: {exc}", exit_code=code))
        return code

    async def run(self) -> int:
        """The whole life of the worker; returns the exit code."""
        try:  # import (slow: pyroute2, bcc) before saying Hello: a standby is then "warm"
            module = importlib.import_module(self.module_name)
            preload = getattr(module, "PRELOAD", None)
            if preload is None:
                preload = PRELOAD.get(self.name, ())
            for name in ("hadaemon.config.model", *preload):
                importlib.import_module(name)
        except Exception as exc:
            return self._fatal(exc, EXIT_UNAVAILABLE)
        self.chan.send(m.Hello(worker=self.name, pid=os.getpid()))
        try:
            first = await self.chan.recv_message()
        except m.ChannelClosed:
            return EXIT_OK
        except m.MalformedFrame as exc:
            log.error("%s: malformed first frame from supervisor: %s", self.name, exc)
            return EXIT_PROTOCOL
        if not isinstance(first, m.Configure):
            log.error("%s: expected configure, got %s", self.name, first.KIND)
            return EXIT_PROTOCOL
        with contextlib.suppress(ImportError):
            from setproctitle import setproctitle

            setproctitle(f"hadaemon: {self.name}")
        self.decode = getattr(module, "decode_config", _default_decode)
        options = dict(first.options)
        options["handback"] = dict(first.handback)
        try:
            config = self.decode(first.config)
            factory = getattr(module, "make_service", None) or FALLBACK_FACTORIES[self.name]
            self.service = factory(config, self.emit, options)
            await _maybe_await(self.service.start())
        except Exception as exc:
            return self._fatal(exc, classify_error(exc))
        # until here SIGTERM (also PR_SET_PDEATHSIG's) keeps its default action: a worker
        # that is still starting (or a standby) dies at once; from now on it stops in order
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        gc.collect()
        gc.freeze()
        self.chan.send(m.Ready(worker=self.name))
        reader = asyncio.create_task(self._serve())
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        stopper.cancel()
        try:
            await asyncio.wait_for(_maybe_await(self.service.stop()), STOP_TIMEOUT_S)
        except Exception as exc:
            log.error("%s: stop failed: %s", self.name, exc)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.chan.drain(), 1.0)
        return self.exit_code

    async def _serve(self) -> None:
        while True:
            try:
                msg = await self.chan.recv_message()
            except m.ChannelClosed:
                log.info("%s: supervisor pipe closed, stopping", self.name)
                return
            except m.MalformedFrame as exc:
                log.error("%s: malformed frame from supervisor: %s", self.name, exc)
                self.exit_code = EXIT_PROTOCOL
                return
            if isinstance(msg, m.Shutdown):
                log.info("%s: shutdown requested (%s)", self.name, msg.reason)
                return
            try:
                await self._dispatch(msg)
            except m.ChannelClosed:
                return
            except Exception as exc:  # a service bug must not kill the pipe
                log.exception("%s: handling %s failed: %s", self.name, msg.KIND, exc)

    async def _dispatch(self, msg: m.Message) -> None:
        svc = self.service
        if isinstance(msg, m.Ping):
            self.chan.send(m.Pong(nonce=msg.nonce))
        elif isinstance(msg, m.StatusRequest):
            status = _jsonable(svc.status())
            self.chan.send(m.StatusReply(req_id=msg.req_id, status=status))
        elif isinstance(msg, m.ApplyConfig):
            started = time.perf_counter()
            await _maybe_await(svc.apply_config(self.decode(msg.config)))
            log.info(
                "%s: configuration applied (generation %d) in %.0f ms",
                self.name,
                msg.generation,
                (time.perf_counter() - started) * 1e3,
            )
        elif isinstance(msg, m.DumpRequest):
            error = None
            try:
                _write_dump(msg.path, msg.what, svc)
            except OSError as exc:
                error = str(exc)
            self.chan.send(m.DumpDone(req_id=msg.req_id, path=msg.path, error=error))
        elif isinstance(msg, m.RealServerState):
            # LvsService.set_real_server_state(vs_key, (rs_ip, rs_port), up, weight)
            fn = getattr(svc, "set_real_server_state", None)
            if fn is not None:
                await _maybe_await(
                    fn(msg.vs_key or msg.vs, (msg.rs_ip, msg.rs_port), msg.up, msg.weight)
                )
        elif isinstance(msg, m.VipState):
            # LvsService.set_vip_owned(vip, owned); CheckerService.set_address_state(ip, present)
            fn = getattr(svc, "set_vip_owned", None) or getattr(svc, "set_address_state", None)
            if fn is not None:
                for addr in msg.addresses:
                    await _maybe_await(fn(str(addr), msg.owned))
            # LvsService.set_instance_state(instance, master): lvs_sync_daemon follows it
            fn = getattr(svc, "set_instance_state", None)
            if fn is not None:
                await _maybe_await(fn(msg.instance, msg.owned))
        elif isinstance(msg, m.BfdState):
            # VrrpService / CheckerService.set_bfd_state(name, up): track_bfd, BFD_CHECK
            fn = getattr(svc, "set_bfd_state", None)
            if fn is not None:
                await _maybe_await(fn(msg.name, msg.up))
        else:
            log.debug("%s: ignoring %s", self.name, msg.KIND)
        await self.chan.drain()


def _jsonable(obj: Any) -> dict[str, Any]:
    """Round-trip through JSON so only plain types travel (tuples, enums via str)."""
    out = json.loads(json.dumps(obj, default=str))
    return out if isinstance(out, dict) else {"status": out}


def _write_dump(path: str, what: str, svc: Any) -> None:
    dump = getattr(svc, "dump", None)
    text = dump(what) if dump is not None else json.dumps(_jsonable(svc.status()), indent=2)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def build_parser() -> argparse.ArgumentParser:
    """Arguments given by the supervisor."""
    p = argparse.ArgumentParser(prog="hadaemon-worker")
    p.add_argument("--name", required=True)
    p.add_argument("--module", required=True)
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--ppid", type=int, required=True)
    p.add_argument("--log", default="stderr", choices=("stderr", "syslog"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--standby", action="store_true", help="a standby process (title only)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Worker process entry point."""
    args = build_parser().parse_args(argv)
    from setproctitle import setproctitle

    from hadaemon.log import setup_logging
    from hadaemon.supervisor.os_ops import prctl_pdeathsig

    setproctitle(f"hadaemon: {args.name}" + (" (standby)" if args.standby else ""))
    prctl_pdeathsig(signal.SIGTERM)
    if os.getppid() != args.ppid:  # the supervisor died before prctl took effect
        return EXIT_OK
    setup_logging(args.log, args.debug, ident=f"hadaemon_{args.name}")
    sock = socket.socket(fileno=args.fd)
    sock.set_inheritable(False)

    async def _main() -> int:
        chan = await Channel.open(sock)
        try:
            return await WorkerHost(args.name, args.module, chan).run()
        finally:
            chan.close()

    try:
        return asyncio.run(_main())
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
