"""Config model -> checker specs."""

from __future__ import annotations

import pytest

from hadaemon.checkers.adapt import CheckerConfigError, from_config
from hadaemon.config import load, loads

SEED = "/work/shared/examples/seed-master.conf"


def test_seed_tcp_check_maps_with_inherited_values() -> None:
    cfg = from_config(load(SEED).config)
    (vs,) = cfg.virtual_servers
    assert vs.key == "[192.168.100.100]:tcp:3306"
    assert vs.model_key == "192.168.100.100:3306/TCP"
    (rs,) = vs.real_servers
    assert (rs.ip, rs.port, rs.weight) == ("192.168.10.18", 3306, 100)
    assert rs.notify_down == ("/data/sh/mysql.sh",)
    (c,) = rs.checkers
    assert c.kind == "TCP_CHECK"
    assert (c.connect_ip, c.connect_port) == ("192.168.10.18", 3306)
    assert (c.connect_timeout_s, c.retry, c.delay_before_retry_s, c.delay_loop_s) == (
        10.0,
        3,
        3.0,
        6.0,
    )


CONF = """
global_defs {
  lvs_notify_fifo /run/x.fifo
}
track_file tf {
  file /tmp/whatever
  weight 3
}
SSL {
  ca /etc/ca.pem
}
virtual_server 10.1.1.1 80 {
  delay_loop 0.5
  quorum 2
  hysteresis 1
  sorry_server 10.1.1.99 80
  inhibit_on_failure
  real_server 10.0.0.11 80 {
    weight 3
    notify_up "/bin/echo up now"
    HTTP_GET {
      url {
        path /health
        digest 9B3A0C85A887A256D6939DA88AABD8CD
        status_code 200 301-302
      }
    }
    SSL_GET {
      connect_port 443
      enable_sni
      sni_name www.example
      url {
        path /
      }
    }
    MISC_CHECK {
      misc_path "/bin/true --x"
      misc_timeout 2
      misc_dynamic
    }
    DNS_CHECK {
      type a
      name example.org
    }
    UDP_CHECK {
      payload 0102
      require_reply 01XX
    }
    FILE_CHECK {
      track_file tf
      dynamic
    }
    PING_CHECK {
    }
    SMTP_CHECK {
      helo_name me.example
    }
  }
}
"""


def test_all_checker_kinds_map() -> None:
    res = loads(CONF, filename="t.conf")
    cfg = from_config(res.config)
    assert cfg.lvs_notify_fifo == "/run/x.fifo"
    (vs,) = cfg.virtual_servers
    assert (vs.quorum, vs.hysteresis) == (2, 1)
    assert vs.sorry_server is not None and vs.sorry_server.ip == "10.1.1.99"
    (rs,) = vs.real_servers
    assert rs.inhibit_on_failure and rs.notify_up == ("/bin/echo", "up", "now")
    kinds = {c.kind: c for c in rs.checkers}
    http = kinds["HTTP_GET"].http
    assert http is not None
    assert http.urls[0].digest == "9b3a0c85a887a256d6939da88aabd8cd"
    assert http.urls[0].status_code == ((200, 200), (301, 302))
    assert kinds["HTTP_GET"].delay_loop_s == 0.5
    ssl = kinds["SSL_GET"].http
    assert ssl is not None and ssl.enable_sni and ssl.sni_name == "www.example"
    assert ssl.ssl_ca == "/etc/ca.pem" and kinds["SSL_GET"].connect_port == 443
    misc = kinds["MISC_CHECK"].misc
    assert misc is not None and misc.misc_dynamic and misc.misc_timeout_s == 2
    assert misc.misc_path.split() == ["/bin/true", "--x"]
    assert kinds["MISC_CHECK"].retry == 0
    dns = kinds["DNS_CHECK"].dns
    assert dns is not None and dns.type == "A" and kinds["DNS_CHECK"].retry == 3
    udp = kinds["UDP_CHECK"].udp
    assert udp is not None and udp.payload == b"\x01\x02" and udp.require_reply
    assert udp.reply_pattern == (b"\x01\x00", b"\xff\x00")
    f = kinds["FILE_CHECK"].file
    assert f is not None and (f.path, f.weight, f.dynamic) == ("/tmp/whatever", 3, True)
    assert kinds["SMTP_CHECK"].smtp_helo_name == "me.example"


def test_undefined_track_file_is_a_clear_error() -> None:
    res = loads(
        "virtual_server 10.1.1.1 80 {\n real_server 10.0.0.1 80 {\n FILE_CHECK {\n"
        "track_file nope\n}\n}\n}\n",
        filename="t.conf",
    )
    with pytest.raises(CheckerConfigError, match="track_file 'nope' is not defined"):
        from_config(res.config)
