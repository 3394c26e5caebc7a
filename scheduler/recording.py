"""An outbox that records sends to a file instead of a platform (``mend run --record``).

Each send appends one JSON line with the chat, the content key, the nonce and the time;
never the text. Lines are written with one ``write`` on a file opened for appending, so
they survive the process being killed and never interleave.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from core.types import ChatKind, ChatRef, Reply, UserRef

__all__ = ["RecordingOutbox"]


class RecordingOutbox:
    """Records every send as a JSON line in ``path``; never refuses, never waits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.count = 0

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Append one line for ``reply``."""
        line = {
            "platform": chat.platform.value,
            "chat": chat.chat_id,
            "key": reply.key,
            "nonce": nonce,
            "buttons": len(reply.buttons),
            "at": datetime.now(UTC).isoformat(),
        }
        os.write(self._fd, (json.dumps(line) + "\n").encode("utf-8"))
        self.count += 1

    async def open_private(self, user: UserRef) -> ChatRef:
        """A person's private chat, addressed by their id."""
        return ChatRef(user.platform, user.user_id, ChatKind.PRIVATE)

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)
