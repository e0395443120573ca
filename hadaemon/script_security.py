"""keepalived's script security rule, as pure functions over stat results.

keepalived (``lib/notify.c``, 2.2.7: ``check_script_secure`` / ``check_security`` /
``is_executable``) protects scripts that would run with root privileges: a script run by
uid 0 or gid 0, or a set-uid-root / set-gid-root executable, must not be modifiable or
replaceable by a non-root user. Its walk, over every component of the script's path from
``/`` down, with ``lstat`` (symbolic links are not followed):

1. Every component but the last must be a directory, and the last a regular file or a
   symbolic link ("Wrong file type found in script path"; the script is refused whatever
   ``enable_script_security`` says).
2. A component is unsafe if its owner is not root (a symbolic link too), or, for a regular
   file or a directory *without* the sticky bit, if it is writable by its group when that
   group is not root, or writable by others. A sticky directory owned by root (``/tmp``) is
   safe: others may create files in it but not replace one they do not own.

The path walked is the one exec uses with its directories resolved (keepalived 2.2.7 replaces
the script's ``argv[0]`` by its ``realpath``, keeping the file name when that names the same
file in the resolved directory), and, when that file name is itself a symbolic link, the
resolved file as well (:func:`walk_paths`). Symbolic links in the directories of the
configured path (``/bin`` → ``usr/bin``) are thus resolved, not refused; hadaemon, which execs
the path as configured, also walks that one, where root-owned links are allowed.

With ``enable_script_security`` an unsafe script is not run; without it keepalived only warns
(and ``-t`` exits 5 because scripts run without it).

The I/O side (``stat``/``lstat``, path search) is :func:`hadaemon.io.scripts.script_refusal`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "PathStat",
    "component_problem",
    "is_executable",
    "needs_protection",
    "path_components",
    "walk_paths",
    "walk_problem",
]


@dataclass(frozen=True)
class PathStat:
    """The parts of a ``stat``/``lstat`` result the rule looks at."""

    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, st: os.stat_result) -> PathStat:
        """From :func:`os.stat` / :func:`os.lstat`."""
        return cls(st.st_mode, st.st_uid, st.st_gid)


def is_executable(st: PathStat, uid: int, gid: int) -> bool:
    """keepalived's ``is_executable``: may ``uid``:``gid`` execute the file ``st``?

    Root may if any execute bit is set; the owner by the user bit; a member of the file's group
    by the group bit; anyone else by the other bit (supplementary groups are not considered).
    """
    mode = st.mode
    if uid == 0:
        return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if uid == st.uid:
        return bool(mode & stat.S_IXUSR)
    if gid == st.gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def needs_protection(st: PathStat, uid: int, gid: int) -> bool:
    """True when the script ``st`` run as ``uid``:``gid`` runs with root privileges: run by
    uid 0 or gid 0, or set-uid root (user-executable) or set-gid root (group-executable)."""
    return (
        uid == 0
        or gid == 0
        or (st.uid == 0 and bool(st.mode & stat.S_IXUSR) and bool(st.mode & stat.S_ISUID))
        or (st.gid == 0 and bool(st.mode & stat.S_IXGRP) and bool(st.mode & stat.S_ISGID))
    )


def path_components(path: str) -> list[str]:
    """The prefixes keepalived ``lstat``s for absolute ``path``, root first:
    ``/usr/bin/true`` → ``["/", "/usr", "/usr/bin", "/usr/bin/true"]``."""
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path!r}")
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def component_problem(
    path: str, st: PathStat, *, last: bool, links_ok: bool = False
) -> str | None:
    """Why one component of the walk is unsafe (rules 1 and 2 of the module doc), or None.

    ``links_ok``: a symbolic link may stand for a directory (the walk of the path as
    configured, see :func:`walk_problem`); it must still be owned by root.
    """
    mode = st.mode
    if not last and not stat.S_ISDIR(mode) and not (links_ok and stat.S_ISLNK(mode)):
        return f"{path} in the script's path is not a directory"
    if last and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return f"{path} is not a regular file"
    if st.uid != 0:
        return f"{path} is owned by uid {st.uid}, not root"
    sticky_dir = stat.S_ISDIR(mode) and bool(mode & stat.S_ISVTX)
    if stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and not sticky_dir):
        if st.gid != 0 and mode & stat.S_IWGRP:
            return f"{path} is writable by group {st.gid}"
        if mode & stat.S_IWOTH:
            return f"{path} is writable by others"
    return None


def walk_problem(walk: Iterable[tuple[str, PathStat]], *, links_ok: bool = False) -> str | None:
    """The first unsafe component of a walk (``(path, lstat)`` pairs from ``/`` down to the
    script, as :func:`path_components` lists them), or None if every one is safe.

    ``links_ok`` is for hadaemon's extra walk of the path as configured (hadaemon execs that
    path, keepalived 2.2.7 its resolved one): root-owned symbolic links to directories
    (``/bin`` → ``usr/bin``) are allowed there, a link anyone else owns is not.
    """
    items: Sequence[tuple[str, PathStat]] = list(walk)
    for n, (path, st) in enumerate(items):
        why = component_problem(path, st, last=n == len(items) - 1, links_ok=links_ok)
        if why is not None:
            return why
    return None


def walk_paths(real: str, name: str, same_file: bool) -> list[str]:
    """The paths keepalived 2.2.7 walks for a script whose ``realpath`` is ``real`` and whose
    own file name is ``name``: the script is exec'd as ``dirname(real)/name`` when that names
    the same file (``same_file``; e.g. ``/usr/bin/python3``, a link to ``python3.11``), and then
    both that link and ``real`` are walked; otherwise it is exec'd as ``real``, the one walk.
    """
    alias = os.path.join(os.path.dirname(real), name)
    if alias != real and same_file:
        return [alias, real]
    return [real]
