"""Config diagnostics: located warnings/errors and the one exception the parser raises.

A :class:`Diagnostic` is a message with a :class:`~hadaemon.config.model.Location`, a severity
and an optional hint ("did you mean ..."). Non-fatal problems are collected (the rest of the
file still loads, like keepalived); a problem that makes loading impossible (file missing, a
directory, too many errors) raises :class:`ConfigError`. Nothing else may escape the parser.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from hadaemon.config.model import Location

__all__ = ["Severity", "Diagnostic", "ConfigError", "Diagnostics", "did_you_mean", "MAX_ERRORS"]

#: loading stops (ConfigError) once this many errors were collected
MAX_ERRORS = 200


class Severity:
    """Diagnostic severities (plain strings so they serialise as-is)."""

    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Diagnostic:
    """One located message. ``hint`` is an optional suggestion printed after it."""

    severity: str
    message: str
    location: Location | None = None
    hint: str | None = None
    disables: str | None = None
    """An error that only disables this ``vrrp_instance`` at run time (e.g. an interface
    that does not exist without ``dynamic_interfaces``): ``hadaemon -t`` counts it, but the
    daemon still starts and a reload still applies, without that instance."""

    @property
    def is_error(self) -> bool:
        """True for errors (``hadaemon -t`` exit 4), False for warnings."""
        return self.severity == Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(Exception):
    """A configuration problem that stops loading. ``location`` may be None (e.g. no file)."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
        *,
        cannot_run: bool = True,
        diagnostics: list[Diagnostic] | None = None,
    ) -> None:
        super().__init__(message)
        self.diagnostics: list[Diagnostic] = list(diagnostics or [])
        """what had been collected before loading stopped"""
        self.message = message
        self.location = location
        self.hint = hint
        self.cannot_run = cannot_run
        """True when the daemon could not start at all (``hadaemon -t`` exit 3)."""

    def as_diagnostic(self) -> Diagnostic:
        """This error as an error :class:`Diagnostic`."""
        return Diagnostic(Severity.ERROR, self.message, self.location, self.hint)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.message}"


@dataclass
class Diagnostics:
    """Collector shared by lexer, grammar and validator."""

    items: list[Diagnostic] = field(default_factory=list)
    error_count: int = 0

    def warning(self, message: str, location: Location | None, hint: str | None = None) -> None:
        """Record a warning."""
        self.items.append(Diagnostic(Severity.WARNING, message, location, hint))

    def error(
        self,
        message: str,
        location: Location | None,
        hint: str | None = None,
        *,
        disables: str | None = None,
    ) -> None:
        """Record an error; raise :class:`ConfigError` once there are too many.

        ``disables``: the ``vrrp_instance`` this error keeps from running (the rest of the
        configuration runs; see :attr:`Diagnostic.disables`)."""
        self.items.append(Diagnostic(Severity.ERROR, message, location, hint, disables))
        self.error_count += 1
        if self.error_count >= MAX_ERRORS:
            raise ConfigError(
                f"too many errors ({self.error_count}), giving up",
                location,
                cannot_run=False,
                diagnostics=self.items[:-1],
            )


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean 'x'?"`` for the closest candidate, or None."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return f"did you mean '{match[0]}'?" if match else None
