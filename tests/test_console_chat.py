"""The console adapter in process, on a scripted stand-in for ``CoachService``."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from bots.console.chat import FILE_SAVED, ConsoleChat
from core import keys
from core.content import Content
from core.service import CoachService
from core.types import Attachment, IncomingEvent, Reply
from tests.fakes import FakeClock

EXPORT = Attachment("mend-export.json", b'{"name": "R\xc3\xb6bin", "bytes": "\x00\xff"}')


class Scripted:
    """A stand-in for ``CoachService``: records every event and answers with ``answer``."""

    def __init__(self, answer: Callable[[IncomingEvent], list[Reply]]) -> None:
        self.events: list[IncomingEvent] = []
        self._answer = answer

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        self.events.append(event)
        return self._answer(event)


def with_file(attachment: Attachment = EXPORT) -> Callable[[IncomingEvent], list[Reply]]:
    def answer(event: IncomingEvent) -> list[Reply]:
        return [
            Reply(
                text="here it is", key="test.export", private_to=event.user, attachment=attachment
            )
        ]

    return answer


def console(
    content: Content,
    clock: FakeClock,
    answer: Callable[[IncomingEvent], list[Reply]],
    export_dir: Path | None = None,
) -> tuple[ConsoleChat, io.StringIO]:
    out = io.StringIO()
    service = cast(CoachService, Scripted(answer))
    folder = {} if export_dir is None else {"export_dir": export_dir}
    return ConsoleChat(service, content.texts, clock, out, speaker="Robin", **folder), out


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_a_file_is_saved_for_the_owner_alone_and_its_place_is_said(
    content: Content, clock: FakeClock, tmp_path: Path
) -> None:
    folder = tmp_path / "nested" / "exports"
    chat, out = console(content, clock, with_file(), export_dir=folder)
    await chat.line("/export")
    saved = folder / "mend-export.json"
    assert saved.read_bytes() == EXPORT.data
    assert mode(saved) == 0o600
    assert mode(folder) == 0o700
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("here it is")
    assert lines[1:] == [content.texts.render(FILE_SAVED, {"path": str(saved)})]


async def test_a_second_file_never_overwrites_the_first(
    content: Content, clock: FakeClock, tmp_path: Path
) -> None:
    chat, out = console(content, clock, with_file(), export_dir=tmp_path)
    await chat.line("/export")
    await chat.line("/export")
    assert names(tmp_path) == ["mend-export-2.json", "mend-export.json"]
    assert {mode(tmp_path / name) for name in names(tmp_path)} == {0o600}
    assert str(tmp_path / "mend-export-2.json") in out.getvalue()


async def test_the_default_folder_is_exports_in_the_working_directory(
    content: Content, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    chat, _ = console(content, clock, with_file())
    await chat.line("/export")
    assert (tmp_path / "exports" / "mend-export.json").read_bytes() == EXPORT.data
    assert mode(tmp_path / "exports") == 0o700


@pytest.mark.parametrize(
    ("filename", "saved_as"),
    [("../../escape.json", "escape.json"), ("/etc/passwd", "passwd"), ("..", "mend-file")],
)
async def test_a_file_name_cannot_leave_the_folder(
    content: Content, clock: FakeClock, tmp_path: Path, filename: str, saved_as: str
) -> None:
    folder = tmp_path / "exports"
    chat, _ = console(content, clock, with_file(Attachment(filename, b"x")), export_dir=folder)
    await chat.line("/export")
    assert names(folder) == [saved_as]
    assert names(tmp_path) == ["exports"]


async def test_a_file_that_cannot_be_saved_gets_the_apology(
    content: Content, clock: FakeClock, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    chat, out = console(content, clock, with_file(), export_dir=blocked)
    await chat.line("/export")
    assert out.getvalue().splitlines()[-1] == content.texts.render(keys.ERROR)


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="needs O_NOFOLLOW")
async def test_a_planted_link_is_not_followed(
    content: Content, clock: FakeClock, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.json"
    target.write_bytes(b"untouched")
    (folder / "mend-export.json").symlink_to(target)
    chat, _ = console(content, clock, with_file(), export_dir=folder)
    await chat.line("/export")
    assert target.read_bytes() == b"untouched"
    assert (folder / "mend-export-2.json").read_bytes() == EXPORT.data
