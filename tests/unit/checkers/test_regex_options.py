"""keepalived's PCRE2 regex options on Python's re: the mapping, the config diagnostics and the
streaming match with offsets (pure)."""

from __future__ import annotations

import re

import pytest

from hadaemon.checkers.adapt import from_config
from hadaemon.checkers.probes.http import REGEX_WINDOW, BodyRegex, RegexScan
from hadaemon.config import loads
from hadaemon.config.pcre import KNOWN, compile_pattern, problems


# -- option mapping ------------------------------------------------------------------------------
def test_every_keepalived_option_is_classified() -> None:
    keepalived = {
        "allow_empty_class", "alt_bsux", "auto_callout", "caseless", "dollar_endonly", "dotall",
        "dupnames", "extended", "firstline", "match_unset_backref", "multiline", "never_ucp",
        "never_utf", "no_auto_capture", "no_auto_possess", "no_dotstar_anchor",
        "no_start_optimize", "ucp", "ungreedy", "utf", "never_backslash_c", "alt_circumflex",
        "alt_verbnames", "use_offset_limit",
    }  # fmt: skip
    assert keepalived == KNOWN


@pytest.mark.parametrize(
    ("pattern", "options", "body", "found"),
    [
        ("hello", ("caseless",), b"HeLLo", True),
        ("hello", (), b"HeLLo", False),
        ("^b", ("multiline",), b"a\nb", True),
        ("^b", (), b"a\nb", False),
        ("a.b", ("dotall",), b"a\nb", True),
        ("a.b", (), b"a\nb", False),
        ("a b  # comment", ("extended",), b"ab", True),
        ("a b", (), b"ab", False),
        ("a.*?b", ("ungreedy",), b"xaxxb", True),
    ],
)
def test_flags(pattern: str, options: tuple[str, ...], body: bytes, found: bool) -> None:
    assert bool(compile_pattern(pattern, options).search(body)) is found


def test_ungreedy_never_moves_the_match_start() -> None:
    # why ungreedy is accepted as is: lazy and greedy quantifiers start at the same place
    for lazy, greedy in (("b+?c", "b+c"), ("a.*?z", "a.*z"), ("(x|xy)??y", "(x|xy)?y")):
        for body in (b"abbbc", b"xxabzcz", b"xxyy", b"nothing"):
            m1, m2 = re.search(lazy.encode(), body), re.search(greedy.encode(), body)
            assert (m1 and m1.start()) == (m2 and m2.start())


def test_problems() -> None:
    def kinds(pattern: str, *options: str) -> list[tuple[str, str]]:
        return [(p.option, p.severity) for p in problems(pattern, options)]

    assert kinds("ok", "caseless", "multiline", "dotall", "extended", "ungreedy") == []
    assert kinds("ok", "firstline", "no_start_optimize", "auto_callout", "dupnames") == []
    assert kinds("ok$", "dollar_endonly") == [("dollar_endonly", "error")]
    assert kinds("ok$", "dollar_endonly", "multiline") == []  # PCRE ignores it then
    assert kinds("ok[$]\\$", "dollar_endonly") == []  # no '$' metacharacter
    assert kinds("a[]b", "allow_empty_class") == [("allow_empty_class", "error")]
    assert kinds("a[]]b", "allow_empty_class") == [("allow_empty_class", "error")]
    assert kinds("a[b]", "allow_empty_class") == []
    assert kinds("^a", "alt_circumflex", "multiline") == [("alt_circumflex", "error")]
    assert kinds("^a", "alt_circumflex") == []
    assert kinds("(a)?\\1", "match_unset_backref") == [("match_unset_backref", "error")]
    assert kinds("(?P<x>a)?(?P=x)", "match_unset_backref") == [("match_unset_backref", "error")]
    assert kinds("a+", "match_unset_backref") == []
    assert kinds("a", "alt_bsux") == [("alt_bsux", "error")]
    assert kinds("a", "utf", "ucp") == [("utf", "warning"), ("ucp", "warning")]
    [typo] = problems("a", ("caseles",))
    assert (typo.severity, typo.hint) == ("warning", "did you mean 'caseless'?")


def test_every_error_says_what_to_use_instead() -> None:
    for pattern, opt in (
        ("a$", "dollar_endonly"),
        ("[]", "allow_empty_class"),
        ("(a)\\1", "match_unset_backref"),
        ("a", "alt_bsux"),
    ):
        [p] = problems(pattern, (opt,))
        assert p.hint and "drop " + opt in p.hint


# -- the config ----------------------------------------------------------------------------------
CONF = """virtual_server 10.0.0.1 80 {{
  real_server 10.0.0.2 80 {{
    HTTP_GET {{
      url {{
        path /
        regex "{regex}"
        {opts}
      }}
    }}
  }}
}}
"""


def diags(regex: str, opts: str) -> list[tuple[str, int, int, str]]:
    res = loads(CONF.format(regex=regex, opts=opts), "k.conf", validate=False)
    return [
        (d.severity, d.location.line, d.location.col, d.message)
        for d in res.diagnostics
        if d.location is not None and d.location.line > 1
    ]


