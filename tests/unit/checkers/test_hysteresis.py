"""Retry/rise/fall rules of one checker, time walked by hand."""

from __future__ import annotations

import pytest

from hadaemon.checkers.hysteresis import CheckerState


def make(retry: int = 2, alpha: bool = False) -> CheckerState:
    s = CheckerState(
        retry=retry, delay_before_retry_s=0.5, delay_loop_s=2.0, warmup_s=1.0, alpha=alpha
    )
    return s


def test_starts_up_and_warmup_fraction_sets_first_deadline() -> None:
    s = make()
    assert s.up
    assert s.start(10.0, 0.5) == 10.5
    assert s.get_timer() == 10.5


def test_alpha_starts_down_and_one_success_brings_it_up() -> None:
    s = make(alpha=True)
    s.start(0.0)
    assert not s.up
    o = s.handle_result(True, 0.0)
    assert o.up and o.changed and o.next_check_at == 2.0


@pytest.mark.parametrize("retry", [0, 1, 3, 5])
def test_up_checker_goes_down_on_exactly_retry_plus_one_failures(retry: int) -> None:
    s = make(retry=retry)
    now = s.start(0.0)
    for i in range(retry):
        o = s.handle_result(False, now)
        assert o.up and o.retrying and not o.changed, i
        assert o.next_check_at == now + 0.5  # delay_before_retry
        now = o.next_check_at
    o = s.handle_result(False, now)
    assert not o.up and o.changed and not o.retrying
    assert o.next_check_at == now + 2.0  # back to delay_loop
    assert s.failures == retry + 1


def test_success_in_the_middle_resets_the_retry_counter() -> None:
    s = make(retry=2)
    now = s.start(0.0)
    s.handle_result(False, now)
    s.handle_result(False, now)
    assert s.retry_it == 2
    s.handle_result(True, now)
    assert s.retry_it == 0
    assert s.handle_result(False, now).up  # counting starts again


def test_down_checker_does_not_retry_fast() -> None:
    s = make(retry=3)
    now = s.start(0.0)
    for _ in range(4):
        now = s.handle_result(False, now).next_check_at
    assert not s.up
    o = s.handle_result(False, now)
    assert not o.changed and not o.retrying and o.next_check_at == now + 2.0


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError):
        CheckerState(retry=-1, delay_before_retry_s=1, delay_loop_s=1)
    with pytest.raises(ValueError):
        CheckerState(retry=1, delay_before_retry_s=1, delay_loop_s=0)
