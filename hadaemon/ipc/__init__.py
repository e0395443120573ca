"""hadaemon.ipc."""
