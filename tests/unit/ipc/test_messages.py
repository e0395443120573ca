"""Envelope and message codec: round trips and the documented error for bad bodies."""

from __future__ import annotations

import dataclasses

import pytest

from hadaemon.ipc import messages as m


def _sample(cls: type[m.Message]) -> m.Message:
    values = {
        "str": "x",
        "int": 3,
        "float": 1.5,
        "bool": True,
        "dict[str, Any]": {"a": [1, "b"]},
        "dict[str, str]": {"VI_1": "MASTER"},
        "list[Any]": [1],
        "Any": 1,
    }
    kwargs = {}
    for f in dataclasses.fields(cls):
        kwargs[f.name] = values[str(f.type).removesuffix(" | None")]
    return cls(**kwargs)


@pytest.mark.parametrize("kind", sorted(m.MESSAGE_TYPES))
def test_every_message_round_trips(kind: str) -> None:
    cls = m.MESSAGE_TYPES[kind]
    msg = _sample(cls)
    env = m.envelope(msg, 7)
    back = m.Envelope.from_wire(env.to_wire())
    assert back.seq == 7 and back.kind == kind and back.v == m.PROTOCOL_VERSION
    assert back.message() == msg


def test_missing_field_is_malformed() -> None:
    with pytest.raises(m.MalformedFrame) as e:
        m.StateChanged.from_wire({"instance": "VI_1"})
    assert e.value.reason == "missing_field"


@pytest.mark.parametrize(
    "body",
    [
        {"instance": "VI_1", "state": 2},
        {"instance": "VI_1", "state": "MASTER", "priority": True},
        {"instance": "VI_1", "state": "MASTER", "priority": "100"},
        {"instance": None, "state": "MASTER"},
        [],
    ],
)
def test_wrong_types_are_malformed(body: object) -> None:
    with pytest.raises(m.MalformedFrame):
        m.StateChanged.from_wire(body)


def test_optional_fields_and_extra_keys() -> None:
    msg = m.StateChanged.from_wire(
        {"instance": "VI_1", "state": "MASTER", "priority": None, "future_field": 1}
    )
    assert msg == m.StateChanged(instance="VI_1", state="MASTER")


def test_float_accepts_int_and_map_keys_checked() -> None:
    with pytest.raises(m.MalformedFrame):
        m.Configure.from_wire({"config": {}, "handback": {"VI_1": 2}})
    assert m.Configure.from_wire({"config": {}}).handback == {}


@pytest.mark.parametrize(
    "obj,reason",
    [
        ({"v": 2, "kind": "ping", "seq": 1, "body": {"nonce": 1}}, "bad_version"),
        ({"v": True, "kind": "ping", "seq": 1, "body": {"nonce": 1}}, "bad_version"),
        ({"v": 1, "kind": 5, "seq": 1, "body": {}}, "bad_envelope"),
        ({"v": 1, "kind": "ping", "seq": -1, "body": {}}, "bad_envelope"),
        ({"v": 1, "kind": "ping", "seq": 1, "body": []}, "bad_envelope"),
        ("ping", "bad_envelope"),
    ],
)
def test_bad_envelopes(obj: object, reason: str) -> None:
    with pytest.raises(m.MalformedFrame) as e:
        m.Envelope.from_wire(obj)
    assert e.value.reason == reason


def test_unknown_kind() -> None:
    env = m.Envelope(1, "teleport", 1, {})
    with pytest.raises(m.MalformedFrame) as e:
        env.message()
    assert e.value.reason == "unknown_kind"


def test_from_emit_maps_known_kinds_and_wraps_the_rest() -> None:
    assert m.from_emit("state_changed", {"instance": "VI_1", "state": "BACKUP"}) == (
        m.StateChanged(instance="VI_1", state="BACKUP")
    )
    assert m.from_emit("ready", {}) == m.Ready()
    assert m.from_emit("notify", {"x": 1}) == m.ServiceEvent(event="notify", body={"x": 1})
    with pytest.raises(m.MalformedFrame):
        m.from_emit("real_server_state", {"virtual_server": "a"})
