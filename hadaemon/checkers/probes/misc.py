"""MISC_CHECK: run a program; exit 0 = up, 1 = down, 2..255 = up with weight (misc_dynamic).

The program runs in its own session (process group) so that on ``misc_timeout`` the whole
group - the script and anything it started - gets SIGKILL and is reaped: nothing is left running.
"""

from __future__ import annotations

import asyncio
import shlex

from hadaemon.checkers.probes import ProbeResult, target
from hadaemon.checkers.spec import CheckSpec, MiscSpec
from hadaemon.io.scripts import kill_group, start_script


async def run_script(
    argv: list[str] | tuple[str, ...],
    timeout_s: float | None,
    user: str | None = None,
    group: str | None = None,
) -> tuple[int | None, str]:
    """Run ``argv`` in a new session (see :func:`hadaemon.io.scripts.start_script`); SIGKILL
    its process group on timeout. Returns (exit status or None, failure text)."""
    try:
        proc = await start_script(argv, user=user, group=group if user is not None else None)
    except PermissionError:
        return None, "not executable"
    except FileNotFoundError:
        return None, "not found"
    except (OSError, ValueError, KeyError) as exc:  # KeyError: unknown user/group
        return None, f"cannot start ({exc})"
    try:
        async with asyncio.timeout(timeout_s):
            rc = await proc.wait()
    except TimeoutError:
        kill_group(proc.pid)
        await proc.wait()
        return None, "timed out"
    except asyncio.CancelledError:
        kill_group(proc.pid)
        await asyncio.shield(proc.wait())
        raise
    if rc < 0:
        return None, f"killed by signal {-rc}"
    return rc, ""


async def probe(spec: CheckSpec) -> ProbeResult:
    """Run ``misc_path`` with ``misc_timeout`` (default: delay_loop)."""
    m = spec.misc or MiscSpec()
    name = target(spec)
    if m.disabled_reason:
        return ProbeResult(
            False, f"Misc check for [{name}] by [{m.misc_path}] disabled: {m.disabled_reason}."
        )
    try:
        argv = shlex.split(m.misc_path)
    except ValueError as exc:
        return ProbeResult(False, f"Misc check for [{name}] bad misc_path: {exc}")
    if not argv:
        return ProbeResult(False, f"Misc check for [{name}]: empty misc_path")
    timeout_s = m.misc_timeout_s if m.misc_timeout_s is not None else spec.delay_loop_s
    rc, why = await run_script(argv, timeout_s, m.user, m.group)
    head = f"Misc check for [{name}] by [{m.misc_path}]"
    if rc is None:
        return ProbeResult(False, f"{head} {why}.")
    if rc == 0:
        return ProbeResult(True, f"{head} succeeded.")
    if m.misc_dynamic and rc >= 2:
        return ProbeResult(True, f"{head} succeeded (exit status {rc}).", weight=rc - 2)
    return ProbeResult(False, f"{head} failed (exit status {rc}).")
