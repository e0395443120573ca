"""keepalived.conf lexer: files → logical lines of located tokens.

What it does, in keepalived's order (lib/parser.c, keepalived.conf(5) "ADVANCED CONFIGURATION"):

1. Comments: ``#`` or ``!`` to the end of the line, anywhere outside quotes.
2. ``include``/``includer``/``includem``/``includew``/``includeb``/``includea`` PATTERN: glob
   (with csh ``{a,b}`` braces) relative to the including file's directory. An include loop,
   a missing non-glob file and an unreadable file are errors (keepalived's plain ``include``
   ignores them silently; hadaemon reports them so ``-t`` catches them).
3. ``@id`` / ``@^id`` line prefixes: kept only when the config-id matches (or does not).
4. ``$NAME=value`` definitions (multi-line with a trailing ``\\``, replayed line by line,
   nestable), substituted at use time as ``$NAME`` (followed by white space) or ``${NAME}``;
   undefined names stay verbatim; built-ins ``${_PWD}``, ``${_INSTANCE}``,
   ``${_RANDOM [MIN [MAX]]}``, ``${_ENV VAR}``, ``${_HASH}``, ``${_BANG}``.
5. ``~SEQ(var, [start,] [step,] end)``, ``~SEQx(...)`` (hex) and ``~LST(var, v1, v2 ...)``:
   repeat the rest of the line with ``$var`` set.
6. Words: split on white space; ``{`` and ``}`` are tokens of their own; ``"..."`` quotes
   (also mid-word) with shell escapes inside. Single quotes are literal here, as in keepalived's
   tokenizer (an apostrophe in ``router_id node's`` must not swallow the line); they group
   arguments when a script string is split (:func:`split_script`).

Every token carries its :class:`~hadaemon.config.model.Location`. Bad bytes (NUL, control
characters, invalid UTF-8) are reported as errors with their position.
"""

from __future__ import annotations

import glob
import os
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from hadaemon.config.errors import ConfigError, Diagnostics
from hadaemon.config.model import Location

__all__ = ["Token", "Line", "Lexer", "INCLUDE_KEYWORDS", "split_script"]

INCLUDE_KEYWORDS = frozenset(
    {"include", "includer", "includem", "includew", "includeb", "includea"}
)
#: include nesting limit (keepalived has none; a loop is caught earlier by the stack check)
MAX_INCLUDE_DEPTH = 32
#: parameter substitution passes before a definition is declared recursive
MAX_SUBST_PASSES = 50
#: ~SEQ/~LST expansion limit per line (keepalived's own example makes 65,024 instances)
MAX_SEQ_ITEMS = 1_000_000
#: largest config file accepted
MAX_FILE_BYTES = 64 * 1024 * 1024

_DEF_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_PARAM_RE = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=\s|$)")
_COND_RE = re.compile(r"^@(\^?)(\S+)\s*(.*)$", re.S)
_SEQ_RE = re.compile(r"^~(SEQx?|LST)\(")
_BAD_CHARS_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_WORD_RE = re.compile(r"[{}]|[^\s{}]+")
_PLAIN_WORD_RE = re.compile(r"\S+")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


class Token(NamedTuple):
    """One word with its position. ``quoted`` tokens never act as ``{``/``}``.

    A NamedTuple rather than a dataclass: the lexer makes one per word, so creation cost matters
    (the benchmark config has ~50,000 of them); :attr:`loc` builds the Location on demand.
    """

    text: str
    file: str
    line: int
    col: int
    quoted: bool = False

    @property
    def loc(self) -> Location:
        """Where the token starts."""
        return Location(self.file, self.line, self.col)

    @property
    def is_open(self) -> bool:
        """An unquoted ``{``."""
        return self.text == "{" and not self.quoted

    @property
    def is_close(self) -> bool:
        """An unquoted ``}``."""
        return self.text == "}" and not self.quoted


Line = Iterable[Token]


@dataclass(slots=True)
class _Src:
    """A line still to be processed: its text and where it came from."""

    text: str
    file: str
    line: int
    exact: bool = True
    """columns of ``text`` are the file's columns (False after substitution)"""


