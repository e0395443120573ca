# ruff: noqa: E501  (the seed configs are verbatim, long comments included)
"""The seed tutorial's two keepalived.conf files and their adaptation for the lab.

The texts are the seed's (``seed-master.conf`` / ``seed-backup.conf``: the tutorial's configs with
whitespace restored, otherwise verbatim, including its mistakes such as the misspelt
``lvs_sync_daemon_inteface`` and the deprecated ``nb_get_retry``). :func:`adapt` changes only what
the lab must change and nothing else:

* the real server's address (the tutorial's real server is the router itself, running MySQL; the
  lab puts the "database" on its own host rs1/rs2 so that stopping it does not stop the router),
* the ``notify_down`` script path (a real script that logs its arguments and then stops its own
  router's daemon, like the tutorial's ``pkill keepalived``, but by pid file),
* the timers: ``advert_int 1`` in the default mode (the seed's 5 s unless ``seed_timers``), and in
  the short mode VRRPv3 with 0.1 s adverts plus fast checker timers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEED_MASTER = """\
! Master node of the seed tutorial (whitespace restored; otherwise verbatim).
global_defs {
   notification_email {    # who gets mail when something fails
     root@localhost
     root@192.168.10.18
   }
   notification_email_from keepalived@localhost
   smtp_server 127.0.0.1
   smtp_connect_timeout 30
   router_id node1          # must differ between master and backup
}

vrrp_instance VI_1 {
    state MASTER
    interface eth1
    lvs_sync_daemon_inteface eth1   # sic: misspelt in the tutorial; keepalived warns "Unknown keyword"
    virtual_router_id 151
    priority 100
    advert_int 5
    authentication {
        auth_type PASS
        auth_pass 123456
    }
    virtual_ipaddress {
        192.168.100.100 dev eth1
    }
}

virtual_server 192.168.100.100 3306 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    persistence_timeout 60
    protocol TCP
    real_server 192.168.10.18 3306 {
        weight 100
        notify_down /data/sh/mysql.sh
        TCP_CHECK {
            connect_timeout 10
            nb_get_retry 3          # keepalived 2.x: "Unknown keyword 'nb_get_retry'" (now 'retry')
            delay_before_retry 3
            connect_port 3306
        }
    }
}
"""

SEED_BACKUP = """\
! Backup node of the seed tutorial (whitespace restored; otherwise verbatim).
global_defs {
   notification_email {    # who gets mail when something fails
     root@localhost
     root@192.168.10.18
   }
   notification_email_from keepalived@localhost
   smtp_server 127.0.0.1
   smtp_connect_timeout 30
   router_id node2
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth1
    lvs_sync_daemon_inteface eth1   # sic: misspelt in the tutorial; keepalived warns "Unknown keyword"
    virtual_router_id 151
    priority 90
    advert_int 5
    authentication {
        auth_type PASS
        auth_pass 123456
    }
    virtual_ipaddress {
        192.168.100.100 dev eth1
    }
}

virtual_server 192.168.100.100 3306 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    persistence_timeout 60
    protocol TCP
    real_server 192.168.10.23 3306 {
        weight 100
        notify_down /data/sh/mysql.sh
        TCP_CHECK {
            connect_timeout 10
            nb_get_retry 3          # keepalived 2.x: "Unknown keyword 'nb_get_retry'" (now 'retry')
            delay_before_retry 3
            connect_port 3306
        }
    }
}
"""

#: addresses the tutorial uses (kept in the lab: the namespaces are private)
SEED_MASTER_ADDR = "192.168.10.18"
SEED_BACKUP_ADDR = "192.168.10.23"
SEED_VIP = "192.168.100.100"
SEED_NOTIFY = "/data/sh/mysql.sh"


@dataclass(frozen=True)
class Timers:
    """Timers written into the lab configs (seconds)."""

    vrrp_version: int
    advert_int_s: float
    delay_loop_s: float
    connect_timeout_s: float
    retry: int
    delay_before_retry_s: float


#: the seed's own timers
SEED_TIMERS = Timers(2, 5.0, 6.0, 10.0, 3, 3.0)
#: default lab mode: the seed's timers with 1 s adverts
DEFAULT_TIMERS = Timers(2, 1.0, 6.0, 10.0, 3, 3.0)
#: ``--short``: VRRPv3 0.1 s adverts, checker fast enough for the test suite
SHORT_TIMERS = Timers(3, 0.1, 0.5, 0.5, 1, 0.2)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def adapt(
    text: str, *, real_server: str, notify_down: str, timers: Timers, seed_real_server: str
) -> str:
    """Return the seed config ``text`` adapted for the lab (see the module docstring)."""
    out = text.replace(f"real_server {seed_real_server} ", f"real_server {real_server} ")
    out = out.replace(f"notify_down {SEED_NOTIFY}", f"notify_down {notify_down}")
    subs = {
        "advert_int": timers.advert_int_s,
        "delay_loop": timers.delay_loop_s,
        "connect_timeout": timers.connect_timeout_s,
        "nb_get_retry": timers.retry,
        "delay_before_retry": timers.delay_before_retry_s,
    }
    for kw, val in subs.items():
        value = _num(val)
        out = re.sub(rf"(^\s*{kw}\s+)\S+", rf"\g<1>{value}", out, flags=re.M)
    if timers.vrrp_version == 3:
        out = re.sub(
            r"(^\s*router_id\s+\S+.*$)", r"\1\n   vrrp_version 3", out, count=1, flags=re.M
        )
    return out
