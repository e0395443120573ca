"""``hadaemon config dump [--json] [-f FILE] [-i ID]``: print the parsed model, defaults filled.

The text form is an indented ``key value`` listing of the same data as ``--json``.
Exit status: 0 ok (warnings are printed to stderr), 3 cannot load, 4 errors found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from hadaemon.config import ConfigError, load
from hadaemon.config.check import EXIT_CANNOT_RUN, EXIT_ERRORS, format_diagnostic, report

__all__ = ["main", "dump_text"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hadaemon config", description="configuration tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="print the parsed configuration with all defaults")
    d.add_argument("--json", action="store_true", help="JSON output")
    d.add_argument("-f", "--use-file", metavar="FILE", help="configuration file")
    d.add_argument("-i", "--config-id", default=None, help="config id for @id lines")
    d.add_argument("--no-location", action="store_true", help="omit file:line:col (JSON)")
    c = sub.add_parser("check", help="same as hadaemon -t FILE")
    c.add_argument("file", nargs="?")
    c.add_argument("-i", "--config-id", default=None)
    return p


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return json.dumps(v) if (not v or any(c.isspace() for c in v)) else v
    return str(v)


def dump_text(data: Any, indent: int = 0) -> list[str]:
    """Indented ``key value`` lines for a ``to_dict()`` tree."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "location":
                continue
            if isinstance(v, dict):
                lines.append(f"{pad}{k} {{")
                lines.extend(dump_text(v, indent + 1))
                lines.append(f"{pad}}}")
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"{pad}{k} {{")
                    lines.extend(dump_text(item, indent + 1))
                    lines.append(f"{pad}}}")
            elif isinstance(v, list):
                lines.append(
                    f"{pad}{k} "
                    + (
                        " ".join(
                            _scalar(x) if not isinstance(x, list) else "-".join(map(str, x))
                            for x in v
                        )
                        if v
                        else "[]"
                    )
                )
            else:
                lines.append(f"{pad}{k} {_scalar(v)}")
    return lines


def main(argv: Sequence[str]) -> int:
    """Entry point for ``hadaemon config ...``."""
    args = _parser().parse_args(list(argv))
    from hadaemon.cli import enter_config_namespace, resolve_config_path

    if args.cmd == "check":
        from hadaemon.config.check import config_test

        path = resolve_config_path(args.file)
        failed = enter_config_namespace(path, args.config_id)  # net_namespace: check in it
        if failed is not None:
            sys.stderr.write(failed + "\n")
            return EXIT_CANNOT_RUN
        return config_test(path, args.config_id)
    path = resolve_config_path(args.use_file)
    try:
        result = load(path, args.config_id)
    except ConfigError as exc:
        sys.stderr.write(format_diagnostic(exc.as_diagnostic()) + "\n")
        return EXIT_CANNOT_RUN if exc.cannot_run else EXIT_ERRORS
    report(result, sys.stderr)
    data = result.config.to_dict(with_location=not args.no_location)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(dump_text(data)) + "\n")
    return EXIT_ERRORS if result.errors else 0
