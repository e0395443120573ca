"""hadaemon.checkers."""