@dataclass(slots=True)
class _Multi:
    lines: list[_Src]


def _strip_comment(text: str) -> str:
    """Remove a ``#``/``!`` comment that is outside double quotes (keepalived ``decomment``)."""
    if "#" not in text and "!" not in text:
        return text
    quote = ""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == '"':
            quote = c
        elif c in "#!":
            return text[:i]
        i += 1
    return text


def _unescape(s: str, i: int, out: list[str]) -> int:
    """Decode the escape at ``s[i] == '\\'``; append to ``out``; return the next index."""
    if i + 1 >= len(s):
        out.append("\\")
        return i + 1
    c = s[i + 1]
    if c in _ESCAPES:
        out.append(_ESCAPES[c])
        return i + 2
    if c == "x":
        m = re.match(r"[0-9A-Fa-f]{1,2}", s[i + 2 : i + 4])
        if m:
            out.append(chr(int(m.group(0), 16)))
            return i + 2 + len(m.group(0))
        out.append("x")
        return i + 2
    if c in "01234567":
        m = re.match(r"[0-7]{1,3}", s[i + 1 : i + 4])
        assert m is not None
        out.append(chr(int(m.group(0), 8) & 0xFF))
        return i + 1 + len(m.group(0))
    if c == "c" and i + 2 < len(s):
        out.append(chr(ord(s[i + 2].upper()) ^ 0x40))
        return i + 3
    out.append(c)
    return i + 2


def _tokenize(src: _Src, braces: bool = True) -> Iterator[Token]:
    """Split one logical line into tokens with 1-based columns (lazily: a 10 MB line of
    garbage is abandoned as soon as the parser has seen too many errors).

    As keepalived (lib/parser.c ``read_line``), an unquoted ``{`` or ``}`` ends the current
    word and is a token of its own (so an undefined ``${X}`` splits, as in keepalived);
    ``braces=False`` keeps them inside words (include patterns such as ``{a,b}.conf``).
    """
    text = src.text
    file = src.file
    line = src.line
    if '"' not in text:  # fast path: no quoting on this line
        pattern = _WORD_RE if braces else _PLAIN_WORD_RE
        for m in pattern.finditer(text):
            yield Token(m.group(), file, line, m.start() + 1)
        return
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if braces and c in "{}":
            yield Token(c, file, line, start + 1)
            i += 1
            continue
        buf: list[str] = []
        quoted = False
        while i < n:
            c = text[i]
            if c == '"':
                quoted = True
                q = c
                i += 1
                while i < n and text[i] != q:
                    if text[i] == "\\":
                        i = _unescape(text, i, buf)
                    else:
                        buf.append(text[i])
                        i += 1
                i += 1  # closing quote (or end of line: an unterminated quote ends there)
                continue
            if c.isspace() or (braces and c in "{}"):
                break
            buf.append(c)
            i += 1
        yield Token("".join(buf), file, line, start + 1, quoted)


def split_script(command: str) -> list[str]:
    """Split a script string into argv like keepalived: unquoted spaces separate arguments,
    ``'...'`` and ``"..."`` group, backslash escapes one character."""
    args: list[str] = []
    buf: list[str] = []
    have = False
    i = 0
    n = len(command)
    while i < n:
        c = command[i]
        if c.isspace():
            if have:
                args.append("".join(buf))
                buf, have = [], False
            i += 1
        elif c in "'\"":
            have = True
            j = command.find(c, i + 1)
            if j < 0:
                j = n
            buf.append(command[i + 1 : j])
            i = j + 1
        elif c == "\\" and i + 1 < n:
            have = True
            buf.append(command[i + 1])
            i += 2
        else:
            have = True
            buf.append(c)
            i += 1
    if have:
        args.append("".join(buf))
    return args


