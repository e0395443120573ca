"""HTTP_GET / SSL_GET: a small HTTP/1.x client on asyncio streams.

Raw streams (not aiohttp) because the checker needs exact control: the status code as sent, the
MD5 of the body computed while streaming (a 100 MB body is never held in memory), a regex over a
sliding window, a strict header parser that rejects garbage, and a timeout on every read. The
body is only read when a ``digest`` or ``regex`` needs it. ``fetch`` is shared with genhash.

Every ``url`` of the checker is fetched in turn; the attempt succeeds when all of them pass.

The regex is keepalived's PCRE2 question asked of Python's ``re`` (:mod:`hadaemon.config.pcre`):
is there a match whose start lies in ``[regex_min_offset, regex_max_offset]`` (and, with
``firstline``, at or before the first newline)? :class:`RegexScan` asks it of the body as it
streams by, over a window that keeps the last :data:`REGEX_WINDOW` bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
from dataclasses import dataclass

from hadaemon.checkers.probes import ProbeResult, local_addr, target
from hadaemon.checkers.spec import CheckSpec, HttpSpec, UrlSpec
from hadaemon.config import pcre

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 128
READ_CHUNK = 256 * 1024
#: overlap kept between body chunks so a regex can match across a chunk border
REGEX_WINDOW = 64 * 1024
USER_AGENT = "KeepAliveClient"

_STATUS_RE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n$")
_TOKEN_RE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class HttpError(Exception):
    """The server's fault: a protocol violation, a timeout or a transport error."""


@dataclass(frozen=True)
class HttpResponse:
    """What one GET returned."""

    status: int
    headers: dict[str, str]
    #: MD5 of the (de-chunked) body as lowercase hex, or None if the body was not read
    digest: str | None
    #: True/False if a regex was given, else None
    regex_matched: bool | None
    body_bytes: int


