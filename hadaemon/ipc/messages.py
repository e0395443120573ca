"""IPC message types between the supervisor and its workers.

Every frame on a worker pipe carries one *envelope*, a msgpack map::

    {"v": 1, "kind": "state_changed", "seq": 17, "body": {...}}

``v`` is :data:`PROTOCOL_VERSION`, ``kind`` names the message type, ``seq`` counts frames per
direction and channel, ``body`` is the message's fields. Each message type is a frozen dataclass
with ``to_wire()`` / ``from_wire()``; nothing is ever pickled. A body field of the wrong type, a
missing field, an unknown kind or a wrong version raise :class:`MalformedFrame` — the one error
this package documents — and a worker that sends one is restarted (never the supervisor).

Unknown *extra* body keys are ignored so that a newer peer can add optional fields.

Flows (DESIGN.md §2):

* supervisor → worker: :class:`Configure` (first message), :class:`ApplyConfig` (reload),
  :class:`Shutdown`, :class:`DumpRequest`, :class:`StatusRequest`, :class:`Ping`,
  :class:`RealServerState` (to lvs), :class:`VipState` (to lvs and checker: VIP ownership),
  :class:`BfdState` (to vrrp and checker: ``track_bfd`` / ``BFD_CHECK``).
* worker → supervisor: :class:`Hello`, :class:`Ready`, :class:`StateChanged`, :class:`Stats`,
  :class:`RealServerState`, :class:`BfdState` (bfd), :class:`StatusReply`, :class:`DumpDone`,
  :class:`Pong`, :class:`ServiceEvent` (any other event a service emits), :class:`Fatal`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

PROTOCOL_VERSION = 1

#: The ``emit(kind, body)`` callback given to services maps these kinds onto typed messages;
#: every other kind travels as :class:`ServiceEvent`.
EMIT_KINDS = ("ready", "state_changed", "stats", "real_server_state", "bfd_state")


class IpcError(Exception):
    """Base class of the IPC errors."""


class MalformedFrame(IpcError):
    """A frame or envelope that cannot be decoded; ``reason`` is a short counter name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ChannelClosed(IpcError):
    """The peer closed the pipe."""


# -- field type checking -----------------------------------------------------------------------
# Annotations are strings (``from __future__ import annotations``); the few shapes used in this
# module are checked with this table rather than a general type checker.
_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
    "dict[str, str]": (dict,),
    "list[Any]": (list,),
    "Any": (object,),
}


def _check(cls_name: str, name: str, annotation: str, value: Any) -> Any:
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    if value is None:
        if optional or base == "Any":
            return None
        raise MalformedFrame("bad_field", f"{cls_name}.{name} must not be nil")
    types = _SCALARS.get(base)
    if types is None:  # pragma: no cover - programming error in this module
        raise TypeError(f"unsupported annotation {annotation!r} on {cls_name}.{name}")
    # bool is an int subclass: keep them apart so that True is never a priority
    if isinstance(value, bool) and base in ("int", "float"):
        raise MalformedFrame("bad_field", f"{cls_name}.{name}: expected {base}, got bool")
    if not isinstance(value, types):
        raise MalformedFrame(
            "bad_field", f"{cls_name}.{name}: expected {base}, got {type(value).__name__}"
        )
    checked: Any = value  # isinstance() above narrowed ``value`` to object
    if base == "float":
        return float(checked)
    if base == "dict[str, str]" and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in checked.items()
    ):
        raise MalformedFrame("bad_field", f"{cls_name}.{name}: expected a map of strings")
    if base.startswith("dict") and not all(isinstance(k, str) for k in checked):
        raise MalformedFrame("bad_field", f"{cls_name}.{name}: map keys must be strings")
    return checked


M = TypeVar("M", bound="Message")


