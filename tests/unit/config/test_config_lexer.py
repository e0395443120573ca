"""Lexer: comments, quoting, includes, conditionals, parameters, sequences, locations."""

from __future__ import annotations

from pathlib import Path

from hadaemon.config.errors import Diagnostics
from hadaemon.config.lexer import Lexer, split_script
from hadaemon.config.model import Location


def lex(text: str, config_id: str = "main") -> tuple[list[list[str]], Diagnostics]:
    d = Diagnostics()
    lines = [[t.text for t in line] for line in Lexer(d, config_id).lines_from_text(text, "t")]
    return [ln for ln in lines if ln], d


def test_comments_quotes_and_braces() -> None:
    lines, d = lex('a { b "c d" # x\n! whole line\ne f!g\n"q#1" x"y z"w {}a"{" it\'s # c\n')
    assert lines == [["a", "{", "b", "c d"], ["e", "f"], ["q#1", "xy zw", "{", "}", "a{", "it's"]]
    assert d.items == []


def test_escapes_inside_quotes() -> None:
    lines, _ = lex(r'k "a\tb\x41\101\\\"" ' + "\n")
    assert lines == [["k", 'a\tbAA\\"']]


def test_token_locations_are_one_based() -> None:
    d = Diagnostics()
    toks = [list(x) for x in Lexer(d, "m").lines_from_text("\n  vrrp_instance  VI_1 {\n", "f")]
    toks = [t for t in toks if t]
    assert [(t.text, t.loc) for t in toks[0]] == [
        ("vrrp_instance", Location("f", 2, 3)),
        ("VI_1", Location("f", 2, 18)),
        ("{", Location("f", 2, 23)),
    ]


def test_conditionals() -> None:
    text = "@main a 1\n@backup b 2\n@^main c 3\n@^backup d 4\n"
    assert lex(text, "main")[0] == [["a", "1"], ["d", "4"]]
    assert lex(text, "backup")[0] == [["b", "2"], ["c", "3"]]


def test_parameters_substituted_at_use_time_and_recursive() -> None:
    text = (
        "$BASE=10.2.${SUB}\n$SUB=0\naddr ${BASE}.100/32\n$SUB=10\naddr ${BASE}.100/32\n"
        "x $UNDEF ${UNDEF2} cost$5\n$IF_MAIN=@main\n$IF_MAIN priority 240\n"
    )
    lines, _ = lex(text)
    assert lines == [
        ["addr", "10.2.0.100/32"],
        ["addr", "10.2.10.100/32"],
        ["x", "$UNDEF", "$", "{", "UNDEF2", "}", "cost$5"],
        ["priority", "240"],
    ]
    assert lex(text, "other")[0][-1] == ["x", "$UNDEF", "$", "{", "UNDEF2", "}", "cost$5"]


def test_multiline_parameter_nested_and_sequence() -> None:
    text = (
        "$RS= \\\n  real_server 10.0.${VS}.${N} 80 { \\\n    weight ${N} \\\n  }\n"
        "$VS_BLOCK= \\\nvirtual_server 10.0.${VS}.1 80 { \\\n  $N=1 \\\n  $RS \\\n  $N=2 \\\n"
        "  $RS \\\n}\n$VS=7\n$VS_BLOCK\n"
    )
    lines, d = lex(text)
    assert d.items == []
    assert lines == [
        ["virtual_server", "10.0.7.1", "80", "{"],
        ["real_server", "10.0.7.1", "80", "{"],
        ["weight", "1"],
        ["}"],
        ["real_server", "10.0.7.2", "80", "{"],
        ["weight", "2"],
        ["}"],
        ["}"],
    ]


def test_seq_seqx_lst() -> None:
    lines, d = lex(
        "~SEQ(I, 0, 3) ip 10.0.${I}.1\n~SEQx(H, 0x90, 0x10, 0xc0) fe80::${H}\n"
        "~SEQ(J, 3) j$J\n~SEQ(K, 3, -1, 1) k${K}\n~LST(C, red, blue) ${C}\n"
        "~LST({A,B}, {1,2}, {3,4}) ${A}-${B}\n~SEQ(X,1,2) ~SEQ(Y,1,2) ${X}${Y}\n"
    )
    assert d.items == []
    assert lines == [
        ["ip", "10.0.0.1"],
        ["ip", "10.0.1.1"],
        ["ip", "10.0.2.1"],
        ["ip", "10.0.3.1"],
        ["fe80::90"],
        ["fe80::a0"],
        ["fe80::b0"],
        ["fe80::c0"],
        ["j1"],
        ["j2"],
        ["j3"],
        ["k3"],
        ["k2"],
        ["k1"],
        ["red"],
        ["blue"],
        ["1-2"],
        ["3-4"],
        ["11"],
        ["12"],
        ["21"],
        ["22"],
    ]


def test_bad_sequences_are_errors() -> None:
    for spec in ("~SEQ(1x, 3) a", "~SEQ(A, 1, 0, 3) a", "~SEQ(A, x) a", "~SEQ(A, 1, 3 a"):
        _, d = lex(spec + "\n")
        assert d.error_count == 1, spec


def test_builtins() -> None:
    lines, _ = lex("a ${_HASH}${_BANG} ${_INSTANCE}\nb ${_RANDOM 5 5}\n", "node7")
    assert lines == [["a", "#!", "node7"], ["b", "5"]]


def test_include_glob_relative_to_including_file(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("b 2\ninclude ../sub/*.inc\n")
    (tmp_path / "conf.d" / "a.conf").write_text("a 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.inc").write_text("x ${_PWD}\n")
    main = tmp_path / "main.conf"
    main.write_text("top 0\ninclude conf.d/*.conf\ninclude {conf.d/a,nothing}.conf\nend 9\n")
    d = Diagnostics()
    lines = [[t.text for t in ln] for ln in Lexer(d, "m").lines_from_file(str(main))]
    assert [ln for ln in lines if ln] == [
        ["top", "0"],
        ["a", "1"],
        ["b", "2"],
        ["x", str(tmp_path / "sub")],
        ["a", "1"],
        ["end", "9"],
    ]
    assert d.items == []


def test_include_loop_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\nkeep 1\n")
    (tmp_path / "b.conf").write_text("include a.conf\ninclude nope.conf\ninclude none*.conf\n")
    d = Diagnostics()
    lines = [
        [t.text for t in ln] for ln in Lexer(d, "m").lines_from_file(str(tmp_path / "a.conf"))
    ]
    assert [ln for ln in lines if ln] == [["keep", "1"]]
    msgs = [(x.severity, x.message) for x in d.items]
    assert msgs == [
        (
            "error",
            f"include loop: '{tmp_path}/b.conf/../a.conf' is already being read".replace(
                "/b.conf/..", ""
            ),
        ),
        ("error", "include file 'nope.conf' does not exist"),
        ("warning", "include pattern 'none*.conf' matches no file"),
    ]


def test_split_script() -> None:
    assert split_script("/bin/x ' a b ' \"c\" d\\ e") == ["/bin/x", " a b ", "c", "d e"]
    assert split_script("") == []
