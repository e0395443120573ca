"""Script checks done at load time: exists, executable, and safe under enable_script_security."""

from __future__ import annotations

import os
import shlex
import shutil
import stat


def script_problem(command: str | tuple[str, ...], enable_script_security: bool) -> str | None:
    """Why the script of ``command`` must not run, or None if it may.

    With ``enable_script_security`` (keepalived's rule, when running as root) the script and
    every directory above it must not be writable by anyone but root.
    """
    try:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        return f"cannot parse command: {exc}"
    if not argv:
        return "empty command"
    path = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    if path is None or not os.path.exists(path):
        return "not found"
    if not os.path.isfile(path):
        return "not a regular file"
    if not os.access(path, os.X_OK):
        return "not executable"
    if enable_script_security and os.geteuid() == 0:
        p = os.path.realpath(path)
        while True:
            st = os.stat(p)
            writable_by_other = bool(st.st_mode & stat.S_IWOTH)
            writable_by_group = bool(st.st_mode & stat.S_IWGRP) and st.st_gid != 0
            writable_by_owner = st.st_uid != 0
            if writable_by_other or writable_by_group or writable_by_owner:
                return f"insecure ({p} is writable by a non-root user)"
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent
    return None
