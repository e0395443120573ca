"""The supervisor's OS calls behind one small class (supervisor's ``options`` seam).

Workers are started with ``posix_spawn`` of a fresh interpreter (``python -m
hadaemon.workers.base``) in their own process group, with one end of a socketpair passed as an
inherited fd. A fresh exec means no asyncio loop, threads or locks are inherited from the
supervisor. Exits are observed through a pidfd (``os.pidfd_open``), so no SIGCHLD handler
races with anyone else's children.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import signal
import socket
import sys
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def prctl_pdeathsig(signum: int = signal.SIGTERM) -> None:
    """``prctl(PR_SET_PDEATHSIG, signum)``: this process gets ``signum`` when its parent dies."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclass
class SpawnedWorker:
    """A started worker: its pid, a pidfd that becomes readable at exit, our socket end."""

    pid: int
    pidfd: int
    sock: socket.socket


class OsOps:
    """Process operations used by the supervisor; tests may substitute a fake."""

    python = sys.executable

    def spawn_worker(
        self, name: str, module: str, *, log_target: str, debug: bool, standby: bool = False
    ) -> SpawnedWorker:
        """Start ``hadaemon: <name>`` hosting ``module``; returns pid, pidfd and our socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.set_inheritable(theirs.fileno(), True)
            argv = [
                self.python,
                "-m",
                "hadaemon.workers.base",
                "--name",
                name,
                "--module",
                module,
                "--fd",
                str(theirs.fileno()),
                "--ppid",
                str(os.getpid()),
                "--log",
                log_target,
            ]
            if debug:
                argv.append("--debug")
            if standby:
                argv.append("--standby")
            pid = os.posix_spawn(self.python, argv, dict(os.environ), setpgroup=0)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        pidfd = os.pidfd_open(pid)
        return SpawnedWorker(pid, pidfd, ours)

    def reap(self, pid: int) -> int | None:
        """Non-blocking wait; the ``waitstatus_to_exitcode`` value or None if still running."""
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -signal.SIGKILL  # already reaped elsewhere; report as killed
        if got == 0:
            return None
        return os.waitstatus_to_exitcode(status)

    def kill(self, pid: int, signum: int) -> None:
        """Send ``signum`` to ``pid`` (ignoring a process that is already gone)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


class PidfileLocked(Exception):
    """Another hadaemon holds the lock on this pid file."""


class Pidfile:
    """A pid file that is also the single-instance lock (``flock``, held while we live)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        """Open and lock; raises :class:`PidfileLocked` with the holder's pid if taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise PidfileLocked(holder) from None
            raise
        self.fd = fd

    def write(self, pid: int) -> None:
        """Write ``pid`` (after daemonizing)."""
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)

    def release(self) -> None:
        """Remove the file and drop the lock."""
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = None


def write_pidfile(path: str, pid: int) -> None:
    """Write a plain (unlocked) pid file atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_file(path: str) -> None:
    """Unlink ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def daemonize() -> None:
    """Classic double fork: detach from the terminal and session, stdio to /dev/null."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o022)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def sd_notify(state: str) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to ``$NOTIFY_SOCKET``; False when not under systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(state.encode(), addr)
    except OSError:
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds when the watchdog is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    wpid = os.environ.get("WATCHDOG_PID")
    if not usec or (wpid and wpid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2e6, 0.01)
    except ValueError:
        return None
