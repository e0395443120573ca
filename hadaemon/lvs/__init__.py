"""hadaemon.lvs: the load-balancer data path (nftables by default, IPVS where available).

See ``hadaemon/lvs/README.md``. Entry points: :class:`hadaemon.lvs.service.LvsService` (the
``lvs`` worker's service), :func:`hadaemon.lvs.service.check_config` (``hadaemon -t``),
:func:`hadaemon.lvs.reconcile.reconcile` (pure).
"""
