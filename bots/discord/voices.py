"""Saying things where an event happened: in a channel, or as an interaction's answer.

A message is answered in its channel. An interaction (a slash command or a press) must be
answered within three seconds, once; after that, further messages are follow-ups, and
only follow-ups and answers can be ephemeral (seen by the person who acted alone).

Channel and DM messages may wait their turn first (``pace``: the adapter passes its send
gate's ``reply()``). Interaction answers and follow-ups do not: Discord does not count
interaction endpoints against the bot's global rate limit, and they have a deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import aiohttp
import discord

from bots.discord import mapping, views
from content import CONTENT_DIR
from core.outbox import DeliveryRefused, DeliveryUnknown, PlatformUnavailable, RateLimited
from core.types import Attachment, Reply

log = logging.getLogger(__name__)

NONCE_LIMIT = 25
"""Discord's limit on a message nonce, in characters."""

Pace = Callable[[], contextlib.AbstractAsyncContextManager[object]]
"""Waits for a turn to send one message (``SendGate.reply``)."""


def _unpaced() -> contextlib.AbstractAsyncContextManager[object]:
    return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def refusals() -> AsyncIterator[None]:
    """Turn Discord's "no" into the core's errors.

    A refusal (DMs closed: 50007, missing access, gone) becomes ``DeliveryRefused``; a rate
    limit longer than the client's ``max_ratelimit_timeout`` (discord.py raises it instead
    of sleeping, before anything is sent) becomes ``RateLimited``.
    """
    try:
        yield
    except (discord.Forbidden, discord.NotFound) as exc:
        raise DeliveryRefused(f"{type(exc).__name__} {exc.code}") from exc
    except discord.RateLimited as exc:
        raise RateLimited(exc.retry_after) from exc


@contextlib.asynccontextmanager
async def _failures_as(
    error: type[PlatformUnavailable] | type[DeliveryUnknown],
) -> AsyncIterator[None]:
    """``refusals``, and every other failure of Discord's becomes ``error``.

    A server error (5xx, after discord.py's own retries), a dropped connection, a time-out.
    """
    try:
        async with refusals():
            yield
    except discord.DiscordServerError as exc:
        raise error(f"{type(exc).__name__} {exc.status}") from exc
    except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
        raise error(type(exc).__name__) from exc


def reaching() -> contextlib.AbstractAsyncContextManager[None]:
    """Around finding or opening a channel, before anything is sent.

    A failure there becomes ``PlatformUnavailable``: nothing went out, so trying later is
    safe.
    """
    return _failures_as(PlatformUnavailable)


def sending() -> contextlib.AbstractAsyncContextManager[None]:
    """Around message sends: ``refusals``, and failures that leave the outcome unknown.

    A server error, a dropped connection or a time-out may come after Discord created the
    message, so they become ``DeliveryUnknown``.
    """
    return _failures_as(DeliveryUnknown)


def part_nonces(nonce: str | None, count: int) -> list[str | None]:
    """A nonce for each of ``count`` messages that one delivery's reply becomes.

    The first message carries ``nonce`` itself; each later one a digest of it and its
    position, so a retried delivery repeats every nonce and Discord drops every message
    it already has. A nonce longer than Discord allows is replaced by its digest.
    """
    if nonce is None:
        return [None] * count
    first = nonce if len(nonce) <= NONCE_LIMIT else _digest(nonce)
    return [first, *(_digest(f"{nonce}/{index}") for index in range(1, count))]


def _digest(text: str) -> str:
    """24 hex characters standing for ``text``."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def message_parts(reply: Reply) -> list[dict[str, Any]]:
    """The messages one reply becomes.

    The image goes on the first, the attached file and the buttons on the last (the file
    after the text, as on Telegram). The caller closes the parts' files after sending.
    """
    pieces = mapping.render_text(reply.text)
    parts: list[dict[str, Any]] = [{"content": piece} for piece in pieces]
    if not parts and (reply.image is not None or reply.buttons or reply.attachment is not None):
        parts = [{}]
    if reply.image is not None:
        _add_file(parts[0], discord.File(CONTENT_DIR / reply.image))
    if reply.attachment is not None:
        _add_file(parts[-1], _attachment_file(reply.attachment))
    view = views.view_for(reply.buttons)
    if view is not None and parts:
        parts[-1]["view"] = view
    return parts


def _attachment_file(attachment: Attachment) -> discord.File:
    """The upload for a reply's attached file, under the name the core gave it."""
    return discord.File(io.BytesIO(attachment.data), filename=attachment.filename)


def _add_file(part: dict[str, Any], file: discord.File) -> None:
    """Put ``file`` on a message part (``file`` for one, ``files`` for several)."""
    if "file" in part:
        part["files"] = [part.pop("file"), file]
    elif "files" in part:
        part["files"].append(file)
    else:
        part["file"] = file


def _for_audience(reply: Reply, *, private: bool) -> Reply:
    """``reply`` as it may be shown there: outside private answers, without its file.

    An attached file is a person's own data and is only ever sent privately.
    """
    if reply.attachment is None or private:
        return reply
    log.warning("left out a file addressed to a shared channel (%s)", reply.key)
    return dataclasses.replace(reply, attachment=None)


