"""BFD control packet codec and the packet-only receive checks (RFC 5880 §4.1, §6.8.6)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hadaemon.bfd.packet import (
    DROP_REASONS,
    HEADER_LEN,
    ControlPacket,
    Diag,
    MalformedPacket,
    State,
    decode,
)

# The first packet of a keepalived bfd_instance with its defaults (layout of RFC 5880 §4.1):
# version 1 diag 0, state Down, mult 5, len 24, my 0x1f2e3d4c, your 0, tx 1 s, rx 10 ms, echo 0
KEEPALIVED_DOWN = bytes.fromhex("20 40 05 18 1f2e3d4c 00000000 000f4240 00002710 00000000")


def test_round_trip_all_fields() -> None:
    pkt = ControlPacket(
        state=State.UP,
        my_discriminator=0xDEADBEEF,
        your_discriminator=7,
        diag=Diag.NEIGHBOR_DOWN,
        detect_mult=3,
        desired_min_tx_us=50_000,
        required_min_rx_us=20_000,
        required_min_echo_rx_us=0,
        poll=True,
    )
    wire = pkt.encode()
    assert len(wire) == HEADER_LEN
    assert wire[0] == (1 << 5) | 3  # version 1, diag 3
    assert wire[1] == (3 << 6) | 0x20  # Up, P
    assert decode(wire) == pkt


def test_decode_keepalived_down_packet() -> None:
    pkt = decode(KEEPALIVED_DOWN)
    assert pkt.state is State.DOWN
    assert pkt.my_discriminator == 0x1F2E3D4C
    assert pkt.your_discriminator == 0
    assert pkt.detect_mult == 5
    assert pkt.desired_min_tx_us == 1_000_000
    assert pkt.required_min_rx_us == 10_000
    assert pkt.encode() == KEEPALIVED_DOWN


def _mutate(offset: int, value: int) -> bytes:
    b = bytearray(KEEPALIVED_DOWN)
    b[offset] = value
    return bytes(b)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (KEEPALIVED_DOWN[:23], "short"),
        (_mutate(0, 0x40), "bad_version"),  # version 2
        (_mutate(3, 23), "bad_length"),
        (_mutate(3, 30), "bad_length"),  # longer than the payload
        (_mutate(2, 0), "zero_detect_mult"),
        (_mutate(1, 0x41), "multipoint"),
        (KEEPALIVED_DOWN[:4] + bytes(4) + KEEPALIVED_DOWN[8:], "zero_my_discriminator"),
        (_mutate(1, 0xC0), "zero_your_discriminator"),  # Up with Your Discriminator 0
        (_mutate(1, 0x80), "zero_your_discriminator"),  # Init too
        (_mutate(1, 0x44) + b"\x01\x00", "bad_length"),  # A bit but length 24
    ],
)
def test_invalid_packets_raise_with_their_counter(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket) as exc:
        decode(data)
    assert exc.value.reason == reason
    assert reason in DROP_REASONS


def test_auth_is_refused() -> None:
    b = bytearray(KEEPALIVED_DOWN + bytes([1, 3, 0]))  # simple password section, 3 bytes
    b[1] |= 0x04
    b[3] = 27
    with pytest.raises(MalformedPacket) as exc:
        decode(bytes(b))
    assert exc.value.reason == "auth_unsupported"


def test_admin_down_with_zero_your_discriminator_is_valid() -> None:
    assert decode(_mutate(1, 0x00)).state is State.ADMIN_DOWN


def test_unknown_diag_is_kept() -> None:
    assert decode(_mutate(0, (1 << 5) | 30)).diag == 30


def test_trailing_bytes_beyond_length_are_ignored() -> None:
    assert decode(KEEPALIVED_DOWN + b"\x00" * 8).my_discriminator == 0x1F2E3D4C


@given(st.binary(max_size=64))
def test_fuzz_decoder_only_raises_malformed(data: bytes) -> None:
    try:
        pkt = decode(data)
    except MalformedPacket as exc:
        assert exc.reason in DROP_REASONS
        return
    # whatever decodes re-encodes to the same mandatory section (length field aside)
    wire = pkt.encode()
    assert wire[:3] == data[:3] and wire[4:] == data[4:24]
    assert decode(wire) == pkt


@given(
    st.sampled_from(list(State)),
    st.integers(1, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(1, 255),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.booleans(),
    st.booleans(),
)
def test_fuzz_round_trip(
    state: State, my: int, your: int, mult: int, tx: int, rx: int, p: bool, f: bool
) -> None:
    if your == 0 and state in (State.INIT, State.UP):
        your = 1
    pkt = ControlPacket(
        state=state,
        my_discriminator=my,
        your_discriminator=your,
        detect_mult=mult,
        desired_min_tx_us=tx,
        required_min_rx_us=rx,
        poll=p,
        final=f,
    )
    assert decode(pkt.encode()) == pkt


def test_struct_layout() -> None:
    wire = ControlPacket(state=State.DOWN, my_discriminator=1).encode()
    assert struct.unpack("!I", wire[4:8]) == (1,)
