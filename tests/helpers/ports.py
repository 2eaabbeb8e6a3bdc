"""Loopback ports for simulated devices and brokers."""

from __future__ import annotations

import socket

_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now and never handed out before in this run: the OS may give one port twice in a row,
    and two simulated devices on one port with one unit id read each other's registers."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
