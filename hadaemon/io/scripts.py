"""Running notify and track scripts without ever blocking the VRRP loop.

- :class:`ScriptRunner` spawns scripts asynchronously (own process group), kills the whole group
  after the timeout (SIGTERM, then SIGKILL after a grace), reaps everything on ``stop()``.
- :func:`script_refusal` / :func:`check_script_security` implement keepalived's
  ``check_script_secure``: a script that would run with root privileges must not be modifiable
  or replaceable by a non-root user (the rule itself is :mod:`hadaemon.script_security`).
- :class:`NotifyFifo` writes keepalived's FIFO lines (``INSTANCE "VI_1" MASTER 100``).
- :class:`TrackScript` runs a ``vrrp_script`` every ``interval`` with rise/fall hysteresis and
  reports OK/KO changes through a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hadaemon import script_security as sec
from hadaemon.vrrp.trackers import ScriptTracker

__all__ = [
    "NotifyFifo",
    "ScriptResult",
    "ScriptRunner",
    "ScriptSecurityError",
    "TrackScript",
    "check_script_security",
    "kill_group",
    "script_refusal",
    "start_script",
]

log = logging.getLogger("hadaemon.vrrp.scripts")

KILL_GRACE_S = 0.5


class ScriptSecurityError(Exception):
    """A script refused by ``enable_script_security`` or not runnable at all."""


@dataclass(frozen=True)
class ScriptResult:
    """How a script ended: ``returncode`` (None if it could not start), ``timed_out``."""

    returncode: int | None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Exit status 0 within the timeout."""
        return self.returncode == 0 and not self.timed_out


def resolve(cmd: str) -> str | None:
    """The absolute path of ``cmd`` (PATH lookup as exec would), or None."""
    if os.sep in cmd:
        return cmd if os.path.exists(cmd) else None
    return shutil.which(cmd)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group led by ``pid`` (ours: started in a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def start_script(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    group: str | None = None,
    extra_groups: list[str] | None = None,
) -> asyncio.subprocess.Process:
    """Start ``args`` detached from us: its own session (process group, so a timeout can kill
    everything it started), stdio on /dev/null, no inherited fds; ``user``/``group``/
    ``extra_groups`` as for :class:`subprocess.Popen` (None: unchanged).

    Raises OSError (cannot exec), KeyError/ValueError (unknown user or group).
    """
    return await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
        env=env,
        close_fds=True,
        user=user,
        group=group,
        extra_groups=extra_groups,
    )


def script_refusal(
    args: Sequence[str],
    *,
    enable_script_security: bool,
    uid: int | None = None,
    gid: int | None = None,
    check_exec: bool = True,
) -> str | None:
    """Why the script ``args`` must not run as ``uid``:``gid`` (default: our effective ids),
    or None; keepalived's ``check_script_secure`` (rules in :mod:`hadaemon.script_security`).
    ``check_exec=False`` skips the execute-permission test (ids not known exactly).

    Refused whatever the setting: not found (a bare name is searched in ``PATH``), not a regular
    file, not executable by ``uid``:``gid``, a wrong file type in its path. Refused with
    ``enable_script_security`` when it would run with root privileges and a non-root user could
    modify or replace it (keepalived only warns without the setting).
    """
    if not args or not args[0]:
        return "empty command"
    path = resolve(args[0])
    if path is None:
        return f"script {args[0]!r} not found"
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    path = os.path.abspath(path)
    try:
        real = os.path.realpath(path, strict=True)
        st = sec.PathStat.of(os.stat(real))
    except OSError as exc:
        return f"script {args[0]!r} cannot be accessed: {exc.strerror}"
    if not stat.S_ISREG(st.mode):
        return f"{real} is not a regular file"
    if check_exec and not sec.is_executable(st, uid, gid):
        return f"{real} is not executable by uid {uid} gid {gid}"
    if not sec.needs_protection(st, uid, gid):
        return None
    alias = os.path.join(os.path.dirname(real), os.path.basename(path))
    try:
        same = alias != real and os.path.samefile(alias, real)
    except OSError:
        same = False
    # hadaemon execs the path as configured: walk it too (root-owned links allowed there)
    walks = [(path, True)] + [
        (p, False) for p in sec.walk_paths(real, os.path.basename(path), same)
    ]
    for walk_path, links_ok in walks:
        items = []
        for component in sec.path_components(walk_path):
            try:
                items.append((component, sec.PathStat.of(os.lstat(component))))
            except OSError as exc:
                return f"script {args[0]!r} cannot be accessed: {component}: {exc.strerror}"
        why = sec.walk_problem(items, links_ok=links_ok)
        if why is not None:
            if why.endswith("not a directory") or why.endswith("not a regular file"):
                return f"wrong file type in script path: {why}"
            if enable_script_security:
                return f"insecure: {why}"
            log.info("Unsafe permissions found for script %r: %s", args[0], why)
            return None
    return None


