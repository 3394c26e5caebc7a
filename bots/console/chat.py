"""The console adapter: typed lines in, rendered replies out.

In a private chat every line is the speaker's. With ``--couple A B`` the lines simulate the
couple's shared group: ``A: text`` is A speaking in the group, ``A> text`` is A writing to
Mend privately; a line with no prefix is the last speaker again, in the same place.
Buttons are numbered; typing a number presses that button of the last message shown to the
speaker there. ``/wait 20m`` (or ``2h``) lets that much time pass: whatever Mend had
scheduled for then (the end of a break, a reminder) arrives, as it would from the scheduler.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from core import keys
from core.clock import Clock
from core.content import Texts
from core.service import CoachService
from core.text_input import event_from_text
from core.types import (
    Attachment,
    Button,
    ChatKind,
    ChatRef,
    EventKind,
    IncomingEvent,
    Platform,
    Reply,
    UserRef,
)

log = logging.getLogger(__name__)

FILE_SAVED = "console.file_saved"
"""Said after a file sent with a reply was saved; ``$path`` is where it went."""

WAITED = "console.waited"
"""Said when ``/wait`` lets time pass; ``$minutes`` is how long."""

KEYS = (
    "console.intro",
    "console.couple_intro",
    "console.no_buttons",
    "console.who",
    FILE_SAVED,
    WAITED,
)
"""Texts the console shows itself; the content lint test checks they exist."""

EXPORT_DIR = Path("exports")
"""Where files sent with replies are saved, relative to the working directory by default."""

_FALLBACK_NAME = "mend-file"

_PREFIX = re.compile(r"^\s*([^\s:>]{1,32})\s*([:>])\s?(.*)$", re.DOTALL)
_WAIT = re.compile(r"^/wait(?:\s+(\d{1,4})\s*(m|min|mins|minutes?|h|hours?)?)?\s*$", re.IGNORECASE)
MAX_WAIT = timedelta(days=7)
"""Longest single ``/wait``."""

PassTime = Callable[[timedelta], Awaitable[None]]
"""Moves the console's clock on and delivers what became due."""


def parse_wait(text: str) -> timedelta | None:
    """The time a ``/wait`` line asks to pass (default 20 minutes), or None if it is not one.

    ``/wait 45``, ``/wait 45m`` and ``/wait 2h`` are understood; anything longer than
    :data:`MAX_WAIT` is capped.
    """
    match = _WAIT.match(text.strip())
    if match is None:
        return None
    amount = int(match.group(1) or 20)
    hours = (match.group(2) or "m").lower().startswith("h")
    return min(timedelta(hours=amount) if hours else timedelta(minutes=amount), MAX_WAIT)


@dataclass(frozen=True, slots=True)
class _Place:
    user: UserRef
    chat: ChatRef


def _user(name: str | None) -> UserRef:
    return UserRef(Platform.CONSOLE, (name or "you").lower(), display_name=name)


def _private(user: UserRef) -> ChatRef:
    return ChatRef(Platform.CONSOLE, f"private:{user.user_id}", ChatKind.PRIVATE)


