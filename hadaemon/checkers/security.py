"""Script checks done at load time: exists, executable, and safe under enable_script_security.

The rule is keepalived's ``check_script_secure``, shared with the VRRP worker
(:func:`hadaemon.io.scripts.script_refusal`, :mod:`hadaemon.script_security`).
"""

from __future__ import annotations

import shlex

from hadaemon.io.scripts import script_refusal


def script_problem(command: str | tuple[str, ...], enable_script_security: bool) -> str | None:
    """Why the script of ``command`` (run as ourselves) must not run, or None if it may.

    Not found, not a regular file or not executable: always. Modifiable or replaceable by a
    non-root user while it would run with root privileges: with ``enable_script_security``.
    """
    try:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        return f"cannot parse command: {exc}"
    if not argv:
        return "empty command"
    return script_refusal(argv, enable_script_security=enable_script_security)
