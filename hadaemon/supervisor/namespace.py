"""``global_defs { net_namespace NAME }`` for the daemon: the pure decisions around entering it.

The daemon enters the namespace (:func:`hadaemon.io.netns.enter`) before it validates the
config and starts workers, so that the interface checks and every worker run inside it. This
module holds what does not touch the kernel:

* :func:`configured_namespace`: the ``net_namespace`` of a config file, read without
  validation (the interfaces can only be checked once inside);
* :func:`choose_run_dir`: ``--run-dir`` if it was given, else ``/run/hadaemon`` or, in a
  namespace, ``/run/hadaemon/NAME`` (keepalived uses ``/run/keepalived/NAME``);
* :class:`NamespacePinnedLoader`: a reload whose config changes ``net_namespace`` is refused
  (a process cannot move its workers to another namespace: as keepalived, restart it).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "DEFAULT_RUN_DIR",
    "NamespacePinnedLoader",
    "choose_run_dir",
    "configured_namespace",
    "namespace_change_error",
]

#: the run directory when ``--run-dir`` is not given (``/run/hadaemon/NAME`` in a namespace)
DEFAULT_RUN_DIR = "/run/hadaemon"


def choose_run_dir(given: str | None, netns: str | None) -> str:
    """The run directory: ``given`` (an explicit ``--run-dir``) wins; else the default, with
    the namespace's name appended when running in one."""
    if given:
        return given
    return os.path.join(DEFAULT_RUN_DIR, netns) if netns else DEFAULT_RUN_DIR


def configured_namespace(path: str, config_id: str | None) -> tuple[str | None, str]:
    """``(net_namespace, "file:line:col")`` of ``path`` parsed without validation, or
    ``(None, "")`` when it sets none or cannot be parsed (the normal load reports that)."""
    from hadaemon.config import ConfigError, load

    try:
        config = load(path, config_id, validate=False).config
    except (ConfigError, OSError):
        return None, ""
    gd = config.global_defs
    name = gd.net_namespace
    if not name:
        return None, ""
    where = gd.locations.get("net_namespace") or gd.location
    return name, str(where) if where is not None else path


def _namespace_of(config: Any) -> str | None:
    gd = getattr(config, "global_defs", None)
    return getattr(gd, "net_namespace", None) or None


def namespace_change_error(running: str | None, config: Any, path: str) -> str | None:
    """Why ``config`` cannot be applied by a daemon running in namespace ``running`` (None if
    its ``net_namespace`` is the same)."""
    new = _namespace_of(config)
    if new == running:
        return None
    gd = getattr(config, "global_defs", None)
    where = getattr(gd, "locations", {}).get("net_namespace") or getattr(gd, "location", None)
    at = f"{where}: " if where is not None else f"{path}: "

    def show(n: str | None) -> str:
        return repr(n) if n else "none (the namespace hadaemon was started in)"

    return (
        f"{at}net_namespace changed from {show(running)} to {show(new)}: "
        "a reload cannot move the daemon to another namespace; restart hadaemon"
    )


class NamespacePinnedLoader:
    """Wraps the daemon's config loader: every config loaded after start-up must keep the
    ``net_namespace`` the daemon entered, else the load fails with
    :class:`~hadaemon.supervisor.main.ConfigLoadError` (a reload then keeps the running
    config and logs why). Everything else is the wrapped loader's."""

    def __init__(self, loader: Any, netns: str | None) -> None:
        self._loader = loader
        self.netns = netns

    def load(self, path: str, config_id: str | None) -> Any:
        """The wrapped loader's config, refused if its namespace differs."""
        from hadaemon.supervisor.main import ConfigLoadError

        config = self._loader.load(path, config_id)
        why = namespace_change_error(self.netns, config, path)
        if why is not None:
            raise ConfigLoadError(why)
        return config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
