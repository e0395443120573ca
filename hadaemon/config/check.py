"""``hadaemon -t``: check a config file and report like a compiler.

Exit codes follow keepalived(8): 0 valid; 3 cannot run (file missing/unreadable, a directory,
given up); 4 errors found but the daemon would run; 5 scripts configured without
``enable_script_security`` (as keepalived, only scripts that exist count, and this status
wins over 4). Each message is printed as ``file:line:col: severity: message``,
followed by the source line, a caret under the column and a hint where one helps.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from hadaemon.config import ConfigError, Diagnostic, LoadResult, load
from hadaemon.config.model import Config
from hadaemon.config.validate import configured_scripts, script_exists

__all__ = [
    "config_test",
    "format_diagnostic",
    "EXIT_OK",
    "EXIT_CANNOT_RUN",
    "EXIT_ERRORS",
    "EXIT_SCRIPT_SECURITY",
]

EXIT_OK = 0
EXIT_CANNOT_RUN = 3
EXIT_ERRORS = 4
EXIT_SCRIPT_SECURITY = 5
#: at most this many diagnostics are printed in full
MAX_PRINTED = 100


def format_diagnostic(d: Diagnostic, sources: dict[str, list[str]] | None = None) -> str:
    """``file:line:col: severity: message`` + source line + caret + hint."""
    out = []
    where = f"{d.location}: " if d.location else ""
    out.append(f"{where}{d.severity}: {d.message}")
    if d.location and sources is not None:
        lines = sources.get(d.location.file)
        if lines is not None and 1 <= d.location.line <= len(lines):
            src = lines[d.location.line - 1].rstrip("\r\n")
            if len(src) > 200:
                start = max(0, d.location.col - 80)
                src = src[start : start + 160]
                col = d.location.col - start
            else:
                col = d.location.col
            src = "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in src)
            pad = "".join("\t" if ch == "\t" else " " for ch in src[: max(col - 1, 0)])
            out.append(f"    {src}")
            out.append(f"    {pad}^")
    if d.hint:
        out.append(f"    hint: {d.hint}")
    return "\n".join(out)


def report(result: LoadResult, stream: TextIO) -> None:
    """Print every diagnostic of ``result`` (capped at :data:`MAX_PRINTED`)."""
    for n, d in enumerate(result.diagnostics):
        if n >= MAX_PRINTED:
            stream.write(f"... {len(result.diagnostics) - n} more messages not shown\n")
            break
        stream.write(format_diagnostic(d, result.sources) + "\n")


def config_test(
    path: str,
    config_id: str | None = None,
    stream: TextIO | None = None,
    interface_exists: Callable[[str], bool] | None = None,
    extra_checks: Sequence[Callable[[Config], list[Diagnostic]]] = (),
) -> int:
    """Check ``path``; print diagnostics; return keepalived's ``-t`` exit code.

    ``extra_checks`` are run on the loaded model and their diagnostics join the file's (the
    CLI passes the data path's own checks, e.g. what nftables cannot do, so that they are
    reported at ``-t`` time rather than as a failed transaction at run time).
    """
    out = stream if stream is not None else sys.stderr
    try:
        result = load(path, config_id, interface_exists=interface_exists)
    except ConfigError as exc:
        sources = _read_source(exc)
        for n, d in enumerate(exc.diagnostics[:10]):
            src = sources if (sources and d.location and d.location.file in sources) else None
            out.write(format_diagnostic(d, src) + "\n")
            if n == 9:
                out.write(f"... {len(exc.diagnostics) - 10} more messages not shown\n")
        out.write(format_diagnostic(exc.as_diagnostic(), sources) + "\n")
        out.write(f"{path}: configuration cannot be loaded\n")
        return EXIT_CANNOT_RUN if exc.cannot_run else EXIT_ERRORS
    for check in extra_checks:
        result.diagnostics.extend(check(result.config))
    report(result, out)
    nerr, nwarn = len(result.errors), len(result.warnings)
    gd = result.config.global_defs
    # keepalived: the highest config status wins and the security error is the highest; only
    # scripts that exist count (a missing script is disabled).
    if not gd.enable_script_security and any(
        script_exists(s) for s in configured_scripts(result.config)
    ):
        out.write(
            f"{path}: SECURITY: scripts are configured but enable_script_security is not set "
            f"({nerr} error(s), {nwarn} warning(s))\n"
        )
        return EXIT_SCRIPT_SECURITY
    if nerr:
        out.write(f"{path}: {nerr} error(s), {nwarn} warning(s)\n")
        return EXIT_ERRORS
    out.write(f"{path}: configuration OK ({nwarn} warning(s))\n")
    return EXIT_OK


def _read_source(exc: ConfigError) -> dict[str, list[str]] | None:
    if exc.location is None:
        return None
    try:
        with open(exc.location.file, encoding="utf-8", errors="replace") as fh:
            lines = []
            for i, line in enumerate(fh):
                lines.append(line)
                if i + 1 >= exc.location.line:
                    break
        return {exc.location.file: lines}
    except OSError:
        return None
