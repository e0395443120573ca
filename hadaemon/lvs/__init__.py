"""hadaemon.lvs."""