def test_config_errors_point_at_the_option() -> None:
    [(sev, line, col, msg)] = diags("ok$", "regex_options caseless dollar_endonly")
    assert (sev, line, col) == ("error", 7, 32)
    assert "dollar_endonly" in msg
    [(sev, line, col, msg)] = diags("ok", "regex_options caselss")
    assert (sev, line, col) == ("warning", 7, 23)
    assert "unknown regex option 'caselss'" in msg


def test_config_bad_regex_and_offsets() -> None:
    [(sev, line, col, msg)] = diags("(open", "")
    assert (sev, line, col) == ("error", 6, 15)
    assert "invalid regex" in msg
    [(sev, _, _, msg)] = diags("x", "regex_min_offset 9\n regex_max_offset 3")
    assert sev == "error" and "regex_min_offset 9 is beyond regex_max_offset 3" in msg


def test_config_regex_stack_is_keepalived_s_start_max() -> None:
    [(sev, line, _, msg)] = diags("x", "regex_stack 32768 1048576")
    assert (sev, line) == ("warning", 7) and "regex_stack ignored" in msg
    [(sev, _, _, msg)] = diags("x", "regex_stack 9 3")
    assert sev == "error" and "START cannot exceed MAX" in msg


def test_adapter_passes_the_options_to_the_probe() -> None:
    text = CONF.format(
        regex="x",
        opts="regex_options caseless firstline\n regex_min_offset 4\n regex_max_offset 9",
    )
    cfg = from_config(loads(text, "k.conf", validate=False).config)
    [url] = cfg.virtual_servers[0].real_servers[0].checkers[0].http.urls  # type: ignore[union-attr]
    assert url.regex_options == ("caseless", "firstline")
    assert (url.regex_min_offset, url.regex_max_offset) == (4, 9)


# -- the streaming match -------------------------------------------------------------------------
def scan(regex: BodyRegex, *chunks: bytes) -> bool:
    s = RegexScan(regex)
    for c in chunks:
        s.feed(c)
    s.finish()
    return s.matched


def rx(pattern: str, *opts: str, lo: int = 0, hi: int | None = None) -> BodyRegex:
    return BodyRegex(compile_pattern(pattern, opts), lo, hi, "firstline" in opts)


def test_offsets_bound_the_match_start() -> None:
    body = b"0123456789abc"
    assert scan(rx("abc", lo=10, hi=10), body)
    assert not scan(rx("abc", lo=11), body)
    assert not scan(rx("abc", hi=9), body)
    assert scan(rx("[0-9]a", hi=9), body)  # starts at 9
    # the min offset skips an earlier match and finds a later one
    assert scan(rx("ab", lo=3), b"ab....ab")
    # a lookbehind still sees what lies before the min offset (PCRE2 start_offset)
    assert scan(rx("(?<=9)a", lo=10), body)


def test_offsets_across_chunks() -> None:
    assert scan(rx("needle", lo=5, hi=8), b"xxxxxxx", b"needle")  # starts at 7
    assert not scan(rx("needle", hi=6), b"xxxxxxx", b"needle")
    big = b"." * (3 * REGEX_WINDOW)
    assert scan(rx("needle", lo=2 * REGEX_WINDOW), big, b"needle", big)
    assert not scan(rx("needle", hi=REGEX_WINDOW), big, b"needle", big)
    # a match straddling two chunks
    assert scan(rx("nee+dle"), b"..nee", b"eedle..")


def test_firstline() -> None:
    assert scan(rx("b", "firstline"), b"ab\ncd")
    assert not scan(rx("c", "firstline"), b"ab\ncd")
    assert scan(rx("b\nc", "firstline"), b"ab\ncd")  # starts on the first line
    assert not scan(rx("c", "firstline"), b"ab", b"\n", b"cd")
    assert scan(rx("c", "firstline"), b"abc")  # no newline: the whole body is the first line


def test_window_edge_is_not_the_body_start() -> None:
    filler = b"x" * (2 * REGEX_WINDOW)
    assert not scan(rx("^x"), b"y" + filler, filler)
    assert scan(rx("^y"), b"y" + filler, filler)


def test_a_match_at_the_end_of_a_chunk_waits_for_the_next() -> None:
    # PCRE2 partial matching: "ok$" at the end of a chunk is no match if the body goes on
    assert not scan(rx("ok$"), b"status ok", b"\nand more")
    assert scan(rx("ok$"), b"status ok", b"\n")  # $ before the final newline
    assert not scan(rx("ok$"), b"status ok\n", b"and more")
    assert scan(rx("ok$"), b"status ", b"ok")
    assert not scan(rx("ok(?!ay)"), b"ok", b"ay")
    assert scan(rx("hello"), b"say hello", b" world")  # a literal stays a match
    s = RegexScan(rx("hello"))
    s.feed(b"say hello")
    assert not s.matched  # only possible so far ...
    s.feed(b" world")
    assert s.matched  # ... confirmed by the next chunk
    # a greedy match touching the end of every chunk does not keep the whole body
    s = RegexScan(rx("a.*", "dotall"))
    for _ in range(4):
        s.feed(b"a" * REGEX_WINDOW)
    assert s.matched
    s = RegexScan(rx("x$", hi=3))
    s.feed(b"aax")  # possible at offset 2, within the limit
    s.feed(b"\nmore")
    s.finish()
    assert not s.matched
