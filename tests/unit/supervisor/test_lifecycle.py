"""Worker lifecycle FSM with an injected clock and fake OS calls."""

from __future__ import annotations

import signal

import pytest

from hadaemon.supervisor.lifecycle import (
    EXIT_CONFIG,
    EXIT_NOPERM,
    Child,
    ChildState,
    Kill,
    Spawn,
)


class FakeOs:
    """Executes a Child's actions: hands out pids and records kills."""

    def __init__(self) -> None:
        self.next_pid = 100
        self.kills: list[tuple[int, int]] = []
        self.spawns = 0

    def run(self, child: Child, now: float) -> None:
        for a in child.actions():
            if isinstance(a, Spawn):
                self.spawns += 1
                self.next_pid += 1
                child.spawned(self.next_pid, now)
            elif isinstance(a, Kill):
                self.kills.append((a.pid, a.signum))


def started(now: float = 0.0) -> tuple[Child, FakeOs]:
    c, os_ = Child("vrrp"), FakeOs()
    c.start(now)
    os_.run(c, now)
    c.ready(now + 0.05)
    return c, os_


def test_start_ready_running() -> None:
    c, os_ = started()
    assert c.state is ChildState.RUNNING and c.pid == 101 and os_.spawns == 1
    assert c.get_timer() is None


def test_backoff_doubles_to_60s_and_resets_after_stable_minute() -> None:
    c, os_ = started()
    now = 1.0
    delays = []
    for _ in range(12):
        c.exited(-signal.SIGKILL, now)
        assert c.state is ChildState.BACKOFF
        deadline = c.get_timer()
        assert deadline is not None
        delays.append(round(deadline - now, 3))
        c.handle_timer(deadline - 0.001)  # not yet
        assert c.state is ChildState.BACKOFF and not c.actions()
        now = deadline
        c.handle_timer(now)
        assert c.state is ChildState.STARTING
        os_.run(c, now)
        c.ready(now)
        now += 0.5  # dies 0.5 s after Ready: a crash loop
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60.0, 60.0]
    assert c.restarts == 12 and os_.spawns == 13
    # it now runs for a stable minute: the next crash respawns after 0.1 s again
    now += 60.0
    c.exited(-signal.SIGSEGV, now)
    assert c.get_timer() == pytest.approx(now + 0.1)


def test_killed_while_serving_respawns_fast_every_time() -> None:
    c, os_ = started()
    now = 5.0
    for _ in range(20):
        c.exited(-signal.SIGKILL, now)
        deadline = c.get_timer()
        assert deadline == pytest.approx(now + 0.1)
        c.handle_timer(deadline)
        os_.run(c, deadline)
        c.ready(deadline + 0.2)
        now = deadline + 0.2 + c.min_healthy_s + 0.01
    assert c.restarts == 20 and os_.spawns == 21


@pytest.mark.parametrize("code", [EXIT_CONFIG, EXIT_NOPERM])
def test_permanent_exit_is_fatal_no_respawn(code: int) -> None:
    c, os_ = started()
    c.exited(code, 2.0)
    assert c.state is ChildState.FATAL and c.get_timer() is None
    c.handle_timer(1000.0)
    assert not c.actions() and os_.spawns == 1
    # an explicit start (e.g. after a reload) tries again
    c.start(1001.0)
    assert c.state is ChildState.STARTING and c.actions() == [Spawn("vrrp")]


def test_exit_zero_while_running_is_a_crash() -> None:
    c, _ = started()
    c.exited(0, 3.0)
    assert c.state is ChildState.BACKOFF and c.restarts == 1


def test_orderly_stop_term_then_kill() -> None:
    c, os_ = started()
    c.stop(10.0)
    assert c.state is ChildState.STOPPING
    os_.run(c, 10.0)
    assert os_.kills == [(101, signal.SIGTERM)]
    c.handle_timer(10.0 + c.stop_timeout_s)
    os_.run(c, 15.0)
    assert os_.kills[-1] == (101, signal.SIGKILL)
    c.exited(-signal.SIGKILL, 15.1)
    assert c.state is ChildState.STOPPED and c.restarts == 0


def test_stop_during_backoff_cancels_respawn() -> None:
    c, os_ = started()
    c.exited(-9, 1.0)
    c.stop(1.01)
    assert c.state is ChildState.STOPPED
    c.handle_timer(5.0)
    assert not c.actions() and os_.spawns == 1


def test_startup_timeout_kills_then_backoff() -> None:
    c, os_ = Child("checker", startup_timeout_s=2.0), FakeOs()
    c.start(0.0)
    os_.run(c, 0.0)
    c.handle_timer(2.0)
    os_.run(c, 2.0)
    assert os_.kills == [(101, signal.SIGKILL)]
    c.exited(-signal.SIGKILL, 2.01)
    assert c.state is ChildState.BACKOFF


def test_illegal_transition_is_a_bug() -> None:
    c = Child("lvs")
    with pytest.raises(RuntimeError):
        c._change_state(ChildState.RUNNING)


def test_stale_exit_ignored_and_kill_requests_sigkill() -> None:
    c, os_ = started()
    c.kill(4.0)
    os_.run(c, 4.0)
    assert os_.kills == [(101, signal.SIGKILL)]
    c.stop(5.0)
    c.exited(-9, 5.1)
    c.exited(-9, 5.2)  # duplicate: ignored
    assert c.state is ChildState.STOPPED
