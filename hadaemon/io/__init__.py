"""hadaemon.io."""