def _host_header(host: str, port: int, default_port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return h if port == default_port else f"{h}:{port}"


def build_request(path: str, host_header: str, http_protocol: str) -> bytes:
    """The GET request keepalived sends for ``http_protocol`` 1.0, 1.0C or 1.1."""
    version = "1.1" if http_protocol == "1.1" else "1.0"
    lines = [f"GET {path} HTTP/{version}", f"User-Agent: {USER_AGENT}", f"Host: {host_header}"]
    if http_protocol in ("1.0C", "1.1"):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _readline(reader: asyncio.StreamReader, timeout_s: float) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            line = await reader.readuntil(b"\n")
    except TimeoutError:
        raise HttpError("Timeout WEB read") from None
    except asyncio.IncompleteReadError:
        raise HttpError("connection closed in the middle of the header") from None
    except asyncio.LimitOverrunError:
        raise HttpError("header line too long") from None
    return line


async def _read(reader: asyncio.StreamReader, n: int, timeout_s: float) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            return await reader.read(n)
    except TimeoutError:
        raise HttpError("Timeout HTTP read") from None


async def _read_exactly(reader: asyncio.StreamReader, n: int, timeout_s: float) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            return await reader.readexactly(n)
    except TimeoutError:
        raise HttpError("Timeout HTTP read") from None
    except asyncio.IncompleteReadError:
        raise HttpError("body shorter than announced") from None


@dataclass(frozen=True)
class BodyRegex:
    """A url's regex question: a match starting in ``[min_offset, max_offset]`` of the body."""

    pattern: re.Pattern[bytes]
    min_offset: int = 0
    #: inclusive; None = anywhere
    max_offset: int | None = None
    #: PCRE2 ``firstline``: the match starts at or before the first newline
    firstline: bool = False


class RegexScan:
    """Streams a body through a :class:`BodyRegex` (pure: ``feed`` chunks, read ``matched``).

    The window keeps the last :data:`REGEX_WINDOW` bytes so a match may straddle chunks; once
    the window has moved on, its first byte was searched already, so searches start at index 1
    (a '^' or lookbehind never sees the window edge as the body's start). A match that reaches
    the end of the data so far is only *possible* (``ok$`` is no match if the body goes on, as
    with PCRE2's partial matching): it is searched again with the next chunk and confirmed by
    :meth:`finish` at the end of the body.
    """

    def __init__(self, regex: BodyRegex) -> None:
        self.regex = regex
        self.matched = False
        self._buf = b""
        self._base = 0
        """absolute body offset of ``_buf[0]``"""
        self._limit = regex.max_offset
        self._newline_seen = False
        self._done = False

    def feed(self, data: bytes) -> None:
        """The next chunk of the body."""
        self._search(data, final=False)

    def finish(self) -> None:
        """The body has ended: a match reaching its end counts."""
        self._search(b"", final=True)

    def _search(self, data: bytes, final: bool) -> None:
        if self.matched or self._done:
            return
        r = self.regex
        if r.firstline and not self._newline_seen and (i := data.find(b"\n")) >= 0:
            self._newline_seen = True
            nl = self._base + len(self._buf) + i
            self._limit = nl if self._limit is None else min(self._limit, nl)
        window = self._buf + data
        pos = max(r.min_offset - self._base, 1 if self._base else 0)
        held: int | None = None
        if pos <= len(window):
            m = r.pattern.search(window, pos)
            if m is not None and (self._limit is None or self._base + m.start() <= self._limit):
                # "$" also matches before a final newline: that one byte counts as the end too
                if final or m.end() < len(window) - 1 or len(window) - m.start() > REGEX_WINDOW:
                    self.matched = True  # (a possible match longer than the window counts)
                    return
                held = m.start()
        cut = max(0, len(window) - REGEX_WINDOW)
        if held is not None:  # keep the possible match and one byte before it (pos >= 1)
            cut = min(cut, held - 1) if held else 0
        self._base += cut
        self._buf = window[cut:]
        if held is None and self._limit is not None and self._base and self._base >= self._limit:
            self._done = True  # no position at or before the limit is left to try


class _BodySink:
    def __init__(self, want_digest: bool, regex: BodyRegex | re.Pattern[bytes] | None) -> None:
        self.md5 = hashlib.md5() if want_digest else None
        if isinstance(regex, re.Pattern):
            regex = BodyRegex(regex)
        self.scan = RegexScan(regex) if regex is not None else None
        self.total = 0

    @property
    def matched(self) -> bool | None:
        return self.scan.matched if self.scan is not None else None

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.md5 is not None:
            self.md5.update(data)
        if self.scan is not None:
            self.scan.feed(data)

    def finish(self) -> None:
        if self.scan is not None:
            self.scan.finish()


async def _read_headers(
    reader: asyncio.StreamReader, timeout_s: float
) -> tuple[int, dict[str, str]]:
    line = await _readline(reader, timeout_s)
    m = _STATUS_RE.match(line)
    if m is None:
        raise HttpError(f"bad HTTP status line {line[:60]!r}")
    status = int(m.group(1))
    headers: dict[str, str] = {}
    size = len(line)
    for _ in range(MAX_HEADERS + 1):
        line = await _readline(reader, timeout_s)
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise HttpError("HTTP header too large")
        if line in (b"\r\n", b"\n"):
            return status, headers
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN_RE.match(name):
            raise HttpError(f"garbage HTTP header {line[:60]!r}")
        try:
            headers[name.decode("ascii").lower()] = value.strip().decode("latin-1")
        except UnicodeDecodeError:
            raise HttpError("non-ASCII header name") from None
    raise HttpError("too many HTTP headers")


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], sink: _BodySink, timeout_s: float
) -> None:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await _readline(reader, timeout_s)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError("bad chunk size") from None
            if size < 0:
                raise HttpError("bad chunk size")
            if size == 0:
                # trailers up to the empty line (tolerate a server that just closes)
                while True:
                    try:
                        line = await _readline(reader, timeout_s)
                    except HttpError:
                        return
                    if line in (b"\r\n", b"\n"):
                        return
            left = size
            while left:
                data = await _read_exactly(reader, min(left, READ_CHUNK), timeout_s)
                sink.feed(data)
                left -= len(data)
            await _read_exactly(reader, 2, timeout_s)
    elif "content-length" in headers:
        try:
            left = int(headers["content-length"])
        except ValueError:
            raise HttpError("bad Content-Length") from None
        if left < 0:
            raise HttpError("bad Content-Length")
        while left:
            data = await _read(reader, min(left, READ_CHUNK), timeout_s)
            if not data:
                raise HttpError("body shorter than Content-Length")
            sink.feed(data)
            left -= len(data)
    else:
        while True:
            data = await _read(reader, READ_CHUNK, timeout_s)
            if not data:
                return
            sink.feed(data)


