"""BFD (RFC 5880 / RFC 5881 / RFC 5883), sans-IO: packet codec, sessions, demultiplexing.

``packet`` encodes and checks control packets, ``session`` is one session's state machine and
timers, ``core`` holds all sessions of the daemon. The sockets and the asyncio service live in
:mod:`hadaemon.io.bfd`; nothing here does I/O.
"""
