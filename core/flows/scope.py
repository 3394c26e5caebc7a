"""State keys by scope: per person, per person in one chat, or shared by a chat."""

from __future__ import annotations

from typing import Literal

from core.types import ChatRef, UserRef

Scope = Literal["user", "user_in_chat", "chat"]


def state_key(scope: Scope, chat: ChatRef, user: UserRef) -> str:
    """Return the key under which a conversation of ``scope`` keeps its state.

    In a private chat every scope is the person's own, so a flow started there is the same
    conversation whichever scope it declares.
    """
    if scope == "user" or chat.is_private:
        return f"u:{user.platform.value}:{user.user_id}"
    if scope == "user_in_chat":
        return f"uc:{chat.platform.value}:{chat.chat_id}:{user.user_id}"
    return f"c:{chat.platform.value}:{chat.chat_id}"
