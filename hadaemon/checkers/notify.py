"""Side effects of decisions: notify/quorum scripts and ``lvs_notify_fifo`` lines.

Scripts run asynchronously in their own session and never block the checks; the FIFO is opened
non-blocking and read-write (as keepalived does) so a missing reader never blocks or fails us.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat

from hadaemon.io.scripts import NotifyFifo, kill_group, start_script

log = logging.getLogger("hadaemon.checkers")


class FifoWriter(NotifyFifo):
    """Writes keepalived-format lines (``RS [ip]:tcp:80 [vip]:tcp:80 UP``) to a FIFO.

    :class:`hadaemon.io.scripts.NotifyFifo` but for ``lvs_notify_fifo``, and an existing
    regular file is appended to instead of refused (handy for tests and tailing).
    """

    label = "lvs_notify_fifo"
    log = log

    def open(self) -> None:
        """Create the FIFO if missing and open it (O_RDWR so open never blocks)."""
        try:
            st = os.stat(self.path)
            if not stat.S_ISFIFO(st.st_mode):
                # a regular file: append to it (handy for tests and tailing)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
                return
        except FileNotFoundError:
            os.mkfifo(self.path, 0o600)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)


class ScriptRunner:
    """Starts notify scripts without waiting; remembers them so ``close`` can reap them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._daemons: set[asyncio.Task[None]] = set()

    def run(
        self,
        argv: tuple[str, ...],
        user: tuple[str, str | None] | None,
        why: str,
        *,
        daemon: bool = False,
    ) -> None:
        """Start ``argv`` in the background; a ``daemon`` (FIFO reader) is killed at close."""
        task = asyncio.get_running_loop().create_task(self._run(argv, user, why))
        group = self._daemons if daemon else self._tasks
        group.add(task)
        task.add_done_callback(group.discard)

    async def _run(
        self, argv: tuple[str, ...], user: tuple[str, str | None] | None, why: str
    ) -> None:
        try:
            proc = await start_script(
                argv,
                user=user[0] if user is not None else None,
                group=user[1] if user is not None and user[1] else None,
            )
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot run %s script %s: %s", why, argv[0], exc)
            return
        try:
            rc = await proc.wait()
        except asyncio.CancelledError:
            kill_group(proc.pid)
            await asyncio.shield(proc.wait())
            raise
        if rc:
            log.info("%s script %s exited with status %d", why, argv[0], rc)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Give running scripts ``timeout_s`` to finish, then kill them and the daemons."""
        pending: set[asyncio.Task[None]] = set()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        pending |= self._daemons
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
