"""Property tests: on any input the lexer and parser raise nothing but ConfigError.

Inputs: raw bytes, arbitrary text, and token soups built from keepalived's own vocabulary
(keywords, braces, quotes, ``$`` parameters, ``@`` conditionals, ``~SEQ``, ``include``), plus the
named pathological files (10 MB of ``{``, include loops, a directory, non-UTF-8, NUL bytes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hadaemon.config import ConfigError, LoadResult, load, loads
from hadaemon.config.grammar import all_keywords

KEYWORDS = sorted({k for _b, k in all_keywords()})
VOCAB = [
    *KEYWORDS,
    "{",
    "}",
    "{",
    "}",
    '"',
    "'",
    "\\",
    "#",
    "!",
    "$X=1",
    "$X",
    "${X}",
    "$M= \\",
    "@main",
    "@^main",
    "~SEQ(I,1,3)",
    "~SEQx(H,1,2)",
    "~LST(L,a,b)",
    "${I}",
    "include",
    "include *.none",
    "0",
    "1",
    "255",
    "256",
    "-1",
    "0.5",
    "1e999",
    "nan",
    "192.0.2.1",
    "192.0.2.1/24",
    "fe80::1",
    "2001:db8::/64",
    "eth0",
    "MASTER",
    "BACKUP",
    "on",
    "off",
    "VI_1",
    "fwmark",
    "group",
    "weight",
    "reverse",
    "dev",
    "via",
    "\n",
    "\n",
    "\n",
    " ",
]

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_config_error(run: object) -> LoadResult | None:
    try:
        result = run()  # type: ignore[operator]
    except ConfigError as exc:
        assert str(exc)
        return None
    assert isinstance(result, LoadResult)
    for d in result.diagnostics:
        assert d.message and d.severity in ("warning", "error")
    return result


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    p = tmp_path_factory.mktemp("fz") / "k.conf"
    p.write_bytes(data)
    _only_config_error(lambda: load(str(p), "main", interface_exists=lambda n: True))


@SETTINGS
@given(st.text(max_size=2000))
def test_arbitrary_text(text: str) -> None:
    _only_config_error(lambda: loads(text, "t.conf", "main", interface_exists=lambda n: True))


@SETTINGS
@given(st.lists(st.sampled_from(VOCAB), max_size=300))
def test_keyword_soup(words: list[str]) -> None:
    text = " ".join(words)
    _only_config_error(lambda: loads(text, "t.conf", "main", interface_exists=lambda n: True))


@SETTINGS
@given(st.lists(st.sampled_from(VOCAB), max_size=60), st.sampled_from(KEYWORDS))
def test_soup_inside_blocks(words: list[str], block: str) -> None:
    inner = " ".join(words)
    text = (
        f"vrrp_instance VI_1 {{\n{inner}\n}}\nvirtual_server 192.0.2.1 80 {{\n{inner}\n"
        f"real_server 192.0.2.2 80 {{\nTCP_CHECK {{\n{inner}\n}}\n}}\n}}\n{block} {{\n"
        f"{inner}\n}}\nglobal_defs {{\n{inner}\n}}\n"
    )
    _only_config_error(lambda: loads(text, "t.conf", "main", interface_exists=lambda n: True))


def test_ten_megabytes_of_open_braces(tmp_path: Path) -> None:
    p = tmp_path / "braces.conf"
    p.write_text("{" * 10_000_000)
    with pytest.raises(ConfigError) as info:
        load(str(p), "main")
    assert "too many errors" in str(info.value)
    assert info.value.diagnostics[0].message == "unexpected '{' (no keyword before it)"


def test_deep_nesting_of_unknown_blocks(tmp_path: Path) -> None:
    p = tmp_path / "deep.conf"
    p.write_text("a {\n" * 100_000)
    with pytest.raises(ConfigError) as info:
        load(str(p), "main")
    assert "nested more than" in str(info.value)


def test_directory_missing_file_and_include_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load(str(tmp_path), "main")
    with pytest.raises(ConfigError, match="No such file"):
        load(str(tmp_path / "nope.conf"), "main")
    (tmp_path / "d").mkdir()
    main = tmp_path / "main.conf"
    main.write_text("include d\n")
    r = load(str(main), "main")
    assert [d.message for d in r.errors] == [f"'{tmp_path}/d' is a directory, not a config file"]


def test_self_including_file_and_self_referencing_parameter(tmp_path: Path) -> None:
    main = tmp_path / "main.conf"
    main.write_text("include main.conf\n$A= \\\n$A\n$A\n$B=$B$B\nx ${B}\n")
    r = load(str(main), "main")
    assert any("include loop" in d.message for d in r.errors)
    assert any("nested too deeply" in d.message for d in r.errors)


def test_non_utf8_and_nul(tmp_path: Path) -> None:
    p = tmp_path / "x.conf"
    p.write_bytes(b"global_defs {\n router_id \xff\xfe\n}\n")
    r = load(str(p), "main")
    assert [d.message for d in r.errors] == ["invalid UTF-8 byte 0xff (the file must be text)"]
    p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00")
    r = load(str(p), "main")
    assert r.errors and "binary data" in r.errors[0].message
