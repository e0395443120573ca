"""Map the config model (``hadaemon.config.model.Config``) onto the checker specs.

The model already carries effective values (inheritance VS -> RS -> checker filled in); this
module only resolves what stays relative: ``connect_ip``/``connect_port`` defaulting to the real
server, virtualhost fallbacks, the global ``SSL {}`` block, ``track_file`` names, HEX strings.
A value the checker cannot use raises ``CheckerConfigError`` with the config location.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from hadaemon.checkers.probes.udp import parse_hex_str
from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    DnsSpec,
    FileSpec,
    HttpSpec,
    MiscSpec,
    RealServerSpec,
    SorryServerSpec,
    UdpSpec,
    UrlSpec,
    VirtualServerSpec,
    fmt_service,
)
from hadaemon.config import pcre

log = logging.getLogger("hadaemon.checkers")

DEFAULT_HELO = "smtpchecker.keepalived.org"


class CheckerConfigError(ValueError):
    """A checker setting that cannot be used; the message names the config location."""


def _where(node: Any) -> str:
    loc = getattr(node, "location", None)
    return f"{loc.file}:{loc.line}:{loc.col}: " if loc is not None else ""


def vs_name(vs: Any) -> str:
    """keepalived's name of a virtual server: ``[ip]:tcp:port``, ``FWM n`` or ``GROUP name``."""
    if vs.group is not None:
        return f"GROUP {vs.group}"
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    return fmt_service(vs.address, vs.port, vs.protocol)


def _argv(script: Any) -> tuple[str, ...] | None:
    return tuple(script.args) if script is not None and script.args else None


def _check(cfg: Any, vs: Any, rs: Any, c: Any) -> CheckSpec | None:
    kind = c.CHECKER_TYPE
    common: dict[str, Any] = dict(
        kind=kind,
        connect_ip=c.connect_ip or rs.address,
        connect_port=c.connect_port if c.connect_port is not None else rs.port,
        bindto=c.bindto,
        bind_port=c.bind_port,
        bind_if=c.bind_if,
        connect_timeout_s=float(c.connect_timeout),
        retry=int(c.retry),
        delay_before_retry_s=float(c.delay_before_retry),
        delay_loop_s=float(c.delay_loop),
        warmup_s=float(c.warmup or 0.0),
        alpha=bool(c.alpha),
        log_all_failures=bool(c.log_all_failures or cfg.global_defs.checker_log_all_failures),
    )
    if kind == "BFD_CHECK":
        # the session's state decides at once (no retries), and the real server counts as
        # down until the bfd worker reports the session Up
        if not c.name or c.name not in {b.name for b in cfg.bfd_instances}:
            raise CheckerConfigError(
                f"{_where(c)}BFD_CHECK: bfd_instance {c.name!r} is not defined"
            )
        if c.weight:
            log.warning("%sBFD_CHECK weight is not supported; ignored", _where(c))
        common.update(bfd=c.name, retry=0, alpha=True, warmup_s=0.0)
    if common["delay_loop_s"] <= 0:
        raise CheckerConfigError(f"{_where(c)}{kind}: delay_loop must be > 0")
    if kind in ("HTTP_GET", "SSL_GET"):
        ssl = cfg.ssl
        urls = tuple(
            UrlSpec(
                path=u.path,
                digest=u.digest.lower() if u.digest else None,
                status_code=tuple(u.status_code) or ((200, 299),),
                virtualhost=u.virtualhost,
                regex=u.regex,
                regex_no_match=u.regex_no_match,
                regex_options=tuple(u.regex_options),
                regex_min_offset=u.regex_min_offset or 0,
                regex_max_offset=u.regex_max_offset,
            )
            for u in c.url
        ) or (UrlSpec(),)
        for u in urls:
            if u.regex is not None:
                try:
                    pcre.compile_pattern(u.regex, u.regex_options)
                except re.error as exc:
                    raise CheckerConfigError(f"{_where(c)}bad regex {u.regex!r}: {exc}") from None
        common["http"] = HttpSpec(
            urls=urls,
            http_protocol=c.http_protocol,
            virtualhost=c.virtualhost or rs.virtualhost or vs.virtualhost,
            enable_sni=bool(getattr(c, "enable_sni", False)),
            sni_name=getattr(c, "sni_name", None),
            ssl_ca=ssl.ca if ssl else None,
            ssl_certificate=ssl.certificate if ssl else None,
            ssl_key=ssl.key if ssl else None,
            ssl_password=ssl.password if ssl else None,
        )
    elif kind == "MISC_CHECK":
        script = c.misc_path
        common["misc"] = MiscSpec(
            misc_path=script.command if script is not None else "",
            misc_timeout_s=c.misc_timeout,
            misc_dynamic=c.misc_dynamic,
            user=c.user or (script.user if script is not None else None),
            group=c.group or (script.group if script is not None else None),
            disabled_reason=None if script is not None else "no misc_path",
        )
    elif kind == "SMTP_CHECK":
        common["smtp_helo_name"] = c.helo_name or cfg.global_defs.smtp_helo_name or DEFAULT_HELO
        if c.connect_port is None and rs.port is None:
            common["connect_port"] = 25
    elif kind == "DNS_CHECK":
        common["dns"] = DnsSpec(type=c.type.upper(), name=c.name)
    elif kind == "UDP_CHECK":
        try:
            payload = parse_hex_str(c.payload)[0] if c.payload else None
            pattern = (
                parse_hex_str(c.require_reply_data, wildcards=True)
                if c.require_reply_data
                else None
            )
        except ValueError:
            raise CheckerConfigError(f"{_where(c)}UDP_CHECK: bad HEX_STR") from None
        common["udp"] = UdpSpec(
            payload=payload,
            require_reply=bool(c.require_reply or c.require_reply_data),
            reply_pattern=pattern,
            min_reply_length=c.min_reply_length,
            max_reply_length=c.max_reply_length,
        )
    elif kind == "FILE_CHECK":
        tf = next((t for t in cfg.track_files if t.name == c.track_file), None)
        if tf is None or not tf.file:
            raise CheckerConfigError(
                f"{_where(c)}FILE_CHECK: track_file {c.track_file!r} is not defined"
            )
        common["file"] = FileSpec(
            path=tf.file,
            weight=c.weight if c.weight is not None else tf.weight,
            reverse=bool(c.weight_reverse or (c.weight is None and tf.weight_reverse)),
            dynamic=c.dynamic,
        )
    return CheckSpec(**common)