@dataclass(frozen=True)
class Message:
    """Base of all message types; subclasses set ``KIND``."""

    KIND: ClassVar[str] = ""

    def to_wire(self) -> dict[str, Any]:
        """The body map of this message (msgpack-native values only)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_wire(cls: type[M], body: Any) -> M:
        """Build the message from a body map; raises :class:`MalformedFrame`."""
        if not isinstance(body, dict):
            raise MalformedFrame("bad_body", f"{cls.KIND}: body is not a map")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in body:
                kwargs[f.name] = _check(cls.__name__, f.name, str(f.type), body[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise MalformedFrame("missing_field", f"{cls.KIND}: missing field {f.name!r}")
        return cls(**kwargs)


# -- supervisor -> worker ------------------------------------------------------------------------
@dataclass(frozen=True)
class Configure(Message):
    """First message to a new worker: its part of the model and how to run.

    ``config`` is ``Config.to_dict()`` (or a plain map for test workers). ``handback`` maps
    VRRP instance name → last state the supervisor was told (``"MASTER"``…), so that a
    respawned vrrp worker resumes without waiting. ``options`` carries CLI flags
    (``no_bpf``, ``debug``, ``config_id``, ``run_dir``).
    """

    KIND: ClassVar[str] = "configure"
    config: dict[str, Any]
    handback: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    generation: int = 0


@dataclass(frozen=True)
class ApplyConfig(Message):
    """Reload: the new model (and the diff plan if the config package produced one)."""

    KIND: ClassVar[str] = "apply_config"
    config: dict[str, Any]
    plan: dict[str, Any] | None = None
    generation: int = 0


@dataclass(frozen=True)
class Shutdown(Message):
    """Stop in order (priority-0 adverts, VIPs removed…) and exit 0."""

    KIND: ClassVar[str] = "shutdown"
    reason: str = "stop"


@dataclass(frozen=True)
class DumpRequest(Message):
    """Write a dump (``what`` = ``data``, ``stats`` or ``json``) to ``path``."""

    KIND: ClassVar[str] = "dump_request"
    what: str
    path: str
    req_id: int = 0


@dataclass(frozen=True)
class StatusRequest(Message):
    """Ask for ``service.status()``; answered by :class:`StatusReply` with the same id."""

    KIND: ClassVar[str] = "status_request"
    req_id: int


@dataclass(frozen=True)
class Ping(Message):
    """Liveness probe; a worker whose loop is wedged never answers :class:`Pong`."""

    KIND: ClassVar[str] = "ping"
    nonce: int


# -- worker -> supervisor ------------------------------------------------------------------------
@dataclass(frozen=True)
class Hello(Message):
    """First message of a worker after exec."""

    KIND: ClassVar[str] = "hello"
    worker: str
    pid: int


@dataclass(frozen=True)
class Ready(Message):
    """The worker's service has started (sockets open, receive path ready)."""

    KIND: ClassVar[str] = "ready"
    worker: str = ""


@dataclass(frozen=True)
class StateChanged(Message):
    """A VRRP instance changed state (vrrp → supervisor, and supervisor → lvs)."""

    KIND: ClassVar[str] = "state_changed"
    instance: str
    state: str
    prev_state: str | None = None
    reason: str | None = None
    priority: int | None = None
    effective_priority: int | None = None
    master_address: str | None = None
    vrid: int | None = None
    interface: str | None = None


@dataclass(frozen=True)
class Stats(Message):
    """Counters, keyed by instance (or other object) name."""

    KIND: ClassVar[str] = "stats"
    counters: dict[str, Any]


@dataclass(frozen=True)
class RealServerState(Message):
    """A real server's verdict (checker → supervisor → lvs); the checker's emit body.

    ``vs`` is the checker's VS name, ``vs_key`` the model key LVS uses
    (``VirtualServer.key``); ``present`` says whether the server belongs in the table and
    ``weight`` the weight to program (0 when inhibited).
    """

    KIND: ClassVar[str] = "real_server_state"
    vs: str
    rs_ip: str
    up: bool
    rs_port: int | None = None
    present: bool | None = None
    weight: int | None = None
    reason: str | None = None
    vs_key: str | None = None
    vs_ip: str | None = None
    vs_port: int | None = None
    protocol: str | None = None
    fwmark: int | None = None


@dataclass(frozen=True)
class VipState(Message):
    """Supervisor → lvs/checker: this host now holds (or not) a VRRP instance's VIPs."""

    KIND: ClassVar[str] = "vip_state"
    instance: str
    addresses: list[Any]
    owned: bool


