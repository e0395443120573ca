"""hadaemon.vrrp: the VRRP sans-IO core (no sockets, no clock, no asyncio).

* :mod:`~hadaemon.vrrp.packet` - ``Advert``, ``encode``, ``decode``, ``MalformedAdvert``
* :mod:`~hadaemon.vrrp.timing` - Skew_Time / Master_Down_Interval in centiseconds
* :mod:`~hadaemon.vrrp.events` / :mod:`~hadaemon.vrrp.actions` - inputs and outputs
* :mod:`~hadaemon.vrrp.fsm` - states, legal transitions, the state table
* :mod:`~hadaemon.vrrp.router` - ``RouterParams``, ``VirtualRouter``
* :mod:`~hadaemon.vrrp.sync_group` - ``SyncGroup``
* :mod:`~hadaemon.vrrp.trackers` - script / file / process tracker state machines
* :mod:`~hadaemon.vrrp.stats` - keepalived-named counters

Driver loop (aioquic shape)::

    router.handle(Startup(), now)
    router.receive(payload, src=..., dst=..., ttl=..., ifname=..., now=kernel_stamp)
    router.handle_timer(now)            # when now >= router.get_timer()
    for action in router.actions(): execute(action)
"""
