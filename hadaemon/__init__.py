"""hadaemon: VRRP failover and a health-checked L4 load balancer, keepalived.conf compatible."""

from __future__ import annotations

__version__ = "0.1.0"
