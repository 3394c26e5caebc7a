"""Turning raw typed text into clean text and core events."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from core.types import ChatRef, EventKind, IncomingEvent, UserRef

MAX_INPUT_CHARS = 4000
"""Longest text Mend reads from one message; anything beyond is cut before any processing."""

_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})
"""Joiners that emoji sequences and scripts such as Persian need."""
_BLACK_FLAG = "\U0001f3f4"
_EMOJI_TAGS = ("\U000e0020", "\U000e007f")
"""Tag characters that follow a black flag in subdivision flags (Scotland, Wales, England)."""

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.DOTALL)


def clean_text(text: str) -> str:
    """Return ``text`` without control and format characters, trimmed and length-capped.

    Line breaks and tabs survive as newlines or spaces; bidirectional overrides, zero-width
    spaces and other invisible controls are dropped, so they cannot hide a command or
    confuse matching. Emoji (with their joiners and flag tags) and right-to-left scripts
    (with the zero-width non-joiner they use) are kept as they are.
    """
    text = text[: MAX_INPUT_CHARS * 2].replace("\r\n", "\n")
    kept: list[str] = []
    in_flag = False
    for char in text:
        if char in "\n\r\t":
            kept.append("\n" if char != "\t" else " ")
            in_flag = False
            continue
        if char == _BLACK_FLAG:
            in_flag = True
        elif _EMOJI_TAGS[0] <= char <= _EMOJI_TAGS[1]:
            if in_flag:  # only inside a flag sequence; a lone tag is invisible noise
                kept.append(char)
                in_flag = char != _EMOJI_TAGS[1]
            continue
        else:
            in_flag = False
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn"):
            continue
        if category == "Cf" and char not in _KEPT_FORMAT:
            continue
        kept.append(char)
    return "".join(kept).strip()[:MAX_INPUT_CHARS].rstrip()


def event_from_text(
    chat: ChatRef,
    user: UserRef,
    text: str,
    at: datetime,
    *,
    bot_username: str | None = None,
    addressed_to_bot: bool = True,
) -> IncomingEvent:
    """Build a command or text event from a typed line, as every adapter must.

    ``/cmd@OtherBot`` in a group is another bot's command: it becomes unaddressed text.
    """
    cleaned = clean_text(text)
    match = _COMMAND.match(cleaned)
    if match is not None:
        name, mention, rest = match.group(1), match.group(2), match.group(3)
        if mention is None or bot_username is None or mention.lower() == bot_username.lower():
            return IncomingEvent(
                kind=EventKind.COMMAND,
                chat=chat,
                user=user,
                at=at,
                text=cleaned,
                command=name.lower(),
                args=tuple((rest or "").split()),
                addressed_to_bot=True,
            )
        addressed_to_bot = False
    return IncomingEvent(
        kind=EventKind.TEXT,
        chat=chat,
        user=user,
        at=at,
        text=cleaned,
        addressed_to_bot=addressed_to_bot,
    )


def words_of(text: str) -> list[str]:
    """The words of ``text``, case-folded and NFKC-normalised, for whole-word matching."""
    folded = unicodedata.normalize("NFKC", clean_text(text)).casefold()
    return re.findall(r"\w+(?:['’-]\w+)*", folded)


def holds_word(text: str, word: str) -> bool:
    """True if ``word`` (one or more words) appears in ``text`` as whole words.

    "pineapple" is found in "ok PINEAPPLE." but not in "pineapples"; a two-word code word
    must appear as those two words in a row.
    """
    wanted = words_of(word)
    if not wanted:
        return False
    found = words_of(text)
    span = len(wanted)
    return any(found[i : i + span] == wanted for i in range(len(found) - span + 1))
