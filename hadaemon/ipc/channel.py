"""Length-prefixed msgpack frames over a socketpair.

Frame layout: a 4-byte big-endian payload length, then the msgpack encoding of one envelope
map (:class:`hadaemon.ipc.messages.Envelope`). A length above the channel's cap, a payload
that is not exactly one msgpack object, msgpack extension types, or an envelope that does not
validate raise :class:`~hadaemon.ipc.messages.MalformedFrame` — the only error the decoder
raises. The receiver of a malformed frame drops the channel (the supervisor restarts that
worker; a worker exits).

:class:`FrameDecoder` is sans-IO (``feed(bytes) -> [Envelope]``), :class:`Channel` is the
asyncio reader/writer used by the supervisor and the workers.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import msgpack

from hadaemon.ipc.messages import (
    ChannelClosed,
    Envelope,
    MalformedFrame,
    Message,
    envelope,
)

#: Default frame size cap. A 1,000-instance config is well under 2 MiB of msgpack.
MAX_FRAME_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


def _no_ext(code: int, data: bytes) -> Any:
    raise MalformedFrame("bad_payload", f"msgpack extension type {code} is not allowed")


def encode_frame(env: Envelope, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Encode one envelope as a frame; ValueError if it exceeds the cap (our own bug)."""
    payload: bytes = msgpack.packb(env.to_wire(), use_bin_type=True)
    if len(payload) > max_frame_bytes:
        raise ValueError(f"{env.kind} frame of {len(payload)} bytes exceeds {max_frame_bytes}")
    return _HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> Envelope:
    """Decode one frame payload into a validated envelope; raises MalformedFrame only."""
    try:
        obj = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            ext_hook=_no_ext,
            use_list=True,
        )
    except MalformedFrame:
        raise
    except Exception as exc:  # msgpack raises many types (ExtraData, FormatError, ValueError…)
        raise MalformedFrame("bad_payload", f"{type(exc).__name__}: {exc}") from None
    return Envelope.from_wire(obj)


class FrameDecoder:
    """Incremental frame splitter: ``feed(data)`` returns the complete envelopes so far."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Envelope]:
        """Add bytes; return decoded envelopes. Raises MalformedFrame (then stop using it)."""
        self._buf += data
        out: list[Envelope] = []
        while len(self._buf) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buf)
            if length > self.max_frame_bytes:
                raise MalformedFrame(
                    "frame_too_large", f"frame of {length} bytes exceeds {self.max_frame_bytes}"
                )
            if len(self._buf) < _HEADER.size + length:
                break
            payload = bytes(self._buf[_HEADER.size : _HEADER.size + length])
            del self._buf[: _HEADER.size + length]
            out.append(decode_payload(payload, max_frame_bytes=self.max_frame_bytes))
        return out

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a frame."""
        return len(self._buf)


class Channel:
    """One end of a worker pipe, for asyncio code.

    Build it with :meth:`open` from a connected ``AF_UNIX`` stream socket. ``send()`` queues a
    frame (call ``await drain()`` for backpressure); ``recv()`` returns the next envelope or
    raises :class:`ChannelClosed` / :class:`MalformedFrame`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.max_frame_bytes = max_frame_bytes
        self._seq = 0

    @classmethod
    async def open(cls, sock: socket.socket, max_frame_bytes: int = MAX_FRAME_BYTES) -> Channel:
        """Wrap a connected stream socket (e.g. one end of ``socket.socketpair()``)."""
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer, max_frame_bytes)

    def send(self, msg: Message) -> None:
        """Queue ``msg`` in an envelope with the next sequence number."""
        if self.writer.is_closing():
            raise ChannelClosed("channel is closed")
        self._seq += 1
        frame = encode_frame(envelope(msg, self._seq), max_frame_bytes=self.max_frame_bytes)
        self.writer.write(frame)

    async def drain(self) -> None:
        """Wait until the send buffer is below the high-water mark."""
        try:
            await self.writer.drain()
        except (ConnectionError, BrokenPipeError) as exc:
            raise ChannelClosed(str(exc)) from None

    async def recv(self) -> Envelope:
        """The next envelope; ChannelClosed on EOF, MalformedFrame on a bad frame."""
        try:
            header = await self.reader.readexactly(_HEADER.size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChannelClosed("peer closed the channel") from exc
        (length,) = _HEADER.unpack(header)
        if length > self.max_frame_bytes:
            raise MalformedFrame(
                "frame_too_large", f"frame of {length} bytes exceeds {self.max_frame_bytes}"
            )
        try:
            payload = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChannelClosed("peer closed the channel inside a frame") from exc
        return decode_payload(payload, max_frame_bytes=self.max_frame_bytes)

    async def recv_message(self) -> Message:
        """The next typed message (see :meth:`recv`)."""
        return (await self.recv()).message()

    def close(self) -> None:
        """Close the socket (the peer sees EOF)."""
        self.writer.close()
