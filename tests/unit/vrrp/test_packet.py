"""Packet codec: golden files (keepalived 2.2.7 captures) and every receive check."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from hadaemon.vrrp.packet import (
    CHECKSUM_PSEUDO_MCAST,
    Advert,
    MalformedAdvert,
    decode,
    encode,
)

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "packets"
FILES = sorted(p.stem for p in GOLDEN.glob("*.hex"))


def _load(name: str) -> tuple[bytes, dict]:  # type: ignore[type-arg]
    data = bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    return data, meta


def _ref_checksum(data: bytes) -> int:
    """Independent RFC 1071 checksum (byte-pair loop, not the codec's)."""
    if len(data) % 2:
        data += b"\0"
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def test_golden_set_is_complete() -> None:
    stems = set(FILES)
    for need in (
        "ka227_v2",
        "ka227_v2auth",
        "ka227_v3",
        "ka227_v3uni",
        "ka227_v6",
        "hadaemon_v3_ipv4_rfc9568",
    ):
        assert need in stems


@pytest.mark.parametrize("name", FILES)
def test_golden_decode(name: str) -> None:
    data, meta = _load(name)
    adv = decode(
        data,
        family=meta["family"],
        src=meta["src"],
        dst=meta["dst"],
        ttl=meta["ttl"],
        multicast=meta["multicast"],
    )
    assert adv.as_dict() == meta["advert"]
    assert Advert.from_dict(meta["advert"]) == adv


@pytest.mark.parametrize("name", FILES)
def test_golden_encode_is_byte_identical(name: str) -> None:
    data, meta = _load(name)
    adv = Advert.from_dict(meta["advert"])
    if adv.checksum_form == CHECKSUM_PSEUDO_MCAST:
        # We never send keepalived <= 1.3.6's unicast form; only accept it.
        wire = encode(adv, src=meta["src"], dst="224.0.0.18")
    else:
        wire = encode(
            adv,
            src=meta["src"],
            dst=meta["dst"],
            v3_checksum_as_v2=meta.get("v3_checksum_as_v2", False),
        )
    assert wire == data


def test_keepalived_checksum_forms_independently() -> None:
    # v2: message only
    data, _ = _load("ka227_v2")
    assert _ref_checksum(data) == 0
    # v3 IPv4 keepalived form: pseudo header {src, dst, 0, 112, len}
    data, m = _load("ka227_v3")
    ph = bytes(map(int, m["src"].split("."))) + bytes(map(int, m["dst"].split(".")))
    assert _ref_checksum(ph + struct.pack("!BBH", 0, 112, len(data)) + data) == 0
    # RFC 9568: message only
    data, _ = _load("hadaemon_v3_ipv4_rfc9568")
    assert _ref_checksum(data) == 0
    # unicast old form uses 224.0.0.18 as dst
    data, m = _load("ka227_v3uniold")
    ph = bytes(map(int, m["src"].split("."))) + bytes([224, 0, 0, 18])
    assert _ref_checksum(ph + struct.pack("!BBH", 0, 112, len(data)) + data) == 0


def test_both_v3_ipv4_forms_accepted_and_rfc_form_optional() -> None:
    data, m = _load("hadaemon_v3_ipv4_rfc9568")
    kw = dict(family=4, src=m["src"], dst=m["dst"], ttl=255)
    assert decode(data, **kw).checksum_form == "v2"  # type: ignore[arg-type]
    with pytest.raises(MalformedAdvert) as e:
        decode(data, checksum_as_v2_ok=False, **kw)  # type: ignore[arg-type]
    assert e.value.counter == "chk_err"
    data, m = _load("ka227_v3")
    assert decode(data, **kw).checksum_form == "pseudo"  # type: ignore[arg-type]


def test_v6_pseudo_header_depends_on_dst() -> None:
    data, m = _load("ka227_v6")
    with pytest.raises(MalformedAdvert) as e:
        decode(data, family=6, src=m["src"], dst="ff02::1", ttl=255)
    assert e.value.counter == "chk_err"


V2 = Advert(2, 51, 100, 1, 1, 100, 0, ("10.0.0.100",), b"secret")
V3 = Advert(3, 51, 100, 1, 0, 100, 0, ("10.0.0.100",))
KW = dict(family=4, src="10.0.0.1", dst="224.0.0.18", ttl=255)


def _fix_v2_checksum(b: bytearray) -> bytes:
    b[6:8] = b"\0\0"
    b[6:8] = struct.pack("!H", _ref_checksum(bytes(b)))
    return bytes(b)


@pytest.mark.parametrize(
    ("mutate", "kw", "counter"),
    [
        (lambda b: b, {"ttl": 254}, "ip_ttl_err"),
        (lambda b: b[:7], {}, "packet_len_err"),
        (lambda b: b[:-1], {}, "packet_len_err"),
        (lambda b: _fix_v2_checksum(bytearray(b"\x41" + b[1:])), {}, "vers_err"),
        (lambda b: _fix_v2_checksum(bytearray(b"\x22" + b[1:])), {}, "invalid_type_rcvd"),
        (lambda b: b[:6] + bytes([b[6] ^ 1]) + b[7:], {}, "chk_err"),
        (lambda b: _fix_v2_checksum(bytearray(b[:1] + b"\0" + b[2:])), {}, "vrid_err"),
        (lambda b: _fix_v2_checksum(bytearray(b[:4] + b"\x02" + b[5:])), {}, "invalid_authtype"),
        (lambda b: _fix_v2_checksum(bytearray(b[:5] + b"\0" + b[6:])), {}, "advert_interval_err"),
        (lambda b: _fix_v2_checksum(bytearray(b[:3] + b"\x05" + b[4:])), {}, "packet_len_err"),
    ],
)
def test_v2_receive_checks(mutate, kw, counter) -> None:  # type: ignore[no-untyped-def]
    wire = encode(V2, src="10.0.0.1", dst="224.0.0.18")
    assert decode(wire, **KW).auth_data == b"secret\0\0"  # type: ignore[arg-type]
    with pytest.raises(MalformedAdvert) as e:
        decode(mutate(wire), **{**KW, **kw})  # type: ignore[arg-type]
    assert e.value.counter == counter
    assert e.value.message


def test_ttl_not_checked_on_unicast_and_v2_over_v6_rejected() -> None:
    wire = encode(V3, src="10.0.0.1", dst="10.0.0.2")
    assert decode(wire, family=4, src="10.0.0.1", dst="10.0.0.2", ttl=64, multicast=False)
    wire = encode(V2, src="10.0.0.1", dst="224.0.0.18")
    with pytest.raises(MalformedAdvert) as e:
        decode(wire, family=6, src="fe80::1", dst="ff02::12", ttl=255)
    assert e.value.counter == "vers_err"


def test_v3_zero_interval_rejected_and_reserved_bits_ignored() -> None:
    wire = bytearray(encode(V3, src="10.0.0.1", dst="224.0.0.18"))
    wire[4] |= 0xF0  # reserved nibble set; checksum must be redone (pseudo form)
    wire[6:8] = b"\0\0"
    ph = bytes([10, 0, 0, 1, 224, 0, 0, 18]) + struct.pack("!BBH", 0, 112, len(wire))
    wire[6:8] = struct.pack("!H", _ref_checksum(ph + bytes(wire)))
    assert decode(bytes(wire), **KW).adver_int_cs == 100  # type: ignore[arg-type]
    zero = Advert(3, 51, 100, 1, 0, 1, 0, ("10.0.0.100",))
    w = bytearray(encode(zero, src="10.0.0.1", dst="224.0.0.18", v3_checksum_as_v2=True))
    w[5] = 0
    w = bytearray(_fix_v2_checksum(w))
    with pytest.raises(MalformedAdvert) as e:
        decode(bytes(w), **KW)  # type: ignore[arg-type]
    assert e.value.counter == "advert_interval_err"


def test_padding_tolerated_and_count_zero_v3() -> None:
    wire = encode(V3, src="10.0.0.1", dst="224.0.0.18")
    assert decode(wire + b"\0" * 6, **KW).addresses == ("10.0.0.100",)  # type: ignore[arg-type]
    empty = Advert(3, 51, 100, 0, 0, 100, 0, ())
    assert decode(encode(empty, src="10.0.0.1", dst="224.0.0.18"), **KW).count_ip == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "adv",
    [
        Advert(4, 1, 100, 0, 0, 100, 0, ()),
        Advert(2, 0, 100, 0, 0, 100, 0, ()),
        Advert(2, 1, 100, 0, 0, 150, 0, ()),
        Advert(3, 1, 100, 0, 0, 4096, 0, ()),
        Advert(2, 1, 100, 1, 0, 100, 0, ("fe80::1",), family=6),
    ],
)
def test_encode_refuses_bad_adverts(adv: Advert) -> None:
    with pytest.raises(ValueError):
        encode(adv, src="10.0.0.1", dst="224.0.0.18")
