"""Pure reconcile and memory backend: desired vs actual → operations."""

from __future__ import annotations

import pytest

from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.memory import MemoryBackend
from hadaemon.lvs.model import (
    Match,
    Real,
    Service,
    service_from_dict,
    service_to_dict,
    validate_service,
)
from hadaemon.lvs.reconcile import (
    ActualState,
    AddService,
    DeleteService,
    EnsureBase,
    UpdateService,
    reconcile,
)


def svc(
    name: str = "a", port: int = 80, reals: tuple[Real, ...] | None = None, **kw: object
) -> Service:
    if reals is None:
        reals = (Real("10.0.0.1", 80, 1), Real("10.0.0.2", 80, 2))
    return Service(name, (Match("10.1.1.1", "tcp", port),), reals=reals, **kw)  # type: ignore[arg-type]


def test_empty_actual_creates_base_then_services_sorted() -> None:
    ops = reconcile([svc("b"), svc("a")], ActualState())
    assert ops == [EnsureBase(()), AddService(svc("a")), AddService(svc("b"))]


def test_equal_states_give_no_ops() -> None:
    d = [svc("a"), svc("b")]
    actual = ActualState({s.name: s.fingerprint() for s in d}, True)
    assert reconcile(d, actual) == []


def test_weight_change_is_one_update() -> None:
    old = svc("a")
    new = svc("a", reals=(Real("10.0.0.1", 80, 1), Real("10.0.0.2", 80, 5)))
    ops = reconcile([new], ActualState({"a": old.fingerprint()}, True))
    assert ops == [UpdateService(new)]


def test_damaged_service_is_rewritten() -> None:
    ops = reconcile([svc("a")], ActualState({"a": ""}, True))
    assert ops == [UpdateService(svc("a"))]


def test_removed_service_deleted_before_additions() -> None:
    ops = reconcile([svc("z")], ActualState({"a": "x"}, True))
    assert ops == [DeleteService("a"), AddService(svc("z"))]


def test_dr_devices_change_recreates_base() -> None:
    dr = svc("d", method="DR", ingress_devices=("eth0",))
    ops = reconcile([dr], ActualState({"d": dr.fingerprint()}, True, ()))
    assert ops == [EnsureBase(("eth0",))]
    assert reconcile([dr], ActualState({"d": dr.fingerprint()}, True, ("eth0",))) == []


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        reconcile([svc("a"), svc("a", port=81)], ActualState())


def test_fingerprint_tracks_every_field() -> None:
    base = svc()
    assert base.fingerprint() == svc().fingerprint()
    for other in (
        svc(port=81),
        svc(scheduler="rr"),
        svc(persistence_timeout_s=60),
        svc(method="DR"),
        svc(reals=(Real("10.0.0.1", 80, 0),)),
        svc(hash_port=True),
        svc(reals=(Real("10.0.0.1", 80, 1, "eth1"), Real("10.0.0.2", 80, 2))),
        svc(ingress_devices=("eth0",)),
        svc(family=6),
        svc(sorry=True),
        svc(seed=1),
        svc(ipvs_scheduler="wlc"),
        svc(persistence_granularity="255.255.255.0"),
        Service("a", (Match(fwmark=1),), reals=base.reals),
    ):
        assert other.fingerprint() != base.fingerprint(), other
    # every field of Service, Match and Real is in the fingerprint's input
    from dataclasses import fields

    from hadaemon.lvs.model import _canonical

    c = _canonical(base)
    assert len(c) == len(fields(Service))
    assert len(c[1][0]) == len(fields(Match)) and len(c[4][0]) == len(fields(Real))


def test_fingerprint_is_the_same_in_another_process() -> None:
    """A respawned worker adopts the rules by their fingerprints: no per-process hash()."""
    import subprocess
    import sys

    code = (
        "from hadaemon.lvs.model import Match, Real, Service\n"
        "print(Service('a', (Match('10.1.1.1', 'tcp', 80),),"
        " reals=(Real('10.0.0.1', 80, 1), Real('10.0.0.2', 80, 2))).fingerprint())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outs == {svc().fingerprint()}


def test_memory_backend_converges_and_is_atomic() -> None:
    b = MemoryBackend()
    d = [svc("a"), svc("b")]
    b.apply(reconcile(d, b.read_actual()), d)
    assert reconcile(d, b.read_actual()) == []
    bad = Service("c", (Match("not-an-ip", "tcp", 80),))
    before = dict(b.services)
    with pytest.raises(BackendError, match="bad virtual server address"):
        b.apply(reconcile([*d, bad], b.read_actual()), [*d, bad])
    assert b.services == before
    b.apply(reconcile([], b.read_actual()), [])
    assert b.services == {}


def test_validate_service_reports_problems() -> None:
    s = Service(
        "x",
        (Match("10.0.0.1", "icmp", 70000),),
        method="FOO",
        scheduler="lc",
        reals=(Real("bad", 1, -1),),
        persistence_granularity="300.0.0.0",
    )
    text = " ".join(validate_service(s))
    for part in (
        "lvs_method",
        "scheduler",
        "protocol",
        "port 70000",
        "real server address",
        "negative weight",
        "persistence_granularity",
    ):
        assert part in text


def test_service_dict_roundtrip() -> None:
    s = svc(
        persistence_timeout_s=60,
        persistence_granularity="255.255.255.0",
        method="DR",
        ingress_devices=("eth0",),
        scheduler="mh",
        hash_port=True,
    )
    assert service_from_dict(service_to_dict(s)) == s
