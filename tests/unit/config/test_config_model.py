"""Model: defaults, equality ignoring location, to_dict/from_dict round trip (JSON and msgpack)."""

from __future__ import annotations

import json

import msgpack

from hadaemon.config.model import (
    Config,
    HttpGet,
    IpAddress,
    Location,
    MiscCheck,
    RealServer,
    Script,
    TcpCheck,
    Url,
    VirtualServer,
    VrrpInstance,
)


def _sample() -> Config:
    vip = IpAddress(address="10.0.0.1", prefixlen=24, dev="eth1", location=Location("f", 3, 5))
    rs = RealServer(
        address="10.0.0.2",
        port=80,
        checkers=(
            TcpCheck(connect_port=81),
            HttpGet(url=(Url(path="/x", status_code=((200, 204),)),)),
            MiscCheck(misc_path=Script(args=("/bin/true", "a b"))),
        ),
    )
    return Config(
        vrrp_instances=(
            VrrpInstance(name="VI_1", virtual_router_id=51, virtual_ipaddress=(vip,)),
        ),
        virtual_servers=(VirtualServer(address="10.0.0.1", port=80, real_servers=(rs,)),),
    )


def test_defaults_are_keepalived_defaults() -> None:
    vi = VrrpInstance(name="VI_1")
    assert vi.advert_int == 1.0 and vi.advert_int_cs == 100
    assert vi.priority == 100 and vi.accept is True and vi.down_timer_adverts == 3
    vs = VirtualServer(address="1.2.3.4", port=80)
    assert (vs.lvs_sched, vs.lvs_method, vs.quorum, vs.delay_loop) == ("wlc", "NAT", 1, 60.0)
    assert HttpGet().delay_before_retry == 3.0 and TcpCheck().delay_before_retry == 1.0
    assert MiscCheck().retry == 0 and TcpCheck().connect_timeout == 5.0


def test_location_not_in_equality() -> None:
    a = IpAddress(address="10.0.0.1", prefixlen=32, location=Location("a", 1, 1))
    b = IpAddress(address="10.0.0.1", prefixlen=32, location=Location("b", 9, 9))
    assert a == b and hash(a) == hash(b)
    assert a != IpAddress(address="10.0.0.2", prefixlen=32)


def test_round_trip_json_and_msgpack() -> None:
    cfg = _sample()
    d = cfg.to_dict()
    assert Config.from_dict(json.loads(json.dumps(d))) == cfg
    back = Config.from_dict(msgpack.unpackb(msgpack.packb(d)))
    assert back == cfg
    assert back.vrrp_instances[0].virtual_ipaddress[0].location == Location("f", 3, 5)
    checkers = back.virtual_servers[0].real_servers[0].checkers
    assert [type(c) for c in checkers] == [TcpCheck, HttpGet, MiscCheck]
    assert d["virtual_servers"][0]["real_servers"][0]["checkers"][0]["checker"] == "TCP_CHECK"


def test_part_round_trip_and_keys() -> None:
    cfg = _sample()
    vi = cfg.vrrp_instances[0]
    assert VrrpInstance.from_dict(vi.to_dict(with_location=False)) == vi
    assert cfg.virtual_servers[0].key == "10.0.0.1:80/TCP"
    assert VirtualServer(address="fd00::1", port=80).key == "[fd00::1]:80/TCP"
    assert VirtualServer(fwmark=7).key == "fwmark:7/4"
    assert cfg.has_scripts and not Config().has_scripts
    assert cfg.vrrp_instance("VI_1") is vi and cfg.vrrp_instance("nope") is None


def test_loaded_config_round_trips_with_locations() -> None:
    from pathlib import Path

    from hadaemon.config import load

    golden = Path(__file__).resolve().parents[2] / "golden" / "configs"
    for name in ("full-vrrp.conf", "full-lvs.conf"):
        cfg = load(str(golden / name), "m", interface_exists=lambda n: True).config
        back = Config.from_dict(msgpack.unpackb(msgpack.packb(cfg.to_dict())))
        assert back == cfg
        vi_or_vs = back.vrrp_instances[0] if back.vrrp_instances else back.virtual_servers[0]
        assert vi_or_vs.location == (cfg.vrrp_instances or cfg.virtual_servers)[0].location
        assert vi_or_vs.locations and all(
            isinstance(loc, Location) for loc in vi_or_vs.locations.values()
        )
