"""Real-server, quorum, sorry-server and notify decisions (pure)."""

from __future__ import annotations

from hadaemon.checkers.decisions import (
    FifoLine,
    HealthEngine,
    LogLine,
    QuorumState,
    RealServerState,
    RunScript,
    SorryServerState,
)
from hadaemon.checkers.spec import (
    CheckSpec,
    RealServerSpec,
    SorryServerSpec,
    VirtualServerSpec,
    fmt_service,
)

VS = fmt_service("192.168.100.100", 3306)


def chk(ip: str, kind: str = "TCP_CHECK", retry: int = 0) -> CheckSpec:
    return CheckSpec(
        kind=kind,
        connect_ip=ip,
        connect_port=3306,
        retry=retry,
        delay_before_retry_s=1.0,
        delay_loop_s=5.0,
    )


def rs(ip: str, weight: int = 1, nchecks: int = 1, **kw: object) -> RealServerSpec:
    return RealServerSpec(
        ip=ip, port=3306, weight=weight, checkers=tuple(chk(ip) for _ in range(nchecks)), **kw
    )  # type: ignore[arg-type]


def vs(*servers: RealServerSpec, **kw: object) -> VirtualServerSpec:
    return VirtualServerSpec(key=VS, ip="192.168.100.100", port=3306, real_servers=servers, **kw)  # type: ignore[arg-type]


def of(actions: list[object], t: type) -> list:  # type: ignore[type-arg]
    return [a for a in actions if isinstance(a, t)]


def test_startup_reports_every_real_server_without_scripts() -> None:
    e = HealthEngine((vs(rs("10.0.0.11", notify_up=("/bin/true",)), rs("10.0.0.12")),))
    acts = e.start(0.0)
    states = of(acts, RealServerState)
    assert [(s.rs_ip, s.up, s.present, s.weight) for s in states] == [
        ("10.0.0.11", True, True, 1),
        ("10.0.0.12", True, True, 1),
    ]
    assert not of(acts, RunScript)
    assert of(acts, QuorumState)[0].up
    assert any("Starting with quorum up" in a.message for a in of(acts, LogLine))


def test_rs_down_runs_notify_down_once_writes_fifo_and_logs_removal() -> None:
    e = HealthEngine(
        (vs(rs("10.0.0.11", notify_down=("/data/sh/mysql.sh", "down")), rs("10.0.0.12")),)
    )
    e.start(0.0)
    acts = e.checker_result(
        (0, 0, 0), False, 1.0, reason="TCP connection to [10.0.0.11]:tcp:3306 failed."
    )
    assert of(acts, RunScript) == [RunScript(("/data/sh/mysql.sh", "down"), None, "notify_down")]
    assert FifoLine(f"RS [10.0.0.11]:tcp:3306 {VS} DOWN") in acts
    msgs = [a.message for a in of(acts, LogLine)]
    assert "TCP connection to [10.0.0.11]:tcp:3306 failed." in msgs
    assert "TCP_CHECK on service [10.0.0.11]:tcp:3306 failed." in msgs
    assert f"Removing service [10.0.0.11]:tcp:3306 from VS {VS}" in msgs
    s = of(acts, RealServerState)[0]
    assert (s.up, s.present, s.weight) == (False, False, 0)
    # a second failure while down: nothing new
    assert not of(e.checker_result((0, 0, 0), False, 6.0), RunScript)


def test_all_checkers_must_pass() -> None:
    e = HealthEngine((vs(rs("10.0.0.11", nchecks=2), rs("10.0.0.12")),))
    e.start(0.0)
    e.checker_result((0, 0, 1), False, 1.0)
    e.checker_result((0, 0, 0), True, 1.0)
    assert e.status()[0]["real_servers"][0]["up"] is False  # type: ignore[index]
    acts = e.checker_result((0, 0, 1), True, 2.0)
    assert of(acts, RealServerState)[0].up


def test_inhibit_on_failure_reports_weight_zero_but_present() -> None:
    e = HealthEngine((vs(rs("10.0.0.11", weight=5, inhibit_on_failure=True), rs("10.0.0.12")),))
    e.start(0.0)
    acts = e.checker_result((0, 0, 0), False, 1.0)
    s = of(acts, RealServerState)[0]
    assert (s.up, s.present, s.weight) == (False, True, 0)
    assert any(a.message.startswith("Disabling service") for a in of(acts, LogLine))
    acts = e.checker_result((0, 0, 0), True, 2.0)
    s = of(acts, RealServerState)[0]
    assert (s.up, s.present, s.weight) == (True, True, 5)


