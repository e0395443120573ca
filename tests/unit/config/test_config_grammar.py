"""Grammar: keepalived defaults, cross-derived values, aliases, unknown keywords, inheritance."""

from __future__ import annotations

from hadaemon.config import LoadResult, loads
from hadaemon.config.model import HttpGet, MiscCheck, TcpCheck


def load(text: str) -> LoadResult:
    return loads(text, "t.conf", "main", interface_exists=lambda n: True)


def msgs(r: LoadResult) -> list[str]:
    return [
        f"{d.location.line if d.location else 0}:{d.severity}:{d.message}" for d in r.diagnostics
    ]


VIP = "virtual_ipaddress {\n 192.0.2.1/24\n}\n"


def inst(body: str, name: str = "VI_1", vrid: int = 1) -> str:
    return f"vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}{VIP}}}\n"


def test_priority_and_state_cross_derivation() -> None:
    c = load(
        inst("state MASTER\n")
        + inst("", "VI_2", 2)
        + inst("priority 255\n", "VI_3", 3)
        + inst("state BACKUP\npriority 255\n", "VI_4", 4)
    ).config
    got = [(i.state, i.priority) for i in c.vrrp_instances]
    assert got == [("MASTER", 255), ("BACKUP", 100), ("MASTER", 255), ("BACKUP", 255)]


def test_nopreempt_with_state_master_is_cleared_with_warning() -> None:
    r = load(inst("state MASTER\npriority 100\nnopreempt\npreempt_delay 5\n"))
    vi = r.config.vrrp_instances[0]
    assert vi.nopreempt is False and vi.preempt_delay == 0.0
    assert any("nopreempt will not work with initial state MASTER" in m for m in msgs(r))
    r = load(inst("state BACKUP\nnopreempt\n"))
    assert r.config.vrrp_instances[0].nopreempt is True and r.diagnostics == []


def test_v2_advert_int_rounded_v3_kept() -> None:
    r = load(
        inst("advert_int 1.4\n")
        + inst("version 3\nadvert_int 0.25\n", "VI_2", 2)
        + inst("version 3\nadvert_int 0.015\n", "VI_3", 3)
    )
    a, b, c = r.config.vrrp_instances
    assert (a.advert_int, a.version) == (1.0, 2)
    assert (b.advert_int, b.advert_int_cs, b.version) == (0.25, 25, 3)
    assert c.advert_int_cs == 2
    assert any("must be an integer; rounding to 1s" in m for m in msgs(r))
    assert r.errors == []


def test_ipv6_forces_v3_and_global_vrrp_version() -> None:
    r = load(
        "global_defs {\n vrrp_version 3\n}\n" + inst("") + "vrrp_instance V6 {\n"
        " interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n fe80::1/64\n }\n}\n"
    )
    assert [(i.version, i.family) for i in r.config.vrrp_instances] == [(3, 4), (3, 6)]


def test_auth_pass_truncated_and_v3_auth_ignored() -> None:
    r = load(inst("authentication {\n auth_type pass\n auth_pass 0123456789\n}\n"))
    auth = r.config.vrrp_instances[0].authentication
    assert auth is not None and (auth.auth_type, auth.auth_pass) == ("PASS", "01234567")
    assert any("truncating to 8" in m for m in msgs(r))
    r = load(inst("version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}\n"))
    assert r.config.vrrp_instances[0].authentication is None


def test_one_line_authentication_block_parsed_with_warning() -> None:
    r = load(inst("authentication { auth_type PASS auth_pass secret }\n"))
    auth = r.config.vrrp_instances[0].authentication
    assert auth is not None and auth.auth_pass == "secret"
    assert any("keepalived would take it as an argument" in m for m in msgs(r))


def test_unknown_keyword_warns_and_rest_loads() -> None:
    r = load(inst("lvs_sync_daemon_inteface eth1\nbogus_block {\n x 1\n}\npriority 50\n"))
    assert r.config.vrrp_instances[0].priority == 50
    assert msgs(r) == [
        "4:warning:Unknown keyword 'lvs_sync_daemon_inteface'",
        "5:warning:Unknown keyword 'bogus_block' (its block is ignored)",
    ]
    assert r.diagnostics[0].hint == "did you mean 'lvs_sync_daemon_interface'?"


