"""hadaemon.workers."""
