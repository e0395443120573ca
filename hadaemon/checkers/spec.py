"""Checker-side description of virtual servers, real servers and their health checks.

These frozen dataclasses are what the checker core works on. They carry keepalived's keywords
(snake_case) with inheritance already resolved (virtual_server -> real_server -> checker), so
the pure decision code and the probes never look at the config tree. ``from_config`` in
``hadaemon.checkers.adapt`` maps the config model onto them; tests build them directly.

Times are float seconds (keepalived's ``<TIMER>`` accepts fractions); names carry ``_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: keepalived's defaults (keepalived.conf(5), "Virtual server(s)")
DEFAULT_DELAY_LOOP_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
CHECKER_KINDS = (
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "FILE_CHECK",
)


def default_retry(kind: str) -> int:
    """keepalived's default ``retry``: 3 for DNS_CHECK, 0 for MISC_CHECK, else 1."""
    return {"DNS_CHECK": 3, "MISC_CHECK": 0}.get(kind, 1)


def default_delay_before_retry_s(kind: str, delay_loop_s: float) -> float:
    """keepalived's default ``delay_before_retry``: delay_loop for DNS, 3 s HTTP/SSL, else 1 s."""
    if kind == "DNS_CHECK":
        return delay_loop_s
    if kind in ("HTTP_GET", "SSL_GET"):
        return 3.0
    return 1.0


@dataclass(frozen=True)
class UrlSpec:
    """One ``url {}`` block of HTTP_GET/SSL_GET."""

    path: str = "/"
    #: MD5 of the body as lowercase hex (keepalived's genhash output), or None
    digest: str | None = None
    #: accepted status codes as inclusive ranges; keepalived's default is 200-299
    status_code: tuple[tuple[int, int], ...] = ((200, 299),)
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    #: keepalived's PCRE2 option names (see :mod:`hadaemon.config.pcre`)
    regex_options: tuple[str, ...] = ()
    #: the match must start at or after this body offset
    regex_min_offset: int = 0
    #: ... and at or before this one (inclusive); None = anywhere
    regex_max_offset: int | None = None


@dataclass(frozen=True)
class HttpSpec:
    """HTTP_GET / SSL_GET specifics."""

    urls: tuple[UrlSpec, ...] = (UrlSpec(),)
    #: "1.0", "1.0C" (1.0 + Connection: close) or "1.1"
    http_protocol: str = "1.0"
    virtualhost: str | None = None
    enable_sni: bool = False
    sni_name: str | None = None
    #: global ``SSL {}`` block: ca/certificate/key file paths and key password
    ssl_ca: str | None = None
    ssl_certificate: str | None = None
    ssl_key: str | None = None
    ssl_password: str | None = None


@dataclass(frozen=True)
class MiscSpec:
    """MISC_CHECK specifics."""

    misc_path: str = ""
    #: None = keepalived's default (the checker's delay_loop)
    misc_timeout_s: float | None = None
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None
    #: set at load when the script must not run (missing, not executable, insecure)
    disabled_reason: str | None = None


@dataclass(frozen=True)
class DnsSpec:
    """DNS_CHECK specifics."""

    type: str = "SOA"
    name: str = "."


@dataclass(frozen=True)
class UdpSpec:
    """UDP_CHECK specifics (``payload``/``require_reply`` parsed from keepalived HEX_STR)."""

    payload: bytes | None = None
    require_reply: bool = False
    #: expected reply prefix as (value, mask) bytes; mask 0 bits are "X" wildcards
    reply_pattern: tuple[bytes, bytes] | None = None
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(frozen=True)
class FileSpec:
    """FILE_CHECK specifics (``track_file NAME`` resolved to its file path)."""

    path: str = ""
    weight: int = 1
    reverse: bool = False
    dynamic: bool = False


@dataclass(frozen=True)
class CheckSpec:
    """One checker block with inherited options resolved.

    ``retry`` is the number of *additional* attempts after a failure of an UP checker before it
    is declared DOWN, so an UP checker goes DOWN after ``retry + 1`` consecutive failed attempts.
    """

    kind: str
    connect_ip: str
    connect_port: int | None
    bindto: str | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    retry: int = 1
    delay_before_retry_s: float = 1.0
    delay_loop_s: float = DEFAULT_DELAY_LOOP_S
    #: maximum random delay before the first check; 0 = start immediately
    warmup_s: float = 0.0
    #: start in the failed state (keepalived ``alpha``)
    alpha: bool = False
    log_all_failures: bool = False
    http: HttpSpec | None = None
    misc: MiscSpec | None = None
    dns: DnsSpec | None = None
    udp: UdpSpec | None = None
    file: FileSpec | None = None
    #: BFD_CHECK: the ``bfd_instance`` whose session decides (up while it is Up)
    bfd: str | None = None
    smtp_helo_name: str = "smtpchecker.keepalived.org"


@dataclass(frozen=True)
class RealServerSpec:
    """A real_server and its checkers."""

    ip: str
    port: int
    weight: int = 1
    inhibit_on_failure: bool = False
    notify_up: tuple[str, ...] | None = None
    notify_down: tuple[str, ...] | None = None
    #: (user, group) to run notify scripts as; None = the daemon's script user
    script_user: tuple[str, str | None] | None = None
    alpha: bool = False
    checkers: tuple[CheckSpec, ...] = ()


@dataclass(frozen=True)
class SorryServerSpec:
    """``sorry_server IP PORT`` of a virtual server."""

    ip: str
    port: int
    inhibit: bool = False


@dataclass(frozen=True)
class VirtualServerSpec:
    """A virtual_server as the checker core sees it."""

    #: keepalived-format service name, e.g. ``[192.168.100.100]:tcp:3306`` or ``FWM 5``
    key: str
    ip: str | None
    port: int | None
    protocol: str = "TCP"
    fwmark: int | None = None
    group: str | None = None
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: tuple[str, ...] | None = None
    quorum_down: tuple[str, ...] | None = None
    sorry_server: SorryServerSpec | None = None
    alpha: bool = False
    omega: bool = False
    ha_suspend: bool = False
    real_servers: tuple[RealServerSpec, ...] = ()
    #: the config model's ``VirtualServer.key`` (``IP:PORT/PROTO``), when built from the model
    model_key: str | None = None


@dataclass(frozen=True)
class CheckerConfig:
    """Everything the checker worker needs."""

    virtual_servers: tuple[VirtualServerSpec, ...] = ()
    lvs_notify_fifo: str | None = None
    #: started at start-up with the FIFO path appended; reads the FIFO (keepalived semantics)
    lvs_notify_fifo_script: tuple[str, ...] | None = None
    enable_script_security: bool = False
    #: default user for scripts (global ``script_user``); None = run as ourselves
    script_user: tuple[str, str | None] | None = None
    checker_log_all_failures: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def fmt_service(ip: str | None, port: int | None, protocol: str = "TCP") -> str:
    """keepalived's ``FMT_RS``/``FMT_VS`` text: ``[10.0.0.11]:tcp:3306``."""
    return f"[{ip}]:{protocol.lower()}:{port if port is not None else 0}"
