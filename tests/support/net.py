"""Loopback ports for servers the tests start (and for addresses nothing listens on)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port that was free a moment ago; the kernel will not hand it out at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