@dataclass(frozen=True)
class BfdState(Message):
    """A BFD session's state (bfd → supervisor → vrrp and checker).

    ``state`` is RFC 5880's name (``AdminDown``, ``Down``, ``Init``, ``Up``); ``up`` is what
    ``track_bfd`` and ``BFD_CHECK`` follow; ``diag`` the local diagnostic (``time_expired``,
    ``neighbor_down``...).
    """

    KIND: ClassVar[str] = "bfd_state"
    name: str
    state: str
    up: bool
    prev_state: str | None = None
    diag: str | None = None
    neighbor_ip: str | None = None


@dataclass(frozen=True)
class StatusReply(Message):
    """Answer to :class:`StatusRequest`: the JSON-able ``service.status()``."""

    KIND: ClassVar[str] = "status_reply"
    req_id: int
    status: dict[str, Any]


@dataclass(frozen=True)
class DumpDone(Message):
    """A :class:`DumpRequest` was served (``error`` set if it failed)."""

    KIND: ClassVar[str] = "dump_done"
    req_id: int
    path: str
    error: str | None = None


@dataclass(frozen=True)
class Pong(Message):
    """Answer to :class:`Ping`."""

    KIND: ClassVar[str] = "pong"
    nonce: int


@dataclass(frozen=True)
class ServiceEvent(Message):
    """Any other ``emit(kind, body)`` of a service, forwarded as is."""

    KIND: ClassVar[str] = "event"
    event: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fatal(Message):
    """The worker cannot run (e.g. config rejected); it exits with a permanent code next."""

    KIND: ClassVar[str] = "fatal"
    message: str
    exit_code: int


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.KIND: cls
    for cls in (
        Configure,
        ApplyConfig,
        Shutdown,
        DumpRequest,
        StatusRequest,
        Ping,
        Hello,
        Ready,
        StateChanged,
        Stats,
        RealServerState,
        VipState,
        BfdState,
        StatusReply,
        DumpDone,
        Pong,
        ServiceEvent,
        Fatal,
    )
}


@dataclass(frozen=True)
class Envelope:
    """The versioned frame content ``{v, kind, seq, body}``."""

    v: int
    kind: str
    seq: int
    body: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The map that is msgpack-encoded into one frame."""
        return {"v": self.v, "kind": self.kind, "seq": self.seq, "body": self.body}

    @classmethod
    def from_wire(cls, obj: Any) -> Envelope:
        """Validate a decoded map; raises :class:`MalformedFrame`."""
        if not isinstance(obj, dict):
            raise MalformedFrame("bad_envelope", "frame is not a map")
        v, kind, seq, body = obj.get("v"), obj.get("kind"), obj.get("seq"), obj.get("body")
        if v != PROTOCOL_VERSION or isinstance(v, bool):
            raise MalformedFrame("bad_version", f"unsupported envelope version {v!r}")
        if not isinstance(kind, str):
            raise MalformedFrame("bad_envelope", "kind is not a string")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise MalformedFrame("bad_envelope", "seq is not a non-negative integer")
        if not isinstance(body, dict):
            raise MalformedFrame("bad_envelope", "body is not a map")
        return cls(v, kind, seq, body)

    def message(self) -> Message:
        """The typed message; raises :class:`MalformedFrame` for unknown kinds or bad bodies."""
        cls = MESSAGE_TYPES.get(self.kind)
        if cls is None:
            raise MalformedFrame("unknown_kind", f"unknown message kind {self.kind!r}")
        return cls.from_wire(self.body)


def envelope(msg: Message, seq: int) -> Envelope:
    """Wrap ``msg`` into an envelope with sequence number ``seq``."""
    return Envelope(PROTOCOL_VERSION, msg.KIND, seq, msg.to_wire())


def from_emit(kind: str, body: dict[str, Any]) -> Message:
    """Map a service's ``emit(kind, body)`` onto a message.

    The kinds in :data:`EMIT_KINDS` become typed messages (their body is validated and
    :class:`MalformedFrame` raised when it does not fit); anything else is a
    :class:`ServiceEvent`.
    """
    if kind in EMIT_KINDS:
        return MESSAGE_TYPES[kind].from_wire(body)
    return ServiceEvent(event=kind, body=dict(body))
