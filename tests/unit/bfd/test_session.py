"""BFD sessions walked by hand and two cores talking in memory (RFC 5880 §6.2, §6.5, §6.8)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from hadaemon.bfd.core import BfdCore, Peer, session_setup
from hadaemon.bfd.packet import ControlPacket, Diag, State, decode
from hadaemon.bfd.session import SendControl, Session, SessionParams, SessionStateChanged

FAST = SessionParams(name="s", desired_min_tx_us=50_000, required_min_rx_us=50_000)


def _sends(actions: Sequence[object]) -> list[ControlPacket]:
    return [a.packet for a in actions if isinstance(a, SendControl)]


def _changes(actions: Sequence[object]) -> list[tuple[State, State]]:
    return [(a.old, a.new) for a in actions if isinstance(a, SessionStateChanged)]


def _remote(state: State, your: int, **kw: object) -> ControlPacket:
    args: dict[str, object] = {
        "state": state,
        "my_discriminator": 99,
        "your_discriminator": your,
        "detect_mult": 3,
        "desired_min_tx_us": 1_000_000,
        "required_min_rx_us": 50_000,
    }
    args.update(kw)
    return ControlPacket(**args)  # type: ignore[arg-type]


def test_starts_down_and_sends_slowly_with_jitter() -> None:
    s = Session(FAST, 1, rng=random.Random(1))
    s.start(0.0)
    assert s.get_timer() == 0.0
    s.handle_timer(0.0)
    pkts = _sends(s.actions())
    assert len(pkts) == 1
    assert pkts[0].state is State.DOWN and pkts[0].your_discriminator == 0
    assert pkts[0].desired_min_tx_us == 1_000_000  # slow while not Up (§6.8.3)
    gaps, prev = [], 0.0
    for _ in range(200):
        t = s.get_timer()
        assert t is not None
        gaps.append(t - prev)
        prev = t
        s.handle_timer(t)
        s.actions()
    assert min(gaps) >= 0.75 - 1e-9
    assert max(gaps) <= 1.0 + 1e-9
    assert max(gaps) - min(gaps) > 0.1  # it is jittered


def test_jitter_at_most_90_percent_with_multiplier_1() -> None:
    s = Session(SessionParams(name="m1", detect_mult=1), 1, rng=random.Random(2))
    s.start(0.0)
    s.handle_timer(0.0)
    now = 0.0
    for _ in range(200):
        t = s.get_timer()
        assert t is not None
        assert 0.75 - 1e-9 <= t - now <= 0.9 + 1e-9
        now = t
        s.handle_timer(now)


def test_passive_waits_for_the_remote() -> None:
    s = Session(SessionParams(name="p", passive=True), 5)
    s.start(0.0)
    assert s.get_timer() is None
    s.handle_packet(_remote(State.DOWN, 0), 1.0)
    acts = s.actions()
    assert _changes(acts) == [(State.DOWN, State.INIT)]
    assert _sends(acts)[0].state is State.INIT  # answers at once
    assert s.get_timer() is not None


def test_three_way_handshake_then_poll_to_fast_timers() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_timer(0.0)
    s.actions()
    s.handle_packet(_remote(State.DOWN, 0), 0.5)
    assert _changes(s.actions()) == [(State.DOWN, State.INIT)]
    s.handle_packet(_remote(State.UP, 7), 0.6)
    acts = s.actions()
    assert _changes(acts) == [(State.INIT, State.UP)]
    pkt = _sends(acts)[-1]
    assert pkt.state is State.UP and pkt.poll  # new DesiredMinTx advertised with P (§6.8.3)
    assert pkt.desired_min_tx_us == 50_000
    assert s.poll_active
    s.handle_packet(_remote(State.UP, 7, final=True), 0.61)
    assert not s.poll_active
    assert s.tx_interval_us == 50_000


def test_answers_poll_with_final() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_packet(_remote(State.INIT, 7), 0.1)
    assert s.state is State.UP
    s.actions()
    s.handle_packet(_remote(State.UP, 7, poll=True, desired_min_tx_us=50_000), 0.2)
    pkts = _sends(s.actions())
    assert len(pkts) == 1 and pkts[0].final and not pkts[0].poll


def test_detection_time_and_diag_1() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_packet(_remote(State.INIT, 7, desired_min_tx_us=100_000), 1.0)
    assert s.state is State.UP
    # Detection Time = remote mult 3 × max(our RequiredMinRx 50 ms, remote tx 100 ms)
    assert s.detection_time_us == 300_000
    assert s.detect_deadline == pytest.approx(1.3)
    s.actions()
    s.handle_timer(1.3)
    acts = s.actions()
    assert _changes(acts) == [(State.UP, State.DOWN)]
    assert s.local_diag is Diag.TIME_EXPIRED
    assert s.remote_discr == 0
    down = _sends(acts)[0]
    assert down.state is State.DOWN and down.diag == Diag.TIME_EXPIRED


def test_remote_down_and_admin_down_take_us_down_with_diag_3() -> None:
    for remote in (State.DOWN, State.ADMIN_DOWN):
        s = Session(FAST, 7)
        s.start(0.0)
        s.handle_packet(_remote(State.INIT, 7), 0.1)
        s.actions()
        s.handle_packet(_remote(remote, 7 if remote is State.DOWN else 0), 0.2)
        assert s.state is State.DOWN
        assert s.local_diag is Diag.NEIGHBOR_DOWN


def test_wrong_your_discriminator_is_dropped() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_packet(_remote(State.UP, 8), 0.1)
    assert s.state is State.DOWN
    assert s.stats.drops == {"no_session": 1}


def test_no_periodic_tx_when_remote_min_rx_is_zero() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_timer(0.0)
    s.handle_packet(_remote(State.DOWN, 0, required_min_rx_us=0), 0.1)
    assert s.next_tx is None


def test_admin_down_says_so_once_then_discards() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_packet(_remote(State.INIT, 7), 0.1)
    s.actions()
    s.admin_down(0.2)
    acts = s.actions()
    assert _changes(acts) == [(State.UP, State.ADMIN_DOWN)]
    (pkt,) = _sends(acts)
    assert pkt.state is State.ADMIN_DOWN and pkt.diag == Diag.ADMIN_DOWN
    assert s.get_timer() is None
    s.handle_packet(_remote(State.UP, 7), 0.3)
    assert s.stats.drops == {"admin_down": 1}


def test_increase_while_up_keeps_old_values_until_final() -> None:
    s = Session(FAST, 7)
    s.start(0.0)
    s.handle_packet(_remote(State.INIT, 7, desired_min_tx_us=10_000), 0.1)
    s.handle_packet(_remote(State.UP, 7, final=True, desired_min_tx_us=10_000), 0.11)
    assert not s.poll_active
    slow = SessionParams(name="s", desired_min_tx_us=300_000, required_min_rx_us=20_000)
    s.reconfigure(slow, 0.2)
    assert s.poll_active
    assert s.tx_interval_us == 50_000  # increased tx waits for the Final (§6.8.3)
    assert s._detect_rx_us == 50_000  # reduced rx too
    s.handle_packet(_remote(State.UP, 7, final=True, desired_min_tx_us=10_000), 0.3)
    assert s.tx_interval_us == 300_000
    assert s.detection_time_us == 3 * 20_000


# -- two cores in memory ---------------------------------------------------------------------
@dataclass
class Wire:
    """Two cores joined by a lossless wire with a fixed one-way delay; time walked by hand."""

    a: BfdCore
    b: BfdCore
    delay_s: float = 0.001
    now: float = 0.0
    in_flight: list[tuple[float, str, bytes]] = field(default_factory=list)
    cut: bool = False
    changes: list[tuple[float, str, State]] = field(default_factory=list)

    def _drain(self, side: str) -> None:
        core = self.a if side == "a" else self.b
        for act in core.actions():
            if isinstance(act, SendControl):
                if not self.cut:
                    dst = "b" if side == "a" else "a"
                    self.in_flight.append((self.now + self.delay_s, dst, act.packet.encode()))
            else:
                self.changes.append((self.now, side, act.new))

    def run_until(self, t_end: float) -> None:
        self._drain("a")
        self._drain("b")
        while True:
            times = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            times += [f[0] for f in self.in_flight]
            nxt = min(times) if times else None
            if nxt is None or nxt > t_end:
                self.now = t_end
                return
            self.now = max(self.now, nxt)
            due = [f for f in self.in_flight if f[0] <= self.now]
            self.in_flight = [f for f in self.in_flight if f[0] > self.now]
            for _, dst, data in due:
                core = self.a if dst == "a" else self.b
                src = "10.0.0.1" if dst == "b" else "10.0.0.2"
                core.handle_datagram(data, src, self.now, ttl=255)
                self._drain(dst)
            for side, core in (("a", self.a), ("b", self.b)):
                core.handle_timer(self.now)
                self._drain(side)


def _pair(pa: SessionParams, pb: SessionParams, seed: int = 0) -> Wire:
    a, b = BfdCore(rng=random.Random(seed)), BfdCore(rng=random.Random(seed + 1))
    a.add(pa, Peer(pa.name, "10.0.0.2"), 0.0)
    b.add(pb, Peer(pb.name, "10.0.0.1"), 0.0)
    return Wire(a, b)


def _state(core: BfdCore) -> State:
    (s,) = core.sessions.values()
    return s.state


@pytest.mark.parametrize("seed", range(5))
def test_two_cores_come_up_and_settle_on_fast_timers(seed: int) -> None:
    w = _pair(FAST, SessionParams(name="t", desired_min_tx_us=20_000), seed)
    w.run_until(3.0)
    assert _state(w.a) is State.UP and _state(w.b) is State.UP
    sa, sb = w.a.sessions["s"], w.b.sessions["t"]
    assert not sa.poll_active and not sb.poll_active
    assert sa.tx_interval_us == 50_000  # max(own 50 ms, b's RequiredMinRx 10 ms)
    assert sb.tx_interval_us == 50_000  # max(own 20 ms, a's RequiredMinRx 50 ms)
    # a's Detection Time: b's mult 5 × max(a's RequiredMinRx 50 ms, b's tx 20 ms)
    assert sa.detection_time_us == 250_000
    assert [c for c in w.changes if c[1] == "a"][-1][2] is State.UP
    ups = sa.stats.rx_packets
    w.run_until(13.0)  # stays Up, packets keep flowing at the fast rate
    assert _state(w.a) is State.UP and _state(w.b) is State.UP
    assert sa.stats.rx_packets - ups > 10.0 / 0.05 * 0.9


def test_two_cores_cut_and_heal() -> None:
    w = _pair(FAST, FAST)
    w.run_until(3.0)
    assert _state(w.a) is State.UP
    w.cut = True
    t_cut = w.now
    w.run_until(t_cut + 1.0)
    assert _state(w.a) is State.DOWN and _state(w.b) is State.DOWN
    down_at = [t for t, side, st in w.changes if side == "a" and st is State.DOWN][-1]
    # within the Detection Time (5 × 50 ms) of the last packet, which was before the cut
    assert down_at - t_cut <= 0.25 + 1e-6
    assert w.a.sessions["s"].local_diag is Diag.TIME_EXPIRED
    w.cut = False
    w.run_until(w.now + 4.0)
    assert _state(w.a) is State.UP and _state(w.b) is State.UP


def test_shutdown_takes_the_peer_down_at_once() -> None:
    w = _pair(FAST, FAST)
    w.run_until(3.0)
    w.a.shutdown(w.now)
    w.run_until(w.now + 0.01)
    assert _state(w.b) is State.DOWN
    assert w.b.sessions["s"].local_diag is Diag.NEIGHBOR_DOWN


def test_passive_side_comes_up_with_an_active_one() -> None:
    w = _pair(FAST, SessionParams(name="p", passive=True))
    w.run_until(4.0)
    assert _state(w.a) is State.UP and _state(w.b) is State.UP


def test_two_passive_sides_never_talk() -> None:
    p = SessionParams(name="p", passive=True)
    w = _pair(p, p)
    w.run_until(5.0)
    assert not w.in_flight and _state(w.a) is State.DOWN


# -- demultiplexing --------------------------------------------------------------------------
def test_core_drops_by_reason() -> None:
    core = BfdCore(rng=random.Random(3))
    s = core.add(FAST, Peer("s", "10.0.0.2"), 0.0)
    down = _remote(State.DOWN, 0).encode()
    assert core.handle_datagram(down, "10.0.0.9", 0.1, ttl=255) is None
    assert core.handle_datagram(down, "10.0.0.2", 0.1, ttl=254) is None
    assert core.handle_datagram(b"\x00" * 4, "10.0.0.2", 0.1) is None
    up_other = _remote(State.UP, s.local_discr + 1).encode()
    assert core.handle_datagram(up_other, "10.0.0.2", 0.1) is None
    assert core.drops == {"no_session": 2, "bad_ttl": 1, "short": 1}
    assert core.handle_datagram(down, "10.0.0.2", 0.2, ttl=255) is s
    assert s.state is State.INIT
    # once known, the discriminator finds it whatever the source says
    assert core.handle_datagram(_remote(State.UP, s.local_discr).encode(), "::1", 0.3) is s


def test_max_hops_relaxes_the_ttl_check() -> None:
    core = BfdCore()
    core.add(FAST, Peer("s", "10.0.0.2", max_hops=2), 0.0)
    down = _remote(State.DOWN, 0).encode()
    assert core.handle_datagram(down, "10.0.0.2", 0.1, ttl=252) is None
    assert core.handle_datagram(down, "10.0.0.2", 0.1, ttl=253) is not None


def test_session_setup_from_config() -> None:
    from hadaemon.config.model import BfdInstance

    params, peer = session_setup(
        BfdInstance(name="up", neighbor_ip="192.0.2.1", min_rx_ms=30, min_tx_ms=40, multiplier=3)
    )
    assert params.required_min_rx_us == 30_000 and params.desired_min_tx_us == 40_000
    assert params.idle_tx_us == 1_000_000 and params.detect_mult == 3
    assert peer.neighbor_ip == "192.0.2.1" and peer.min_rx_ttl == 255
    with pytest.raises(ValueError, match="no neighbor_ip"):
        session_setup(BfdInstance(name="x"))
    with pytest.raises(ValueError, match="families"):
        session_setup(BfdInstance(name="x", neighbor_ip="192.0.2.1", source_ip="2001:db8::1"))


def test_duplicate_neighbor_refused() -> None:
    core = BfdCore()
    core.add(FAST, Peer("s", "10.0.0.2"), 0.0)
    with pytest.raises(ValueError, match="already used"):
        core.add(SessionParams(name="t"), Peer("t", "10.0.0.2"), 0.0)


def test_decoded_packets_of_a_session_are_valid() -> None:
    w = _pair(FAST, FAST)
    w.run_until(0.5)
    for _, _, data in w.in_flight:
        decode(data)


def test_remote_asking_for_fewer_packets_delays_the_next_one() -> None:
    s = Session(FAST, 7, rng=random.Random(4))
    s.start(0.0)
    s.handle_packet(_remote(State.INIT, 7), 0.1)
    s.handle_packet(_remote(State.UP, 7, final=True), 0.11)
    assert s.tx_interval_us == 50_000
    s.handle_packet(_remote(State.UP, 7, required_min_rx_us=2_000_000), 0.12)
    assert s.tx_interval_us == 2_000_000
    assert s.next_tx is not None and s.next_tx >= 0.12 + 1.5  # 75 % of 2 s at least
    s.handle_packet(_remote(State.UP, 7, required_min_rx_us=50_000), 0.2)
    assert s.next_tx is not None and s.next_tx <= 0.2 + 0.05