async def post(
    channel: discord.abc.Messageable,
    reply: Reply,
    *,
    nonce: str | None = None,
    pace: Pace | None = None,
) -> None:
    """Send ``reply`` to a channel or DM.

    Args:
        channel: where to send.
        reply: what to send.
        nonce: identifies this delivery; with it Discord drops a repeated send (each
            message gets its own nonce, see ``part_nonces``, and ``enforce_nonce``).
        pace: waited on before each message; default: no waiting.

    Raises:
        DeliveryRefused: if Discord will not deliver there.
        RateLimited: if Discord asked for a long wait; this message was not sent.
        DeliveryUnknown: if it is unknown whether a message went out.
    """
    private = isinstance(channel, discord.DMChannel)
    parts = message_parts(_for_audience(reply, private=private))
    nonces = part_nonces(nonce, len(parts))
    turn = pace or _unpaced
    try:
        async with sending():
            for part, part_nonce in zip(parts, nonces, strict=True):
                fields = part if part_nonce is None else {**part, "nonce": part_nonce}
                async with turn():
                    await channel.send(**fields)
    finally:
        _close_files(parts)


def _close_files(parts: list[dict[str, Any]]) -> None:
    """discord.py does not always close the files it is given; they are ours to close."""
    for part in parts:
        files = [part.get("file"), *part.get("files", ())]
        for file in files:
            if isinstance(file, discord.File):
                file.close()


class Voice(Protocol):
    """How the adapter speaks in the chat where an event happened."""

    async def say(self, reply: Reply, *, ephemeral: bool = False) -> None:
        """Say ``reply`` there; ``ephemeral`` keeps it to the person who acted, if possible."""
        ...


class ChannelVoice:
    """Answers a plain message in its channel. Nothing is ephemeral without an interaction."""

    def __init__(
        self, channel: discord.abc.Messageable, *, private: bool, pace: Pace | None = None
    ) -> None:
        self._channel = channel
        self._private = private
        self._pace = pace

    async def say(self, reply: Reply, *, ephemeral: bool = False) -> None:
        """Post in the channel; a note meant for one person is never posted to a server."""
        if ephemeral and not self._private:
            log.debug("dropped a personal note that has no private way into a channel")
            return
        await post(self._channel, reply, pace=self._pace)


class InteractionVoice:
    """Answers an interaction: the first message is its response, the rest follow-ups."""

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self.interaction = interaction
        self.said = False
        self._thinking = False  # a deferred command shows "thinking…" until the first follow-up

    @property
    def is_press(self) -> bool:
        """True for a button press, False for a slash command."""
        return self.interaction.type is discord.InteractionType.component

    async def defer(self) -> None:
        """Acknowledge now because the core is taking a while; say things later."""
        response = self.interaction.response
        if response.is_done():
            return
        if self.is_press:
            await response.defer()
        else:
            await response.defer(thinking=True)
            self._thinking = True

    async def retire_buttons(self) -> None:
        """Remove the pressed message's buttons so an old choice cannot be made twice."""
        response = self.interaction.response
        try:
            if response.is_done():
                await self.interaction.edit_original_response(view=None)
            else:
                await response.edit_message(view=None)
        except discord.HTTPException as exc:
            log.debug("could not retire buttons: %s", type(exc).__name__)

    async def say(self, reply: Reply, *, ephemeral: bool = False) -> None:
        """Answer the interaction, or follow up if it is already answered."""
        private = ephemeral or self.interaction.guild_id is None
        parts = message_parts(_for_audience(reply, private=private))
        try:
            await self._send(parts, ephemeral=ephemeral)
        finally:
            _close_files(parts)
        self.said = True

    async def _send(self, parts: list[dict[str, Any]], *, ephemeral: bool) -> None:
        response = self.interaction.response
        async with refusals():
            for part in parts:
                if not response.is_done():
                    await response.send_message(**part, ephemeral=ephemeral)
                    continue
                if self._thinking and ephemeral:
                    # The first follow-up would take the public "thinking…" message's place.
                    await self.interaction.delete_original_response()
                self._thinking = False
                await self.interaction.followup.send(**part, ephemeral=ephemeral)

    async def finish(self, fallback: Reply | None) -> None:
        """Make sure the interaction is answered even when nothing was said here."""
        if self.said:
            return
        if fallback is not None:
            await self.say(fallback, ephemeral=True)
            return
        response = self.interaction.response
        if not response.is_done():
            if self.is_press:
                await response.defer()
                return
            await response.defer(thinking=True, ephemeral=True)
            self._thinking = True
        if self._thinking:
            await self.interaction.delete_original_response()
            self._thinking = False

    async def apologise(self, apology: Reply) -> None:
        """Best effort: tell only the person who acted that something went wrong."""
        try:
            await self.say(apology, ephemeral=True)
        except Exception as exc:  # the apology must never raise from the error path
            log.warning("could not apologise: %s", type(exc).__name__)