async def fetch(
    host: str,
    port: int,
    path: str,
    *,
    virtualhost: str | None = None,
    http_protocol: str = "1.0",
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout_s: float = 5.0,
    local: tuple[str, int] | None = None,
    want_digest: bool = True,
    regex: BodyRegex | re.Pattern[bytes] | None = None,
) -> HttpResponse:
    """GET ``path`` from ``host:port`` and digest/regex the body as it streams by.

    Raises ``HttpError`` (timeouts, resets, TLS failures, protocol garbage).
    """
    default_port = 443 if ssl_context is not None else 80
    host_header = virtualhost or _host_header(host, port, default_port)
    kw: dict[str, object] = {}
    if ssl_context is not None:
        kw = {
            "ssl": ssl_context,
            # "" disables SNI; asyncio would otherwise send the IP literal
            "server_hostname": server_hostname or "",
            "ssl_handshake_timeout": timeout_s,
        }
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                local_addr=local,
                limit=MAX_HEADER_BYTES,
                **kw,  # type: ignore[arg-type]
            )
    except TimeoutError:
        raise HttpError("Timeout connecting") from None
    except ssl.SSLError as exc:
        raise HttpError(f"SSL handshake failed: {exc.reason or exc}") from None
    except (UnicodeError, ValueError):
        raise HttpError(f"invalid server address {host!r}") from None
    except OSError as exc:
        text = exc.strerror or str(exc) or type(exc).__name__
        if ssl_context is not None and isinstance(exc, ConnectionResetError | BrokenPipeError):
            raise HttpError(f"SSL handshake failed: {text}") from None
        raise HttpError(f"connection failed: {text}") from None
    try:
        writer.write(build_request(path, host_header, http_protocol))
        try:
            async with asyncio.timeout(timeout_s):
                await writer.drain()
        except TimeoutError:
            raise HttpError("Timeout WEB write") from None
        status, headers = await _read_headers(reader, timeout_s)
        sink = _BodySink(want_digest, regex)
        if want_digest or regex is not None:
            await _read_body(reader, headers, sink, timeout_s)
            sink.finish()
        return HttpResponse(
            status,
            headers,
            sink.md5.hexdigest() if sink.md5 is not None else None,
            sink.matched,
            sink.total,
        )
    except ssl.SSLError as exc:
        raise HttpError(f"SSL error: {exc.reason or exc}") from None
    except (ConnectionError, OSError) as exc:
        text = exc.strerror or str(exc) or type(exc).__name__
        raise HttpError(f"connection error: {text}") from None
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            pass


_SSL_CONTEXTS: dict[tuple[str | None, ...], ssl.SSLContext] = {}


def make_ssl_context(h: HttpSpec | None) -> ssl.SSLContext:
    """Client TLS context from the global ``SSL {}`` block (verify only when ``ca`` is set)."""
    key = (
        (h.ssl_ca, h.ssl_certificate, h.ssl_key, h.ssl_password) if h else (None, None, None, None)
    )
    ctx = _SSL_CONTEXTS.get(key)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        if h is not None and h.ssl_ca:
            ctx.load_verify_locations(h.ssl_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if h is not None and h.ssl_certificate:
            ctx.load_cert_chain(h.ssl_certificate, h.ssl_key, h.ssl_password)
        _SSL_CONTEXTS[key] = ctx
    return ctx


def status_ok(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Whether ``status`` is in one of the inclusive ranges."""
    return any(lo <= status <= hi for lo, hi in ranges)


async def check_url(spec: CheckSpec, url: UrlSpec) -> ProbeResult:
    """One url block: status, digest and regex must all pass."""
    h = spec.http or HttpSpec()
    name = target(spec)
    tls = spec.kind == "SSL_GET"
    vhost = url.virtualhost or h.virtualhost
    sni = (h.sni_name or vhost) if h.enable_sni else None
    regex = (
        BodyRegex(
            pcre.compile_pattern(url.regex, url.regex_options),
            url.regex_min_offset,
            url.regex_max_offset,
            "firstline" in url.regex_options,
        )
        if url.regex
        else None
    )
    try:
        resp = await fetch(
            spec.connect_ip,
            spec.connect_port or (443 if tls else 80),
            url.path,
            virtualhost=vhost,
            http_protocol=h.http_protocol,
            ssl_context=make_ssl_context(h) if tls else None,
            server_hostname=sni,
            timeout_s=spec.connect_timeout_s,
            local=local_addr(spec),
            want_digest=url.digest is not None,
            regex=regex,
        )
    except HttpError as exc:
        return ProbeResult(False, f"{exc} to {name} url({url.path}).")
    if not status_ok(resp.status, url.status_code):
        return ProbeResult(
            False,
            f"HTTP status code error to {name} url({url.path}), status_code [{resp.status}].",
        )
    if url.digest is not None and resp.digest != url.digest.lower():
        return ProbeResult(
            False, f"MD5 digest error to {name} url[{url.path}], MD5SUM [{resp.digest}]."
        )
    if regex is not None and bool(resp.regex_matched) == url.regex_no_match:
        return ProbeResult(False, f"Regex match failed on {name} url({url.path}).")
    return ProbeResult(True, f"HTTP connection to {name} success.")


async def probe(spec: CheckSpec) -> ProbeResult:
    """Fetch every url in turn; the first failure fails the attempt."""
    h = spec.http or HttpSpec()
    result = ProbeResult(True, "")
    for url in h.urls:
        result = await check_url(spec, url)
        if not result.ok:
            return result
    return result
