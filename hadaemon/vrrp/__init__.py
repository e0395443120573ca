"""hadaemon.vrrp."""
