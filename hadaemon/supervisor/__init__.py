"""hadaemon.supervisor."""
