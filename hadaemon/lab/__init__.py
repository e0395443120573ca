"""``hadaemon lab``: the seed tutorial's walkthrough, replayed in network namespaces.

Modules: :mod:`~hadaemon.lab.main` (command line and orchestration), :mod:`~hadaemon.lab.topology`
(namespaces and links through iproute2), :mod:`~hadaemon.lab.routers` (router implementations:
hadaemon or keepalived), :mod:`~hadaemon.lab.agent` (small helper processes run inside the
namespaces: real-server service, client prober, stand-ins), :mod:`~hadaemon.lab.seedconf` (the seed
configs and their adaptation), :mod:`~hadaemon.lab.timeline` (pure analysis of the recorded events)
and :mod:`~hadaemon.lab.plot` (optional matplotlib drawing).
"""

from __future__ import annotations