def test_deprecated_aliases() -> None:
    r = load(
        inst("lvs_sync_daemon_interface eth3\n")
        + """
virtual_server 192.0.2.1 80 {
 lb_algo rr
 lb_kind DR
 real_server 192.0.2.2 80 {
  TCP_CHECK {
   nb_get_retry 7
  }
 }
}
"""
    )
    vs = r.config.virtual_servers[0]
    assert (vs.lvs_sched, vs.lvs_method) == ("rr", "DR")
    assert vs.real_servers[0].checkers[0].retry == 7
    sd = r.config.global_defs.lvs_sync_daemon
    assert sd is not None and (sd.interface, sd.vrrp_instance) == ("eth3", "VI_1")
    assert [m.split(":", 2)[2] for m in msgs(r)] == [
        "'lvs_sync_daemon_interface' is deprecated, use 'lvs_sync_daemon (in global_defs)'",
        "'lb_algo' is deprecated, use 'lvs_sched'",
        "'lb_kind' is deprecated, use 'lvs_method'",
        "'nb_get_retry' is deprecated, use 'retry'",
    ]


def test_checker_options_inherited_vs_rs_checker() -> None:
    r = load("""
virtual_server 192.0.2.1 80 {
 delay_loop 7
 retry 5
 connect_timeout 3
 lvs_method DR
 real_server 192.0.2.2 80 {
  delay_before_retry 9
  HTTP_GET {
   url {
    path /x
    status_code 200 301-302
   }
  }
  TCP_CHECK {
   retry 1
  }
  MISC_CHECK {
   misc_path "/bin/check 'a b'"
  }
 }
}
""")
    assert r.errors == []
    rs = r.config.virtual_servers[0].real_servers[0]
    http, tcp, misc = rs.checkers
    assert isinstance(http, HttpGet) and isinstance(tcp, TcpCheck) and isinstance(misc, MiscCheck)
    assert (http.retry, http.connect_timeout, http.delay_before_retry, http.delay_loop) == (
        5,
        3.0,
        9.0,
        7.0,
    )
    assert http.url[0].status_code == ((200, 200), (301, 302))
    assert (tcp.retry, tcp.delay_before_retry) == (1, 9.0)
    assert misc.misc_path is not None and misc.misc_path.args == ("/bin/check", "a b")
    assert rs.lvs_method == "DR" and rs.delay_loop == 7.0 and rs.weight == 1


def test_values_are_checked_with_locations() -> None:
    r = load(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 0\n priority x\n"
        " advert_int abc\n virtual_ipaddress {\n 1.2.3\n }\n}\n"
    )
    assert [(d.location.line, d.location.col) for d in r.errors if d.location] == [
        (3, 20),
        (4, 11),
        (5, 13),
        (7, 2),
    ]


def test_keyword_on_next_line_brace_and_nested_unknown_blocks() -> None:
    r = load("global_defs\n{\n router_id x\n}\nfoo {\n bar {\n baz {\n }\n }\n}\n")
    assert r.config.global_defs.router_id == "x"
    assert msgs(r) == ["5:warning:Unknown keyword 'foo' (its block is ignored)"]


def test_auth_hmac_block() -> None:
    key1 = "hex:" + "ab" * 32
    r = load(
        inst(
            f"version 3\nauth_hmac {{\n key 1 {key1}\n key 2 file:/k\n active_key 2\n"
            " time_window 10\n}\n"
        )
    )
    h = r.config.vrrp_instances[0].auth_hmac
    assert r.errors == [] and h is not None
    assert [(k.key_id, k.value) for k in h.keys] == [(1, key1), (2, "file:/k")]
    assert (h.active_key, h.anti_replay, h.time_window, h.mode) == (2, "time", 10.0, "enforce")
    bad = load(inst("auth_hmac {\n key 1 short\n}\n"))
    assert [d.message for d in bad.errors] == [
        "auth_hmac without any key",
        "auth_hmac key 1 is 5 bytes; it must be 32 to 64 bytes",
    ]
    two = load(inst(f"auth_hmac {{\n key 1 {key1}\n key 2 file:/k\n}}\n"))
    assert [d.message for d in two.errors] == ["auth_hmac has several keys but no active_key"]


def test_whole_blocks_on_one_line() -> None:
    r = load(
        'vrrp_script chk { script "/bin/pgrep -x haproxy" interval 2 weight 2 }\n'
        "vrrp_instance VI_1 { interface eth0 virtual_router_id 5 priority 50 "
        "virtual_ipaddress { 10.0.0.1/24 } track_script { chk } }\n"
    )
    assert r.errors == []
    s = r.config.vrrp_scripts[0]
    assert (s.script and s.script.args, s.interval, s.weight) == (
        ("/bin/pgrep", "-x", "haproxy"),
        2.0,
        2,
    )
    vi = r.config.vrrp_instances[0]
    assert (vi.interface, vi.virtual_router_id, vi.priority) == ("eth0", 5, 50)
    assert [a.cidr for a in vi.virtual_ipaddress] == ["10.0.0.1/24"]
    assert [t.name for t in vi.track_script] == ["chk"]