def from_config(cfg: Any) -> CheckerConfig:
    """The checker specs of ``cfg`` (a ``hadaemon.config.model.Config``)."""
    g = cfg.global_defs
    vss = []
    for vs in cfg.virtual_servers:
        rss = []
        for rs in vs.real_servers:
            checks = tuple(s for c in rs.checkers if (s := _check(cfg, vs, rs, c)) is not None)
            user = None
            if rs.notify_up is not None and rs.notify_up.user:
                user = (rs.notify_up.user, rs.notify_up.group)
            elif rs.notify_down is not None and rs.notify_down.user:
                user = (rs.notify_down.user, rs.notify_down.group)
            rss.append(
                RealServerSpec(
                    ip=rs.address,
                    port=rs.port if rs.port is not None else 0,
                    weight=rs.weight,
                    inhibit_on_failure=bool(rs.inhibit_on_failure or vs.inhibit_on_failure),
                    notify_up=_argv(rs.notify_up),
                    notify_down=_argv(rs.notify_down),
                    script_user=user,
                    alpha=bool(rs.alpha),
                    checkers=checks,
                )
            )
        sorry = None
        if vs.sorry_server is not None:
            sorry = SorryServerSpec(
                vs.sorry_server.address, vs.sorry_server.port, vs.sorry_server_inhibit
            )
        vss.append(
            VirtualServerSpec(
                key=vs_name(vs),
                ip=vs.address,
                port=vs.port,
                protocol=vs.protocol,
                fwmark=vs.fwmark,
                group=vs.group,
                quorum=vs.quorum,
                hysteresis=vs.hysteresis,
                quorum_up=_argv(vs.quorum_up),
                quorum_down=_argv(vs.quorum_down),
                sorry_server=sorry,
                alpha=bool(vs.alpha),
                omega=bool(vs.omega),
                ha_suspend=bool(vs.ha_suspend),
                real_servers=tuple(rss),
                model_key=vs.key,
            )
        )
    return CheckerConfig(
        virtual_servers=tuple(vss),
        lvs_notify_fifo=g.lvs_notify_fifo,
        lvs_notify_fifo_script=_argv(g.lvs_notify_fifo_script),
        enable_script_security=bool(g.enable_script_security),
        script_user=(g.script_user, g.script_group) if g.script_user else None,
        checker_log_all_failures=bool(g.checker_log_all_failures),
    )
