"""Frame codec (sans-IO and asyncio over a real socketpair) and a hypothesis fuzzer."""

from __future__ import annotations

import asyncio
import socket
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hadaemon.ipc import messages as m
from hadaemon.ipc.channel import Channel, FrameDecoder, decode_payload, encode_frame


def _frame(obj: object) -> bytes:
    payload = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


def test_decoder_splits_frames_fed_byte_by_byte() -> None:
    data = b"".join(encode_frame(m.envelope(m.Ping(nonce=i), i)) for i in range(1, 4))
    dec = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += dec.feed(data[i : i + 1])
    assert [e.message() for e in got] == [m.Ping(nonce=1), m.Ping(nonce=2), m.Ping(nonce=3)]
    assert dec.pending == 0


def test_oversized_frame_rejected_before_payload_arrives() -> None:
    dec = FrameDecoder(max_frame_bytes=1024)
    with pytest.raises(m.MalformedFrame) as e:
        dec.feed(struct.pack(">I", 1025))
    assert e.value.reason == "frame_too_large"


def test_encode_refuses_oversized() -> None:
    env = m.envelope(m.ServiceEvent(event="x", body={"blob": "a" * 2048}), 1)
    with pytest.raises(ValueError):
        encode_frame(env, max_frame_bytes=1024)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",  # reserved byte
        msgpack.packb({"v": 1}) + b"\x00",  # trailing data
        msgpack.packb(msgpack.ExtType(5, b"abc")),
        msgpack.packb({1: 2}),  # non-string map key
        b"\x91" * 5000,  # deeply nested arrays
    ],
)
def test_bad_payloads(payload: bytes) -> None:
    with pytest.raises(m.MalformedFrame):
        decode_payload(payload)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_raw_bytes_only_documented_error(data: bytes) -> None:
    dec = FrameDecoder(max_frame_bytes=4096)
    try:
        for env in dec.feed(data):
            env.message()
    except m.MalformedFrame:
        pass


_msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "v": st.sampled_from([1, 2, True, "1"]) | _msgpack_values,
            "kind": st.sampled_from(sorted(m.MESSAGE_TYPES)) | _msgpack_values,
            "seq": st.integers(-3, 2**40) | _msgpack_values,
            "body": st.dictionaries(
                st.sampled_from(
                    [
                        "instance",
                        "state",
                        "nonce",
                        "req_id",
                        "config",
                        "handback",
                        "up",
                        "virtual_server",
                        "real_server",
                        "status",
                        "priority",
                        "event",
                        "body",
                    ]
                ),
                _msgpack_values,
                max_size=6,
            )
            | _msgpack_values,
        },
    )
)
def test_fuzz_structured_envelopes_only_documented_error(obj: dict[str, object]) -> None:
    dec = FrameDecoder()
    try:
        for env in dec.feed(_frame(obj)):
            msg = env.message()
            assert isinstance(msg, m.Message)
    except m.MalformedFrame:
        pass


def test_channel_over_real_socketpair() -> None:
    async def go() -> None:
        a, b = socket.socketpair()
        ca, cb = await Channel.open(a), await Channel.open(b)
        ca.send(m.StateChanged(instance="VI_1", state="MASTER", priority=100))
        ca.send(m.Ping(nonce=9))
        await ca.drain()
        e1, e2 = await cb.recv(), await cb.recv()
        assert (e1.seq, e2.seq) == (1, 2)
        assert e1.message() == m.StateChanged(instance="VI_1", state="MASTER", priority=100)
        assert e2.message() == m.Ping(nonce=9)
        # a malformed frame is reported as MalformedFrame, EOF as ChannelClosed
        ca.writer.write(struct.pack(">I", 3) + b"\xc1\xc1\xc1")
        await ca.drain()
        with pytest.raises(m.MalformedFrame):
            await cb.recv()
        ca.close()
        with pytest.raises(m.ChannelClosed):
            await cb.recv()
        cb.close()

    asyncio.run(go())
