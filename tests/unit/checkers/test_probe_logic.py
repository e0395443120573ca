"""Pure helpers of the probes: HEX_STR parsing, reply matching, FILE_CHECK, HTTP request."""

from __future__ import annotations

import pytest

from hadaemon.checkers.probes.file import evaluate
from hadaemon.checkers.probes.http import build_request, status_ok
from hadaemon.checkers.probes.ping import checksum, echo_request
from hadaemon.checkers.probes.udp import parse_hex_str, reply_matches
from hadaemon.checkers.spec import FileSpec


def test_hex_str_is_parsed_like_keepalived() -> None:
    # keepalived.conf(5): "Ab12f 3 456 546443123" -> AB 12 0F 03 45 06 54 64 43 12 03
    v, m = parse_hex_str("Ab12f 3 456 546443123")
    assert v == bytes.fromhex("AB120F03450654644312 03".replace(" ", ""))
    assert m == b"\xff" * len(v)


def test_hex_wildcards_match_any_nibble() -> None:
    pat = parse_hex_str("12xX 3x", wildcards=True)
    assert reply_matches(bytes.fromhex("12ab34"), pat)
    assert not reply_matches(bytes.fromhex("13ab34"), pat)
    assert reply_matches(bytes.fromhex("12"), pat)  # compares up to the shorter length


def test_bad_hex_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_hex_str("zz")


@pytest.mark.parametrize(
    ("value", "spec", "expect"),
    [
        (0, FileSpec(weight=0), (True, None)),
        (1, FileSpec(weight=0), (False, None)),
        (5, FileSpec(weight=2, dynamic=True), (True, 10)),
        (5, FileSpec(weight=2, reverse=True, dynamic=True), (True, -10)),
        (-127, FileSpec(weight=2), (False, None)),
    ],
)
def test_file_check_evaluation(
    value: int, spec: FileSpec, expect: tuple[bool, int | None]
) -> None:
    assert evaluate(value, spec) == expect


def test_http_request_forms() -> None:
    r10 = build_request("/x", "h", "1.0")
    assert r10 == b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: h\r\n\r\n"
    assert b"Connection: close" in build_request("/x", "h", "1.0C")
    assert build_request("/x", "h", "1.1").startswith(b"GET /x HTTP/1.1\r\n")


def test_status_ranges() -> None:
    assert status_ok(204, ((200, 299),))
    assert not status_ok(503, ((200, 299), (400, 499)))
    assert status_ok(503, ((200, 299), (503, 503)))


def test_icmp_checksum_of_echo_request_verifies() -> None:
    pkt = echo_request(False, 0x1234, 7, b"abcdefgh")
    assert checksum(pkt) == 0
