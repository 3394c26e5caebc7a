"""Imported at start-up by the ``mend run`` processes the Discord run tests start.

Those tests put this directory on the child's ``PYTHONPATH``. It does what ``conftest.py``
does for the test process, in the child: any connection or name lookup past loopback is
refused (and noted in ``MEND_TEST_BLOCKED_LOG`` so the test can fail on it). discord.py
connects its gateway to the hard-coded ``wss://gateway.discord.gg/`` (``/gateway/bot`` is
asked only by an auto-sharded bot without a shard count, which Mend never builds), so
``MEND_TEST_DISCORD_GATEWAY`` points that default at the test's fake gateway instead.
"""

from __future__ import annotations

import os
import socket
from typing import Any

_LOOPBACK_PREFIXES = ("127.", "::1", "localhost")
_BLOCKED_LOG = os.environ.get("MEND_TEST_BLOCKED_LOG")
_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _note(host: str) -> None:
    if _BLOCKED_LOG:
        with open(_BLOCKED_LOG, "a", encoding="utf-8") as log:
            log.write(host + "\n")


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host is None or str(host).startswith(_LOOPBACK_PREFIXES)


def _loopback_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        _note(str(address[0]))
        raise OSError(f"mend run under test tried to reach the network at {address[0]}")
    _real_connect(self, address)


def _loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        _note(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "name lookups past loopback are off in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _loopback_connect  # type: ignore[method-assign,assignment]
socket.getaddrinfo = _loopback_getaddrinfo

_GATEWAY = os.environ.get("MEND_TEST_DISCORD_GATEWAY")
if _GATEWAY:
    import yarl
    from discord.gateway import DiscordWebSocket

    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_GATEWAY)