def test_quorum_loss_activates_sorry_server_and_displaces_alive_servers() -> None:
    v = vs(
        rs("10.0.0.11"),
        rs("10.0.0.12"),
        quorum=2,
        sorry_server=SorryServerSpec("10.0.0.99", 3306),
        quorum_up=("/q", "up"),
        quorum_down=("/q", "down"),
    )
    e = HealthEngine((v,))
    e.start(0.0)
    acts = e.checker_result((0, 0, 0), False, 1.0)
    q = of(acts, QuorumState)
    assert q and not q[0].up and q[0].live_weight == 1
    sorry = of(acts, SorryServerState)
    assert sorry == [SorryServerState(VS, "10.0.0.99", 3306, True, True, 1)]
    assert RunScript(("/q", "down"), None, "quorum_down") in acts
    assert FifoLine(f"VS {VS} DOWN") in acts
    # the still-healthy 10.0.0.12 leaves the pool while the sorry server serves
    displaced = [s for s in of(acts, RealServerState) if s.rs_ip == "10.0.0.12"]
    assert displaced and displaced[-1].up and not displaced[-1].present
    acts = e.checker_result((0, 0, 0), True, 2.0)
    assert of(acts, SorryServerState)[0].active is False
    assert RunScript(("/q", "up"), None, "quorum_up") in acts
    back = {s.rs_ip: s.present for s in of(acts, RealServerState)}
    assert back == {"10.0.0.11": True, "10.0.0.12": True}


def test_hysteresis_dampens_quorum_flaps() -> None:
    servers = [rs(f"10.0.0.{i}") for i in range(1, 6)]
    e = HealthEngine((vs(*servers, quorum=3, hysteresis=1),))
    e.start(0.0)
    e.checker_result((0, 0, 0), False, 1.0)
    e.checker_result((0, 1, 0), False, 1.0)  # live 3
    e.checker_result((0, 2, 0), False, 1.0)  # live 2: still >= 3-1
    assert e.status()[0]["quorum_up"] is True
    acts = e.checker_result((0, 3, 0), False, 1.0)  # live 1 < 2
    assert of(acts, QuorumState)[0].up is False
    assert not of(e.checker_result((0, 0, 0), True, 2.0), QuorumState)  # 2 < 3+1
    assert not of(e.checker_result((0, 1, 0), True, 2.0), QuorumState)  # 3 < 4
    acts = e.checker_result((0, 2, 0), True, 2.0)  # 4 >= 4
    assert of(acts, QuorumState)[0].up is True
    assert any(a.message.startswith("Gained quorum 3+1=4 <= 4") for a in of(acts, LogLine))


def test_alpha_starts_down_with_sorry_server_and_quorum_down() -> None:
    v = vs(rs("10.0.0.11"), alpha=True, sorry_server=SorryServerSpec("10.0.0.99", 3306))
    e = HealthEngine((v,))
    acts = e.start(0.0)
    assert of(acts, RealServerState)[0].present is False
    assert of(acts, SorryServerState)[0].active is True
    assert of(acts, QuorumState)[0].up is False


def test_misc_dynamic_weight_changes_weight_and_reports_it() -> None:
    c = CheckSpec(kind="MISC_CHECK", connect_ip="10.0.0.11", connect_port=None, retry=0)
    r = RealServerSpec(ip="10.0.0.11", port=3306, weight=1, checkers=(c,))
    e = HealthEngine((vs(r),))
    e.start(0.0)
    acts = e.checker_result((0, 0, 0), True, 1.0, weight=10)
    s = of(acts, RealServerState)[0]
    assert (s.up, s.weight) == (True, 10)
    assert any("Changing weight from 1 to 10" in a.message for a in of(acts, LogLine))


def test_omega_runs_down_notifiers_at_shutdown() -> None:
    v = vs(rs("10.0.0.11", notify_down=("/n", "down")), omega=True, quorum_down=("/q",))
    e = HealthEngine((v,))
    e.start(0.0)
    acts = e.shutdown()
    assert RunScript(("/n", "down"), None, "notify_down") in acts
    assert RunScript(("/q",), None, "quorum_down") in acts
    v2 = vs(rs("10.0.0.11", notify_down=("/n",)))
    e2 = HealthEngine((v2,))
    e2.start(0.0)
    assert e2.shutdown() == []


def test_next_check_at_and_get_timer() -> None:
    e = HealthEngine((vs(rs("10.0.0.11"), rs("10.0.0.12")),))
    e.start(100.0, {(0, 0, 0): 0.0, (0, 1, 0): 0.0})
    assert e.get_timer() == 100.0
    e.checker_result((0, 0, 0), True, 100.0)
    assert e.next_check_at((0, 0, 0)) == 105.0
    assert e.get_timer() == 100.0
