"""Worker processes hosted by the supervisor.

:mod:`hadaemon.workers.base` is the process entry (``python -m hadaemon.workers.base``): it
hosts one service object behind the supervisor's pipe. The worker modules provide
``make_service(config, emit, options)``: :mod:`~hadaemon.workers.vrrp`
(``hadaemon.io.driver.VrrpService``), :mod:`~hadaemon.workers.checker`
(``hadaemon.checkers.service.CheckerService``) and :mod:`~hadaemon.workers.lvs`
(``hadaemon.lvs.service.LvsService``).
"""
