"""hadaemon.config: keepalived.conf → frozen model, with located diagnostics.

Entry points::

    result = load("/etc/keepalived/keepalived.conf", config_id="main")
    result.config          # hadaemon.config.model.Config (effective values, defaults filled in)
    result.diagnostics     # list[Diagnostic] (warnings and non-fatal errors, in file order)
    result.errors          # only the errors; reload must keep the old config if any

``load`` raises :class:`ConfigError` only when nothing usable can be loaded (missing file, a
directory, too many errors). ``loads(text, filename=...)`` does the same for a string.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from hadaemon.config.errors import ConfigError, Diagnostic, Diagnostics, Severity
from hadaemon.config.model import Config, Location

__all__ = [
    "load",
    "loads",
    "LoadResult",
    "Config",
    "ConfigError",
    "Diagnostic",
    "Location",
    "Severity",
    "default_config_id",
]


def default_config_id() -> str:
    """keepalived's default config-id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


@dataclass
class LoadResult:
    """What :func:`load` returns."""

    config: Config
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict, repr=False)
    """file → its lines, for printing the source line under a message"""

    @property
    def errors(self) -> list[Diagnostic]:
        """The error diagnostics (a reload must be refused when there are any)."""
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warning diagnostics."""
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def _load(
    path: str | None,
    text: str | None,
    filename: str,
    config_id: str | None,
    validate: bool,
    interface_exists: Callable[[str], bool] | None,
) -> LoadResult:
    from hadaemon.config.grammar import Parser, iter_tree
    from hadaemon.config.lexer import Lexer

    diags = Diagnostics()
    cid = default_config_id() if config_id is None else config_id
    lexer = Lexer(diags, cid)
    try:
        lines = (
            lexer.lines_from_file(path)
            if path is not None
            else lexer.lines_from_text(text or "", filename)
        )
        tree = iter_tree(lines, diags)
        config = Parser(diags).parse(tree)
        if validate:
            from hadaemon.config.validate import validate as run_validate

            run_validate(config, diags, interface_exists)
        from hadaemon.config.unsupported import check_not_acted_on

        check_not_acted_on(config, diags)
    except RecursionError:
        raise ConfigError("configuration nested too deeply", None, cannot_run=False) from None
    order = {f: n for n, f in enumerate(lexer.sources)}
    items = sorted(
        diags.items,
        key=lambda d: (
            (order.get(d.location.file, len(order)), d.location.line, d.location.col)
            if d.location
            else (-1, 0, 0)
        ),
    )
    return LoadResult(config, items, lexer.sources)


def load(
    path: str,
    config_id: str | None = None,
    *,
    validate: bool = True,
    interface_exists: Callable[[str], bool] | None = None,
) -> LoadResult:
    """Parse ``path`` (and its includes) into a :class:`LoadResult`.

    ``config_id`` selects ``@id`` lines (default: host name up to the first dot). With
    ``validate`` (default) the semantic checks of :mod:`hadaemon.config.validate` run too.
    ``interface_exists`` replaces the ``/sys/class/net`` lookup of the interface check.
    Raises :class:`ConfigError` when the file cannot be loaded at all.
    """
    return _load(path, None, path, config_id, validate, interface_exists)


def loads(
    text: str,
    filename: str = "<string>",
    config_id: str | None = None,
    *,
    validate: bool = True,
    interface_exists: Callable[[str], bool] | None = None,
) -> LoadResult:
    """Like :func:`load` for an in-memory config; ``filename`` is used in locations."""
    return _load(None, text, filename, config_id, validate, interface_exists)
