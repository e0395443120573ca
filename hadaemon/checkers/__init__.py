"""hadaemon.checkers: keepalived's health checkers, on one asyncio loop.

- ``spec``: frozen per-check descriptions (keepalived keywords, inheritance resolved);
  ``adapt.from_config(Config)`` builds them from the config model.
- ``hysteresis``: pure retry logic of one checker (``CheckerState``).
- ``decisions``: pure ``HealthEngine`` - real-server health, weights, quorum/hysteresis,
  sorry_server, inhibit_on_failure, notify scripts, ``lvs_notify_fifo`` lines, log wording.
- ``probes``: TCP, HTTP/SSL, MISC, SMTP, DNS, PING, UDP, FILE probes returning ``ProbeResult``.
- ``scheduler``: runs the probes when due; ``service.CheckerService`` is what the checker
  worker hosts; ``genhash`` is ``hadaemon genhash``.
"""