class ConsoleChat:
    """Turns typed lines into core events and prints what Mend replies."""

    def __init__(
        self,
        service: CoachService,
        texts: Texts,
        clock: Clock,
        out: TextIO,
        *,
        speaker: str | None = None,
        couple: tuple[str, str] | None = None,
        show_keys: bool = False,
        echo: bool = False,
        export_dir: Path = EXPORT_DIR,
        pass_time: PassTime | None = None,
    ) -> None:
        self._service = service
        self._pass_time = pass_time
        self._export_dir = export_dir
        self._texts = texts
        self._clock = clock
        self._out = out
        self._show_keys = show_keys
        self._echo_lines = echo or couple is not None
        people = [_user(n) for n in couple] if couple else [_user(speaker)]
        self._people = {u.user_id: u for u in people}
        self._group = (
            ChatRef(Platform.CONSOLE, "group:" + "+".join(self._people), ChatKind.GROUP)
            if couple
            else None
        )
        first = next(iter(self._people.values()))
        self._place = _Place(first, self._group or _private(first))
        self._buttons: dict[_Place, tuple[Button, ...]] = {}

    def intro(self) -> None:
        """Print how to use the console."""
        key = "console.couple_intro" if self._group else "console.intro"
        names = " and ".join(u.display_name or u.user_id for u in self._people.values())
        self._print(self._texts.render(key, {"name": names}))

    async def line(self, raw: str) -> list[Reply]:
        """Handle one typed line and print the replies; returns them for callers that check."""
        text = self._switch(raw)
        if text is None:
            self._print(self._texts.render("console.who"))
            return []
        wait = parse_wait(text) if self._pass_time is not None else None
        if wait is not None and self._pass_time is not None:
            self._echo(text)
            self._print(
                self._texts.render(WAITED, {"minutes": str(int(wait.total_seconds() // 60))})
            )
            await self._pass_time(wait)
            return []
        event = self._event(text)
        self._echo(text)
        if event is None:
            self._print(self._texts.render("console.no_buttons"))
            return []
        replies = await self._service.handle(event)
        for reply in replies:
            self._show(reply)
        return replies

    async def run(self, lines: Iterable[str]) -> None:
        """Replay lines (a script), skipping blank lines and ``#`` comments."""
        for raw in lines:
            if raw.strip() and not raw.lstrip().startswith("#"):
                await self.line(raw.rstrip("\n"))

    async def interact(self, read: Callable[[], Awaitable[str | None]]) -> None:
        """Read lines with ``read`` until it returns None (end of input) or ``/quit``."""
        while (raw := await read()) is not None:
            if raw.strip() in ("/quit", "/exit"):
                return
            if raw.strip():
                await self.line(raw)

    def _switch(self, raw: str) -> str | None:
        """Apply an ``A:`` / ``A>`` prefix (couple mode only); return the remaining text."""
        if self._group is None:
            return raw
        match = _PREFIX.match(raw)
        if match is None or match.group(1).lower() not in self._people:
            return raw
        user = self._people[match.group(1).lower()]
        chat = self._group if match.group(2) == ":" else _private(user)
        self._place = _Place(user, chat)
        return match.group(3)

    def _event(self, text: str) -> IncomingEvent | None:
        place = self._place
        now = self._clock.now()
        stripped = text.strip()
        buttons = self._buttons.get(place, ())
        if buttons and stripped.isdigit() and len(stripped) <= 2:
            index = int(stripped) - 1
            if not 0 <= index < len(buttons):
                return None
            return IncomingEvent(
                kind=EventKind.BUTTON,
                chat=place.chat,
                user=place.user,
                at=now,
                payload=buttons[index].payload,
            )
        addressed = place.chat.is_private or stripped.lower().startswith("@mend")
        if stripped.lower().startswith("@mend"):
            text = stripped[5:].lstrip(" ,:")
        return event_from_text(place.chat, place.user, text, now, addressed_to_bot=addressed)

    @property
    def people(self) -> tuple[UserRef, ...]:
        """Everyone this console speaks as."""
        return tuple(self._people.values())

    def private_chat(self, user: UserRef) -> ChatRef:
        """The console's private chat with ``user``."""
        return _private(self._people.get(user.user_id, user))

    def deliver(self, chat: ChatRef, reply: Reply) -> None:
        """Show a message the scheduler sent to ``chat`` (a person's private chat or the group)."""
        if chat == self._group or not chat.is_private:
            for person in self._people.values():
                self._buttons[_Place(person, chat)] = reply.buttons
            self._print_reply("Mend", reply)
            return
        user_id = chat.chat_id.removeprefix("private:")
        target = self._people.get(user_id, UserRef(Platform.CONSOLE, user_id))
        self._buttons[_Place(target, chat)] = reply.buttons
        label = f"Mend → {target.display_name or target.user_id} (private)"
        self._print_reply(label if self._group is not None else "Mend", reply)

    def _echo(self, text: str) -> None:
        if not self._echo_lines:
            return
        user = self._place.user
        where = ":" if self._place.chat == self._group else ">"
        self._print(f"{user.display_name or user.user_id}{where} {text}")

    def _show(self, reply: Reply) -> None:
        place = self._place
        label = "Mend"
        if reply.private_to is not None:
            target = self._people.get(reply.private_to.user_id, reply.private_to)
            place = _Place(target, _private(target))
            label = f"Mend → {target.display_name} (private)"
        elif reply.chat is not None:
            place = _Place(place.user, reply.chat)
            label = f"Mend → {reply.chat.chat_id}"
        elif self._group is not None and place.chat != self._group:
            label = f"Mend → {place.user.display_name} (private)"
        if place.chat == self._group:
            for person in self._people.values():  # either partner may press a group button
                self._buttons[_Place(person, place.chat)] = reply.buttons
        else:
            self._buttons[place] = reply.buttons
        self._print_reply(label, reply)
        if reply.attachment is not None:
            self._save(reply.attachment)

    def _print_reply(self, label: str, reply: Reply) -> None:
        key = f"[{reply.key}] " if self._show_keys else ""
        self._print(f"{label}: {key}{reply.text}")
        for number, button in enumerate(reply.buttons, start=1):
            self._print(f"  [{number}] {button.label}")

    def _save(self, attachment: Attachment) -> None:
        """Write a file sent with a reply to the export folder and say where it went.

        The folder is created for the owner alone (0o700) and the file readable by the
        owner alone (0o600): it holds a person's own data. Nothing is ever overwritten.
        """
        try:
            path = _write_private(self._export_dir, attachment)
        except OSError as exc:
            log.warning("could not save a file sent with a reply: %s", type(exc).__name__)
            self._print(self._texts.render(keys.ERROR))
            return
        self._print(self._texts.render(FILE_SAVED, {"path": str(path)}))

    def _print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()


def _safe_name(filename: str) -> str:
    """The file name alone: no folders, no hidden or parent-folder names."""
    name = Path(filename.replace("\\", "/")).name.lstrip(".")
    return name or _FALLBACK_NAME


def _write_private(folder: Path, attachment: Attachment) -> Path:
    """Write ``attachment`` into ``folder`` (created 0o700) as a new 0o600 file.

    If the name is taken, ``-2``, ``-3``… is added before the suffix. The file is created
    exclusively and never through a symbolic link.

    Returns:
        The absolute path of the file written.
    """
    folder = folder.absolute()
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    name = Path(_safe_name(attachment.filename))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for attempt in range(1, 1000):
        candidate = name if attempt == 1 else Path(f"{name.stem}-{attempt}{name.suffix}")
        path = folder / candidate
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as file:
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), 0o600)  # exact, whatever the umask
            file.write(attachment.data)
        return path
    raise FileExistsError(folder / name)
