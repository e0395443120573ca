"""``global_defs { net_namespace NAME }``: run the calling process inside network namespace NAME.

:func:`enter` does for the current process what ``ip netns exec NAME`` does before it runs a
command, and must be called before any thread or worker is started (``unshare(CLONE_NEWNS)``
fails in a threaded process and ``setns`` moves only the calling thread):

1. ``unshare(CLONE_NEWNS)``: a mount namespace of our own, so that the ``/sys`` below is ours;
2. ``mount --make-rslave /``: mounts of the host still reach us, ours never reach the host;
3. ``setns(/var/run/netns/NAME, CLONE_NEWNET)``: the namespace must exist (made with
   ``ip netns add NAME``); it is never created here, as keepalived;
4. ``/sys`` remounted (``umount2(MNT_DETACH)`` + a new sysfs), so that ``/sys/class/net`` lists
   the namespace's interfaces (a sysfs shows the network namespace it was mounted in).

Processes started afterwards (the workers) inherit both namespaces. Python 3.11 has no
``os.setns``/``os.unshare``, so libc is called through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

__all__ = ["NETNS_RUN_DIR", "NetnsError", "enter", "netns_path"]

#: where ``ip netns add`` keeps its namespaces (iproute2's NETNS_RUN_DIR)
NETNS_RUN_DIR = "/var/run/netns"

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MNT_DETACH = 2


class NetnsError(Exception):
    """The namespace cannot be entered; the message says which and why."""


def netns_path(name: str) -> str:
    """The file of named namespace ``name`` (a name, not a path: ``/`` is refused)."""
    if not name or "/" in name or name in (".", ".."):
        raise NetnsError(f"net_namespace {name!r}: not a namespace name")
    return os.path.join(NETNS_RUN_DIR, name)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(rc: int, what: str, name: str) -> None:
    if rc == 0:
        return
    err = ctypes.get_errno()
    hint = " (needs root: CAP_SYS_ADMIN)" if err in (errno.EPERM, errno.EACCES) else ""
    raise NetnsError(f"net_namespace {name}: {what}: {os.strerror(err)}{hint}")


def enter(name: str) -> None:
    """Move the calling (single-threaded) process into network namespace ``name`` with a
    private mount namespace and a ``/sys`` of that namespace; :class:`NetnsError` if the
    namespace does not exist or the calls are not permitted."""
    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsError(
            f"net_namespace {name}: no such network namespace ({path} does not exist; "
            f"create it with 'ip netns add {name}')"
        ) from None
    except OSError as exc:
        raise NetnsError(f"net_namespace {name}: cannot open {path}: {exc.strerror}") from None
    try:
        libc = _libc()
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)", name)
        _check(
            libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None),
            "making / a slave mount",
            name,
        )
        rc = libc.setns(fd, CLONE_NEWNET)
        if rc != 0 and ctypes.get_errno() == errno.EINVAL:
            raise NetnsError(f"net_namespace {name}: {path} is not a network namespace")
        _check(rc, "setns(CLONE_NEWNET)", name)
    finally:
        os.close(fd)
    # a sysfs of the new namespace on /sys (as ip netns exec; a failed umount is not fatal)
    libc.umount2(b"/sys", MNT_DETACH)
    _check(libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None), "mounting /sys", name)
