"""keepalived's PCRE2 ``regex_options`` (HTTP_GET/SSL_GET ``url`` blocks) on Python's :mod:`re`.

keepalived compiles ``regex`` with ``pcre2_compile(pattern, options)`` and asks one question of
each response body: is there a match whose start lies in ``[regex_min_offset,
regex_max_offset]``? Only *whether* and *where* a match starts matter, which decides how each
option maps (keepalived's list, ``check_http.c: regex_options[]``):

* **flags**: ``caseless`` → ``re.IGNORECASE``, ``multiline`` → ``re.MULTILINE``, ``dotall`` →
  ``re.DOTALL``, ``extended`` → ``re.VERBOSE`` (both ignore white space and ``#`` comments outside
  classes).
* **no effect on that question**: ``ungreedy`` (greediness changes a match's length, never
  whether one starts at a position), ``no_auto_capture``, ``dupnames`` (Python refuses duplicate
  names at compile time), the optimisation switches ``no_auto_possess``, ``no_dotstar_anchor``,
  ``no_start_optimize``, and ``auto_callout``, ``use_offset_limit``, ``alt_verbnames``,
  ``never_ucp``, ``never_utf``, ``never_backslash_c`` (keepalived sets no callout, no offset
  limit; Python has no verbs and no ``\\C``).
* **emulated**: ``firstline`` (the match must start at or before the first newline: the checker
  lowers the maximum offset when it sees that newline).
* **equivalent unless the pattern uses what they change**: ``dollar_endonly`` (``$`` without
  ``multiline``), ``allow_empty_class`` (``[]``), ``alt_circumflex`` (``^`` with
  ``multiline``), ``match_unset_backref`` (back-references): when the pattern does, it is an
  error that says what to write instead.
* **not available**: ``alt_bsux`` (error), ``utf`` and ``ucp`` (warnings: the body is matched as
  bytes, so UTF-8 text still matches but ``.``, classes and counts see bytes).

Unknown options are warnings (keepalived ignores them silently). ``regex_stack`` sizes PCRE2's
JIT stack; Python's engine has no such limit, so it is accepted and ignored with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: options that are Python ``re`` flags
FLAGS: dict[str, re.RegexFlag] = {
    "caseless": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
    "extended": re.VERBOSE,
}

#: options with no effect on whether (and where) a match starts, as the checker uses it
NO_EFFECT = frozenset(
    {
        "ungreedy",
        "no_auto_capture",
        "dupnames",
        "no_auto_possess",
        "no_dotstar_anchor",
        "no_start_optimize",
        "auto_callout",
        "use_offset_limit",
        "alt_verbnames",
        "never_ucp",
        "never_utf",
        "never_backslash_c",
    }
)

#: options the checker emulates itself
EMULATED = frozenset({"firstline"})

#: options that only matter when the pattern uses a construct (checked by :func:`problems`)
CONDITIONAL = frozenset(
    {"dollar_endonly", "allow_empty_class", "alt_circumflex", "match_unset_backref"}
)

#: accepted with a warning: the body is matched as bytes
APPROXIMATE = frozenset({"utf", "ucp"})

#: refused
UNSUPPORTED = frozenset({"alt_bsux"})

#: every option keepalived knows
KNOWN = frozenset(FLAGS) | NO_EFFECT | EMULATED | CONDITIONAL | APPROXIMATE | UNSUPPORTED

_BACKREF_RE = re.compile(r"\\[1-9]|\\g[{<]?-?\d|\\k[<{']|\(\?P=")


@dataclass(frozen=True)
class Problem:
    """What is wrong with one option: ``severity`` is ``"error"`` or ``"warning"``."""

    option: str
    severity: str
    message: str
    hint: str | None = None


def _unescaped(pattern: str, char: str) -> bool:
    """Whether ``char`` occurs in ``pattern`` as a metacharacter: not escaped by a backslash
    and not inside a character class."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # skip the class; a ']' right after '[' or '[^' is a member
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            continue
        if c == char:
            return True
        i += 1
    return False


def problems(pattern: str | None, options: tuple[str, ...]) -> list[Problem]:
    """The options that Python's ``re`` cannot honour for ``pattern`` (empty: all fine)."""
    out: list[Problem] = []
    opts = set(options)
    pat = pattern or ""
    for opt in options:
        if opt not in KNOWN:
            import difflib

            close = difflib.get_close_matches(opt, sorted(KNOWN), n=1, cutoff=0.75)
            out.append(
                Problem(
                    opt,
                    "warning",
                    f"unknown regex option '{opt}' ignored",
                    f"did you mean '{close[0]}'?"
                    if close
                    else "options: " + ", ".join(sorted(KNOWN)),
                )
            )
        elif opt in UNSUPPORTED:
            out.append(
                Problem(
                    opt,
                    "error",
                    "regex option 'alt_bsux' is not supported (Python's re has no "
                    "JavaScript-style \\U, \\u, \\x escapes for byte patterns)",
                    "write bytes as \\xhh and drop alt_bsux",
                )
            )
        elif opt in APPROXIMATE:
            out.append(
                Problem(
                    opt,
                    "warning",
                    f"regex option '{opt}': the body is matched as bytes; UTF-8 text in the "
                    "pattern still matches, but '.', character classes and counts see bytes, "
                    "not characters",
                    "write non-ASCII characters as literals (or alternations of them)",
                )
            )
        elif opt == "dollar_endonly" and "multiline" not in opts and _unescaped(pat, "$"):
            out.append(
                Problem(
                    opt,
                    "error",
                    "regex option 'dollar_endonly' is not supported: Python's '$' also "
                    "matches before a final newline",
                    "write \\Z (the very end of the body) instead of $ and drop dollar_endonly",
                )
            )
        elif opt == "allow_empty_class" and "[]" in pat:
            out.append(
                Problem(
                    opt,
                    "error",
                    "regex option 'allow_empty_class' is not supported: Python reads '[]...]' "
                    "as a class containing ']'",
                    "write (?!) for a class that never matches, and drop allow_empty_class",
                )
            )
        elif opt == "alt_circumflex" and "multiline" in opts and _unescaped(pat, "^"):
            out.append(
                Problem(
                    opt,
                    "error",
                    "regex option 'alt_circumflex' is not supported: Python's multiline '^' "
                    "does not match after a final newline",
                    "write (?:^|(?<=\\n)\\Z) for that case, and drop alt_circumflex",
                )
            )
        elif opt == "match_unset_backref" and _BACKREF_RE.search(pat):
            out.append(
                Problem(
                    opt,
                    "error",
                    "regex option 'match_unset_backref' is not supported: in Python a "
                    "back-reference to a group that did not take part fails",
                    "make the group take part with an empty alternative, e.g. (a|) instead "
                    "of (a)?, and drop match_unset_backref",
                )
            )
    return out


def flags(options: tuple[str, ...]) -> re.RegexFlag:
    """The ``re`` flags of ``options`` (the others are handled elsewhere or have no effect)."""
    f = re.RegexFlag(0)
    for opt in options:
        f |= FLAGS.get(opt, re.RegexFlag(0))
    return f


def compile_pattern(pattern: str, options: tuple[str, ...] = ()) -> re.Pattern[bytes]:
    """``pattern`` (UTF-8) compiled for byte bodies with ``options``; raises :class:`re.error`."""
    return re.compile(pattern.encode(), flags(options))
