"""hadaemon.config."""
