"""VRRP worker entry points.

:func:`run_foreground` is the single-process runner behind ``hadaemon -n -l -D -f FILE`` (and
``python -m hadaemon.workers.vrrp -f FILE``): parse the config, host a
:class:`hadaemon.io.driver.VrrpService` on an asyncio loop, SIGTERM/SIGINT → orderly stop
(priority-0 adverts, VIPs/routes/rules removed), SIGHUP → reload (a bad new config is logged
and the running one kept). The supervisor hosts the same ``VrrpService`` in its vrrp worker.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from hadaemon.log import setup_logging

__all__ = ["load_config", "main", "make_service", "run_foreground"]

log = logging.getLogger("hadaemon.vrrp")

EXIT_OK = 0
EXIT_CONFIG = 3
"""keepalived's "cannot run" exit status (bad config)."""


class ConfigLoadError(Exception):
    """The configuration could not be loaded (message already user-readable)."""


def load_config(path: str, config_id: str | None = None, *, strict: bool = False) -> Any:
    """Load and validate ``path`` with :func:`hadaemon.config.load`; log its diagnostics.

    A ``*.json`` file is read as the model's ``Config.to_dict()`` form (what the supervisor
    sends to workers; also handy for tests and tools). Raises :class:`ConfigLoadError` with a
    ``file:line:col: message`` text when nothing usable can be loaded, or (``strict``, used
    on reload so a bad file never replaces a running config) on any error.
    """
    if path.endswith(".json"):
        import json

        from hadaemon.config.model import Config

        try:
            with open(path) as fh:
                return Config.from_dict(json.load(fh))
        except OSError as exc:
            raise ConfigLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigLoadError(f"{path}: invalid JSON configuration: {exc}") from None
    try:
        from hadaemon.config import load
    except ImportError as exc:  # pragma: no cover - broken installation
        raise ConfigLoadError(f"configuration parser unavailable: {exc}") from None
    try:
        result = load(path, config_id)
    except OSError as exc:
        raise ConfigLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # ConfigError carries its location in str()
        raise ConfigLoadError(str(exc)) from None
    for d in getattr(result, "diagnostics", ()) or ():
        log.warning("%s", d)
    # an error that only disables one vrrp_instance (a missing interface) does not refuse a reload
    errors = [d for d in getattr(result, "errors", ()) or () if not getattr(d, "disables", None)]
    if errors and strict:
        raise ConfigLoadError(f"{len(errors)} error(s) in {path}; first: {errors[0]}")
    return result.config


def make_service(config: Any, emit: Any, options: dict[str, Any]) -> Any:
    """The supervisor's hook (``hadaemon.workers.base``): the vrrp worker's service object.

    ``options``: ``no_bpf`` (bool), ``restart`` (bool) and ``handback`` (instance → last
    state): a respawned worker resumes its MASTER instances at once, without removing their
    VIPs, so peers never see a gap longer than the respawn.
    """
    from hadaemon.io.driver import VrrpService

    _sched(config)
    handback = options.get("handback") or {}
    return VrrpService(
        config,
        emit,
        no_bpf=bool(options.get("no_bpf", False)),
        handback={str(k): str(v) for k, v in handback.items()} if options.get("restart") else {},
    )


def _sched(config: Any) -> None:
    try:
        from hadaemon.io import sched
    except ImportError:  # pragma: no cover
        return
    g = config.global_defs
    try:
        sched.apply(
            rt_priority=g.vrrp_rt_priority,
            no_swap=bool(g.vrrp_no_swap),
            rlimit_rttime_us=g.vrrp_rlimit_rttime,
            realtime=bool(getattr(g, "vrrp_realtime", True)),
        )
    except Exception as exc:  # never fatal
        log.warning("scheduling settings not applied: %s", exc)


async def _serve(config_path: str, config: Any, args: Any) -> int:
    from hadaemon.io.driver import VrrpService

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reload_requested = asyncio.Event()

    def on_term(signame: str) -> None:
        log.info("Received %s, stopping", signame)
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, on_term, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, on_term, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)

    service = VrrpService(config, no_bpf=bool(getattr(args, "no_bpf", False)))
    try:
        await service.start()
    except Exception as exc:
        log.error("VRRP service failed to start: %s", exc)
        await service.stop()
        return 1
    gc.collect()
    gc.freeze()
    log.info(
        "Startup complete (%d VRRP instance%s)",
        len(service.insts),
        "" if len(service.insts) == 1 else "s",
    )
    while not stop.is_set():
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(reload_requested.wait()),
        ]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        if reload_requested.is_set() and not stop.is_set():
            reload_requested.clear()
            log.info("Reloading configuration from %s", config_path)
            try:
                new = load_config(config_path, getattr(args, "config_id", None), strict=True)
            except ConfigLoadError as exc:
                log.error("Reload failed, keeping the running configuration: %s", exc)
                continue
            await service.apply_config(new)
    await service.stop()
    log.info("Stopped")
    return EXIT_OK


def run_foreground(config_path: str, args: Any) -> int:
    """Run the config's VRRP instances in this process until SIGTERM/SIGINT; exit status."""
    setup_logging(
        "stderr" if getattr(args, "log_console", False) else "syslog",
        bool(getattr(args, "debug", False)),
        tagged=False,
    )
    log.info("Starting hadaemon VRRP (single process) with %s", config_path)
    try:
        config = load_config(config_path, getattr(args, "config_id", None))
    except ConfigLoadError as exc:
        log.error("%s", exc)
        print(f"hadaemon: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not config.vrrp_instances:
        log.warning("no vrrp_instance in %s; nothing to do", config_path)
    tracking = sorted(
        {i.name for i in config.vrrp_instances if i.track_bfd}
        | {n for g in config.vrrp_sync_groups if g.track_bfd for n in g.group}
    )
    if tracking:
        log.warning(
            "track_bfd needs the bfd worker of the whole daemon (hadaemon -f FILE); here the "
            "BFD sessions never come up: %s",
            ", ".join(tracking),
        )
    _sched(config)
    try:
        return asyncio.run(_serve(config_path, config, args))
    except KeyboardInterrupt:
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hadaemon.workers.vrrp [-n] [-l] [-D] [--no-bpf] -f FILE``."""
    p = argparse.ArgumentParser(prog="hadaemon-vrrp", description="hadaemon VRRP, one process")
    p.add_argument("-f", "--use-file", required=True, metavar="FILE")
    p.add_argument("-n", "--dont-fork", "--foreground", dest="foreground", action="store_true")
    p.add_argument("-D", "--debug", "--log-detail", dest="debug", action="store_true")
    p.add_argument("-l", "--log-console", action="store_true")
    p.add_argument("-i", "--config-id", default=None)
    p.add_argument("--no-bpf", action="store_true")
    args = p.parse_args(argv)
    return run_foreground(args.use_file, args)


if __name__ == "__main__":
    sys.exit(main())