def check_script_security(args: Sequence[str], *, run_as_root: bool = True) -> str | None:
    """Why ``args[0]`` must not run under ``enable_script_security``, or None: the VRRP
    worker's notify/track scripts, run as root (``run_as_root``) or as a ``script_user`` that
    is not root (then only set-uid/set-gid root scripts are protected, as keepalived).
    """
    if not args:
        return "empty command"
    if run_as_root:
        return script_refusal(args, enable_script_security=True, uid=0, gid=0)
    return script_refusal(
        args, enable_script_security=True, uid=_NOBODY, gid=_NOBODY, check_exec=False
    )


#: ids standing for "some user that is not root" (exec permission then comes from the other bits)
_NOBODY = 65534


class ScriptRunner:
    """Spawns scripts asynchronously and keeps track of them so ``stop()`` can reap them."""

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(env) if env is not None else None
        self._tasks: set[asyncio.Task[ScriptResult]] = set()

    def spawn(
        self,
        args: Sequence[str],
        *,
        timeout_s: float | None,
        what: str = "script",
        user: str | None = None,
        group: str | None = None,
    ) -> asyncio.Task[ScriptResult]:
        """Start ``args`` now; returns a task resolving to its :class:`ScriptResult`."""
        task = asyncio.ensure_future(
            self.run(args, timeout_s=timeout_s, what=what, user=user, group=group)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(
        self,
        args: Sequence[str],
        *,
        timeout_s: float | None,
        what: str = "script",
        user: str | None = None,
        group: str | None = None,
    ) -> ScriptResult:
        """Run ``args`` to completion or until ``timeout_s``; never raises for the script's
        own failures (they are logged). ``user``/``group``: run as (``script_user``)."""
        run_as = user if user and user != "root" else None
        try:
            proc = await start_script(
                args,
                env=self._env,
                user=run_as,
                group=group if group and group != "root" else None,
                extra_groups=[] if run_as else None,
            )
        except (OSError, KeyError, ValueError) as exc:  # KeyError/ValueError: unknown user
            if not isinstance(exc, OSError):
                log.warning("Failed to exec %s %r: unknown user/group %s", what, args[0], exc)
                return ScriptResult(None)
            log.warning("Failed to exec %s %r: %s", what, " ".join(args), exc.strerror)
            return ScriptResult(None)
        try:
            rc = await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("%s %r timed out after %gs; killing it", what, args[0], timeout_s)
            await self._kill(proc)
            return ScriptResult(proc.returncode, timed_out=True)
        except asyncio.CancelledError:
            await self._kill(proc)
            raise
        if rc != 0:
            log.debug("%s %r exited with status %d", what, args[0], rc)
        return ScriptResult(rc)

    @staticmethod
    async def _kill(proc: asyncio.subprocess.Process) -> None:
        """SIGTERM the script's process group, SIGKILL it after a grace period, reap."""
        for sig, wait_s in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
            kill_group(proc.pid, sig)
            try:
                await asyncio.wait_for(proc.wait(), wait_s)
                return
            except TimeoutError:
                continue
        # still here: the group leader ignored SIGKILL (impossible) or is a zombie elsewhere

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Wait a little for running scripts (notify_stop …), then kill the rest."""
        if not self._tasks:
            return
        tasks = list(self._tasks)
        _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class NotifyFifo:
    """keepalived's ``notify_fifo``: one line per event, written without blocking.

    The FIFO is created if missing and opened read-write so a missing reader never makes the
    open fail (keepalived does the same); a full FIFO drops the line with a warning.
    """

    label = "notify_fifo"
    """The keyword naming the FIFO in log messages."""
    log = log
    """Where its warnings go."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        """Create (if needed) and open the FIFO."""
        if not os.path.exists(self.path):
            os.mkfifo(self.path, 0o600)
        elif not stat.S_ISFIFO(os.stat(self.path).st_mode):
            raise ScriptSecurityError(f"notify_fifo {self.path} exists and is not a FIFO")
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def write(self, line: str) -> bool:
        """Write one line (newline added); False if it had to be dropped."""
        if self._fd is None:
            try:
                self.open()
            except OSError as exc:
                self.log.warning("cannot open %s %s: %s", self.label, self.path, exc.strerror)
                return False
        assert self._fd is not None
        try:
            os.write(self._fd, (line + "\n").encode())
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                self.log.warning("%s %s full; dropping %r", self.label, self.path, line)
            else:
                self.log.warning("cannot write %s %s: %s", self.label, self.path, exc.strerror)
            return False
        return True

    def close(self) -> None:
        """Close the FIFO (the file stays, as keepalived leaves it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def instance_line(kind: str, name: str, state: str, priority: int) -> str:
    """keepalived's FIFO line, e.g. ``INSTANCE "VI_1" MASTER 100``."""
    return f'{kind} "{name}" {state} {priority}'


class TrackScript:
    """A ``vrrp_script``: run every ``interval_s``; ``rise`` successes → OK, ``fall`` failures
    → KO. ``on_change(ok)`` is called on every change (and once for the first verdict)."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        runner: ScriptRunner,
        interval_s: float,
        timeout_s: float | None,
        rise: int,
        fall: int,
        init_fail: bool,
        on_change: Callable[[str, bool], None],
        user: str | None = None,
        group: str | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.runner = runner
        self.interval_s = interval_s
        self.timeout_s = timeout_s if timeout_s else interval_s
        self.on_change = on_change
        self.user = user
        self.group = group
        # the rise/fall hysteresis is the pure core's; weights are applied per instance
        self._tracker = ScriptTracker(
            name, rise=max(1, rise), fall=max(1, fall), init_fail=init_fail
        )
        self._decided = init_fail
        self._task: asyncio.Task[None] | None = None

    @property
    def rise(self) -> int:
        """``rise``: consecutive successes to go OK."""
        return self._tracker.rise

    @property
    def fall(self) -> int:
        """``fall``: consecutive failures to go KO."""
        return self._tracker.fall

    @property
    def ok(self) -> bool | None:
        """Current verdict; None until the first run (unless ``init_fail``)."""
        return self._tracker.up if self._decided else None

    def start(self) -> None:
        """Start the periodic runs."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        """Stop running the script."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def feed(self, success: bool) -> bool | None:
        """Apply one result to the rise/fall counters; returns the new verdict if it changed."""
        if not self._decided:
            # first result decides at once, as keepalived's initial state is decided by the
            # first run unless init_fail
            self._decided = True
            self._tracker.decide(success)
            return success
        return success if self._tracker.result(success) else None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            res = await self.runner.run(
                self.args,
                timeout_s=self.timeout_s,
                what=f"VRRP_Script({self.name})",
                user=self.user,
                group=self.group,
            )
            changed = self.feed(res.ok)
            if changed is not None:
                log.info("VRRP_Script(%s) %s", self.name, "succeeded" if changed else "failed")
                self.on_change(self.name, changed)
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))
