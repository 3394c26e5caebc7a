"""The message that shows a finished ritual round: each partner's shared answers, together.

Built only from answers their writers chose to share; a partner who shared nothing shows
as one neutral line. Normally one message; a round whose shared answers would not fit the
smallest platform's limit becomes a few messages sent in the same moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.content import Texts
from core.content.loader import MAX_TEXT_CHARS
from core.profile import MAX_NAME_CHARS
from core.rituals import ITEMS, Answer, RitualKind
from core.text_input import clean_text

HEADING = "ritual.heading"
MORE = "ritual.more"
UNNAMED = ("ritual.partner_one", "ritual.partner_two")
"""How a partner with no known name is labelled, by their place in the couple."""
BLOCK_GAP = "\n\n"


def together_key(kind: RitualKind) -> str:
    """The key of the first message that shows a finished round."""
    return f"ritual.{kind.value}.together"


def kept_key(kind: RitualKind) -> str:
    """The line shown for a partner who shared nothing."""
    return f"ritual.{kind.value}.kept_private"


def item_key(kind: RitualKind, item: str) -> str:
    """The line that shows one shared answer."""
    return f"ritual.{kind.value}.item.{item}"


def required_keys() -> list[str]:
    """Every text key this module renders."""
    keys = [HEADING, MORE, *UNNAMED]
    for kind, items in ITEMS.items():
        keys += [together_key(kind), kept_key(kind), *(item_key(kind, i) for i in items)]
    return keys


@dataclass(frozen=True, slots=True)
class Sharer:
    """A partner as the shared message names them.

    Attributes:
        member_id: their ``users.id``.
        name: the display name they last used, or None.
    """

    member_id: int
    name: str | None


def shared_messages(
    texts: Texts,
    kind: RitualKind,
    sharers: Sequence[Sharer],
    answers: Iterable[Answer],
    limit: int = MAX_TEXT_CHARS,
) -> list[tuple[str, dict[str, str]]]:
    """The ``(text key, values)`` of each message showing the round, in order.

    Only ``answers`` marked shared are shown; pass nothing else.
    """
    order = {item: n for n, item in enumerate(ITEMS[kind])}
    shown = [a for a in answers if a.shared]
    pieces: list[str] = []
    for place, sharer in enumerate(sharers):
        name = clean_text(sharer.name or "")[:MAX_NAME_CHARS] or texts.render(UNNAMED[place % 2])
        mine = sorted(
            (a for a in shown if a.member_id == sharer.member_id),
            key=lambda a: order.get(a.item, len(order)),
        )
        if not mine:
            pieces.append(texts.render(kept_key(kind), {"name": name}))
            continue
        lines = [texts.render(HEADING, {"name": name})]
        lines += [texts.render(item_key(kind, a.item), {"text": a.text}) for a in mine]
        block = "\n".join(lines)
        if _fits(texts, together_key(kind), block, limit):
            pieces.append(block)
        else:  # a block too long for one message travels line by line
            pieces.extend(lines)
    return _pack(texts, together_key(kind), pieces, limit)


def _fits(texts: Texts, key: str, body: str, limit: int) -> bool:
    return len(texts.render(key, {"text": body})) <= limit


def _pack(
    texts: Texts, first: str, pieces: list[str], limit: int
) -> list[tuple[str, dict[str, str]]]:
    messages: list[tuple[str, dict[str, str]]] = []
    body = ""
    key = first
    for piece in pieces:
        candidate = f"{body}{BLOCK_GAP}{piece}" if body else piece
        if body and not _fits(texts, key, candidate, limit):
            messages.append((key, {"text": body}))
            key, candidate = MORE, piece
        body = candidate
    messages.append((key, {"text": body}))
    return messages