def _expand_braces(pattern: str) -> list[str]:
    """csh-style ``{a,b}`` expansion (glob.glob does not do it)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out: list[str] = []
    for alt in m.group(1).split(","):
        out.extend(_expand_braces(pattern[: m.start()] + alt + pattern[m.end() :]))
    return out


class Lexer:
    """Turns a config file (and its includes) into logical token lines.

    Usage: ``for line in Lexer(diags, config_id="main").lines_from_file(path): ...``.
    ``sources`` maps each file read to its text lines (for caret messages).
    """

    def __init__(self, diags: Diagnostics, config_id: str | None = None) -> None:
        self.diags = diags
        self.config_id = config_id
        self.params: dict[str, str | _Multi] = {}
        self.sources: dict[str, list[str]] = {}
        self._stack: list[str] = []
        self._pwd: list[str] = []

    # ---------------------------------------------------------------- files
    def lines_from_file(self, path: str, at: Location | None = None) -> Iterator[Line]:
        """Token lines of ``path``; raises ConfigError when the top file cannot be read."""
        text = self._read(path, at)
        if text is None:
            return
        yield from self._lines_from_text(text, path)

    def lines_from_text(self, text: str, filename: str = "<string>") -> Iterator[Line]:
        """Token lines of an in-memory config (includes are relative to the current dir)."""
        yield from self._lines_from_text(text, filename)

    def _read(self, path: str, at: Location | None) -> str | None:
        top = at is None
        try:
            if os.path.isdir(path):
                raise OSError(f"'{path}' is a directory, not a config file")
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            msg = exc.args[-1] if isinstance(exc.args[-1], str) and len(exc.args) == 1 else None
            reason = msg or f"cannot read config file '{path}': {exc.strerror or exc}"
            if top:
                raise ConfigError(reason, at) from None
            self.diags.error(reason, at)
            return None
        if len(data) > MAX_FILE_BYTES:
            err = f"config file '{path}' is larger than {MAX_FILE_BYTES} bytes"
            if top:
                raise ConfigError(err, at)
            self.diags.error(err, at)
            return None
        try:
            return data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            self.diags.error(
                f"invalid UTF-8 byte 0x{data[exc.start]:02x} (the file must be text)",
                Location(path, line, col),
            )
            return data.decode("utf-8", errors="replace")

    def _lines_from_text(self, text: str, filename: str) -> Iterator[Line]:
        real = os.path.realpath(filename) if os.path.exists(filename) else filename
        if real in self._stack:
            raise AssertionError("include loop must be caught by the caller")
        lines = text.split("\n")
        self.sources[filename] = lines
        self._stack.append(real)
        self._pwd.append(os.path.dirname(os.path.abspath(filename)))
        try:
            bad = _BAD_CHARS_RE.search(text)
            if bad is not None:
                pos = bad.start()
                line = text.count("\n", 0, pos) + 1
                col = pos - (text.rfind("\n", 0, pos) + 1) + 1
                self.diags.error(
                    f"binary data: control character 0x{ord(bad.group()):02x} "
                    "(the file must be text); ignoring the rest of the file",
                    Location(filename, line, col),
                )
                lines = lines[: line - 1]
            yield from self._process_lines(lines, filename)
        finally:
            self._stack.pop()
            self._pwd.pop()

    def _process_lines(self, lines: list[str], filename: str) -> Iterator[Line]:
        n = len(lines)
        i = 0
        while i < n:
            raw = lines[i].rstrip("\r")
            lineno = i + 1
            i += 1
            stripped = raw.lstrip()
            # multi-line parameter definitions (continuations are raw lines)
            m = _DEF_RE.match(stripped) if stripped.startswith("$") else None
            if m is not None and _strip_comment(m.group(2)).rstrip().endswith("\\"):
                first = _strip_comment(m.group(2)).rstrip()[:-1].strip()
                body: list[_Src] = []
                if first:
                    body.append(_Src(first, filename, lineno, exact=False))
                while i < n:
                    cont = _strip_comment(lines[i].rstrip("\r")).rstrip()
                    i += 1
                    more = cont.endswith("\\")
                    if more:
                        cont = cont[:-1]
                    if cont.strip():
                        body.append(_Src(cont, filename, i))
                    if not more:
                        break
                self.params[m.group(1)] = _Multi(body)
                continue
            yield from self._process(_Src(raw, filename, lineno), depth=0)

    # ---------------------------------------------------------------- one logical line
    def _process(self, src: _Src, depth: int) -> Iterator[Line]:
        if depth > 100:
            self.diags.error(
                "parameter/sequence expansion nested too deeply", Location(src.file, src.line, 1)
            )
            return
        text = _strip_comment(src.text)
        if not text.strip():
            return
        stripped = text.lstrip()
        first = stripped.split(None, 1)[0]
        if first in INCLUDE_KEYWORDS and depth == 0:
            yield from self._include(first, stripped, src)
            return
        for _ in range(2):  # '@' may also come out of a substitution
            stripped = text.lstrip()
            if stripped.startswith("@"):
                cm = _COND_RE.match(stripped)
                if cm is None:
                    return
                if (cm.group(2) == self.config_id) == bool(cm.group(1)):
                    return
                rest = cm.group(3)
                text = " " * (len(text) - len(rest)) + rest if src.exact else rest
                stripped = rest
                if not stripped.strip():
                    return
            if stripped.startswith("$"):
                m = _DEF_RE.match(stripped.rstrip())
                if m is not None:
                    self.params[m.group(1)] = m.group(2).strip()
                    return
            if _SEQ_RE.match(stripped):
                yield from self._sequence(stripped, src, depth)
                return
            if "$" not in text:
                break
            multi = self._multi_ref(stripped.strip())
            if multi is not None:
                for sub in multi.lines:
                    yield from self._process(sub, depth + 1)
                return
            new = self._substitute(text, src)
            if new == text:
                break
            text = new
            src = _Src(text, src.file, src.line, exact=False)
            if not text.strip():
                return
        if "$" in text and src.exact is False and self._multi_ref(text.strip()) is not None:
            multi = self._multi_ref(text.strip())
            assert multi is not None
            for sub in multi.lines:
                yield from self._process(sub, depth + 1)
            return
        yield _tokenize(_Src(text, src.file, src.line, src.exact))

    def _multi_ref(self, s: str) -> _Multi | None:
        if s.startswith("${") and s.endswith("}"):
            name = s[2:-1]
        elif s.startswith("$"):
            name = s[1:]
        else:
            return None
        val = self.params.get(name)
        return val if isinstance(val, _Multi) else None

    def _substitute(self, text: str, src: _Src) -> str:
        for _ in range(MAX_SUBST_PASSES):
            new = _PARAM_RE.sub(lambda m: self._param_value(m, src), text)
            if new == text:
                return new
            text = new
        self.diags.error(
            "parameter substitution does not terminate (recursive definition?)",
            Location(src.file, src.line, 1),
        )
        return text

    def _param_value(self, m: re.Match[str], src: _Src) -> str:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        assert name is not None
        head, _, arg = name.strip().partition(" ")
        if head == "_PWD":
            return self._pwd[-1] if self._pwd else os.getcwd()
        if head == "_INSTANCE":
            return self.config_id or ""
        if head == "_HASH":
            return "#"
        if head == "_BANG":
            return "!"
        if head == "_ENV":
            return os.environ.get(arg.strip(), "")
        if head == "_RANDOM":
            parts = arg.split()
            try:
                lo = int(parts[0]) if parts else 0
                hi = int(parts[1]) if len(parts) > 1 else 32767
            except ValueError:
                return m.group(0)
            return str(random.randint(min(lo, hi), max(lo, hi)))
        val = self.params.get(name)
        if val is None:
            return m.group(0)
        if isinstance(val, _Multi):
            return " ".join(s.text.strip() for s in val.lines)
        return val

    # ---------------------------------------------------------------- ~SEQ / ~LST
    def _sequence(self, stripped: str, src: _Src, depth: int) -> Iterator[Line]:
        loc = Location(src.file, src.line, 1)
        m = _SEQ_RE.match(stripped)
        assert m is not None
        kind = m.group(1)
        close = stripped.find(")", m.end())
        if close < 0:
            self.diags.error(f"~{kind}: missing ')'", loc)
            return
        spec = stripped[m.end() : close]
        rest = stripped[close + 1 :]
        items = self._seq_items(kind, spec, loc)
        if items is None:
            return
        for names, values in items:
            for name, value in zip(names, values, strict=False):
                self.params[name] = value
            yield from self._process(_Src(rest, src.file, src.line, exact=False), depth + 1)

    def _seq_items(
        self, kind: str, spec: str, loc: Location
    ) -> list[tuple[list[str], list[str]]] | None:
        spec = self._substitute(spec, _Src(spec, loc.file, loc.line, exact=False))
        if kind == "LST":
            groups = re.findall(r"\{[^}]*\}|[^,\s{][^,]*", spec)
            parts = [g.strip() for g in groups if g.strip()]
            if len(parts) < 2:
                self.diags.error("~LST needs a variable and at least one value", loc)
                return None
            names = [n.strip() for n in parts[0].strip("{}").split(",")]
            out = []
            for p in parts[1:]:
                vals = [v.strip() for v in p.strip("{}").split(",")]
                out.append((names, vals))
            return out
        parts = [p.strip() for p in spec.split(",")]
        name = parts[0]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not 2 <= len(parts) <= 4:
            self.diags.error(
                f"~{kind}(var, [start,] [step,] end): bad specification '{spec}'", loc
            )
            return None
        try:
            nums = [int(p, 0) for p in parts[1:]]
        except ValueError:
            self.diags.error(f"~{kind}: '{spec}' has a value that is not an integer", loc)
            return None
        if len(nums) == 1:
            end = nums[0]
            start = 1 if end > 0 else -1
            step = 1 if end >= start else -1
        elif len(nums) == 2:
            start, end = nums
            step = 1 if end >= start else -1
        else:
            start, step, end = nums
        if step == 0 or (end - start) * step < 0:
            self.diags.error(f"~{kind}: step {step} never reaches {end} from {start}", loc)
            return None
        count = (end - start) // step + 1
        if count > MAX_SEQ_ITEMS:
            self.diags.error(f"~{kind}: {count} items is more than {MAX_SEQ_ITEMS}", loc)
            return None
        fmt = "{:x}" if kind == "SEQx" else "{}"
        return [
            ([name], [fmt.format(v)]) for v in range(start, end + (1 if step > 0 else -1), step)
        ]

    # ---------------------------------------------------------------- include
    def _include(self, keyword: str, stripped: str, src: _Src) -> Iterator[Line]:
        col = len(src.text) - len(src.text.lstrip()) + 1
        toks = list(_tokenize(_Src(" " * (col - 1) + stripped, src.file, src.line), braces=False))
        loc = Location(src.file, src.line, col)
        if len(toks) < 2:
            self.diags.error(f"'{keyword}' needs a file name", loc)
            return
        base = self._pwd[-1] if self._pwd else os.getcwd()
        for tok in toks[1:]:
            pattern = tok.text
            if not os.path.isabs(pattern):
                pattern = os.path.join(base, pattern)
            is_glob = any(ch in pattern for ch in "*?[{")
            matches: list[str] = []
            for p in _expand_braces(pattern):
                if any(ch in p for ch in "*?["):
                    matches.extend(sorted(glob.glob(p)))
                elif os.path.exists(p):
                    matches.append(p)
                elif not is_glob:
                    self.diags.error(f"include file '{tok.text}' does not exist", tok.loc)
            if is_glob and not matches:
                severity = self.diags.error if keyword in ("includem", "includea") else None
                if severity is not None:
                    severity(f"include pattern '{tok.text}' matches no file", tok.loc)
                else:
                    self.diags.warning(f"include pattern '{tok.text}' matches no file", tok.loc)
            for path in matches:
                real = os.path.realpath(path)
                if real in self._stack:
                    self.diags.error(f"include loop: '{path}' is already being read", tok.loc)
                    continue
                if len(self._stack) >= MAX_INCLUDE_DEPTH:
                    self.diags.error(
                        f"includes nested more than {MAX_INCLUDE_DEPTH} deep", tok.loc
                    )
                    continue
                text = self._read(path, tok.loc)
                if text is not None:
                    yield from self._lines_from_text(text, path)
