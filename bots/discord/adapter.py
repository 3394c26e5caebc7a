"""The Discord adapter: owns the ``commands.Bot``, feeds the core, delivers its replies.

Answers to what a person just did post each channel or DM message after waiting their
turn at the shared :class:`~scheduler.pacing.SendGate` (ahead of every scheduled send).
:meth:`DiscordAdapter.send`, the core's ``Outbox``, is what the scheduler calls after it
has waited its own turn: it does not wait at the gate, and it carries the delivery's nonce
so a retried send cannot show a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

from bots.discord import mapping, voices
from bots.discord.bot import MendBot, ShardedMendBot
from bots.discord.views import PayloadButton
from bots.discord.voices import ChannelVoice, InteractionVoice, Voice
from bots.errors import describe_failure
from core import keys
from core.content import Content
from core.outbox import DeliveryRefused
from core.service import CoachService
from core.types import ChatRef, IncomingEvent, Platform, Reply, UserRef
from scheduler.pacing import SendGate

log = logging.getLogger(__name__)

ACK_BUDGET = 2.0
"""Seconds the core may take before an interaction is deferred (Discord allows three)."""

SlashCallback = Callable[[discord.Interaction[Any]], Coroutine[Any, Any, None]]
SlashOptionCallback = Callable[[discord.Interaction[Any], str | None], Coroutine[Any, Any, None]]


class DiscordAdapter:
    """Turns Discord messages and interactions into core events and replies into sends.

    It decides nothing: no texts of its own (every string comes from content), no flow
    steps, no SQL, no scheduling. It implements the core's ``Outbox`` for timed work.

    Attributes:
        bot: the discord.py bot it owns.
        gate: where answers wait their turn, shared with the scheduler (None: no pacing).
        platform: always ``Platform.DISCORD``.
    """

    platform = Platform.DISCORD

    def __init__(
        self,
        bot: MendBot | ShardedMendBot,
        service: CoachService,
        content: Content,
        *,
        read_plain_text: bool,
        dev_guild_id: int | None = None,
        ack_budget: float = ACK_BUDGET,
        gate: SendGate | None = None,
    ) -> None:
        self.bot = bot
        self.gate = gate
        self._service = service
        self._content = content
        # Plain server messages reach Mend only when asked for and granted by the intent.
        self._read_plain_text = read_plain_text and bool(bot.intents.message_content)
        self._dev_guild_id = dev_guild_id
        self._ack_budget = ack_budget
        bot.mend = self  # the bot's event methods and buttons find the adapter here

    # --- start-up ---------------------------------------------------------------------

    def install(self) -> None:
        """Put the slash commands on the tree and register the persistent buttons."""
        tree = self.bot.tree
        tree.clear_commands(guild=None)
        for spec in mapping.slash_commands(self._content):
            command: app_commands.Command[Any, ..., None] = app_commands.Command(
                name=spec.name,
                description=spec.description,
                callback=_slash(self) if spec.option is None else _slash_with_option(self),
                allowed_contexts=app_commands.AppCommandContext(
                    guild=spec.in_guilds, dm_channel=spec.in_dms, private_channel=False
                ),
                allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            )
            if spec.option is not None:
                app_commands.rename(value=spec.option)(command)
                app_commands.describe(value=spec.option_description or spec.option)(command)
            tree.add_command(command)
        self.bot.add_dynamic_items(PayloadButton)

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Publish the slash commands: to the dev server at once, or globally."""
        tree = self.bot.tree
        if self._dev_guild_id is None:
            return await tree.sync()
        guild = discord.Object(id=self._dev_guild_id)
        tree.copy_global_to(guild=guild)
        return await tree.sync(guild=guild)

    async def setup(self) -> None:
        """Called from the bot's ``setup_hook``: install, then sync (a failed sync is logged)."""
        self.install()
        try:
            synced = await self.sync_commands()
        except discord.HTTPException as exc:
            log.error(
                "could not publish slash commands (%s %s); invite the bot with the "
                "applications.commands scope",
                type(exc).__name__,
                exc.status,
            )
            return
        where = f"server {self._dev_guild_id}" if self._dev_guild_id else "all servers and DMs"
        log.info("published %d slash commands to %s", len(synced), where)

    # --- Outbox -----------------------------------------------------------------------

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Deliver a scheduled ``reply`` to ``chat``: image first if any, then text in pieces.

        The caller has already waited its turn at the gate, so this does not. With a
        ``nonce`` every message of the reply carries one derived from it (and
        ``enforce_nonce``), so sending the same delivery again within Discord's nonce window
        shows nothing twice, even when only some of its messages had gone out.

        Args:
            chat: where to send.
            reply: what to send.
            nonce: identifies this delivery (at most 25 characters are sent as they are).

        Raises:
            DeliveryRefused: if Discord will not deliver there (DMs closed, no access).
            RateLimited: if Discord asked for a wait longer than the client sleeps through.
            DeliveryUnknown: on a server error, dropped connection or time-out mid-send.
        """
        await voices.post(await self._channel(chat), reply, nonce=nonce)

    async def open_private(self, user: UserRef) -> ChatRef:
        """A person's DM, addressed by their id; the DM channel is opened on first send."""
        return mapping.private_chat(user)

    async def _post(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver an answer to ``chat``: each message waits its turn at the gate."""
        await voices.post(await self._channel(chat), reply, pace=self._pace)

    def _pace(self) -> contextlib.AbstractAsyncContextManager[object]:
        """One turn to answer someone at the gate (no wait without a gate)."""
        if self.gate is None:
            return contextlib.nullcontext()
        return self.gate.reply()

    async def _channel(self, chat: ChatRef) -> discord.abc.Messageable:
        bot = self.bot
        async with voices.reaching():
            if chat.is_private:
                user_id = int(chat.chat_id)
                user = bot.get_user(user_id) or await bot.fetch_user(user_id)
                return user.dm_channel or await user.create_dm()
            channel_id = mapping.channel_id(chat)
            channel = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryRefused("not a channel Mend can write in")
        return channel

    # --- events -----------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """Pass a message to the core (see ``mapping.event_from_message`` for which)."""
        me = self.bot.user
        if me is None:
            return
        events = mapping.event_from_message(message, me, read_plain_text=self._read_plain_text)
        for event in events:
            voice = ChannelVoice(message.channel, private=event.chat.is_private, pace=self._pace)
            try:
                replies = await self._service.handle(event)
                await self._deliver(event, replies, voice)
            except Exception as exc:
                self._log_failure("a Discord message", exc)
                try:
                    await voice.say(self._say(keys.ERROR))
                except Exception as apology_failed:  # the apology is best effort
                    log.warning("could not apologise: %s", type(apology_failed).__name__)

    async def on_command(
        self, interaction: discord.Interaction[Any], option: str | None = None
    ) -> None:
        """Run one of Mend's slash commands (``option``: its text option, if filled in)."""
        event = mapping.command_event(interaction, option, read_plain_text=self._read_plain_text)
        if event is not None:
            await self._answer(interaction, event)

    async def on_press(self, interaction: discord.Interaction[Any], payload: str) -> None:
        """Run one press of a Mend button, on any message Mend ever sent."""
        event = mapping.press_event(interaction, payload, read_plain_text=self._read_plain_text)
        await self._answer(interaction, event)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Introduce Mend once, in the server's system channel or first writable one."""
        me = self.bot.user
        channel = _welcome_channel(guild)
        if me is None or channel is None:
            return
        event = mapping.guild_joined_event(channel, me)
        try:
            await self._deliver(event, await self._service.handle(event), None)
        except Exception as exc:
            self._log_failure("joining a server", exc)

    # --- answering --------------------------------------------------------------------

    async def _answer(self, interaction: discord.Interaction[Any], event: IncomingEvent) -> None:
        voice = InteractionVoice(interaction)
        try:
            replies = await self._within_budget(event, voice)
            if voice.is_press:
                replies = await self._settle_press(event, replies, voice)
            dm_sent = await self._deliver(event, replies, voice)
            await voice.finish(self._say(keys.SENT_PRIVATELY) if dm_sent else None)
        except Exception as exc:
            self._log_failure("a Discord interaction", exc)
            await voice.apologise(self._say(keys.ERROR))

    async def _within_budget(self, event: IncomingEvent, voice: InteractionVoice) -> list[Reply]:
        """The core's replies; if they take longer than the budget, defer first."""
        task = asyncio.ensure_future(self._service.handle(event))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._ack_budget)
        except TimeoutError:
            await voice.defer()
            return await task

    async def _settle_press(
        self, event: IncomingEvent, replies: list[Reply], voice: InteractionVoice
    ) -> list[Reply]:
        """Retire the pressed buttons and show any toast to the presser alone."""
        toast = next((r for r in replies if r.toast), None)
        # In a server a toast means "not for you": the buttons stay for the right person.
        if toast is None or event.chat.is_private:
            await voice.retire_buttons()
        if toast is not None:
            await voice.say(toast, ephemeral=True)
        return [r for r in replies if r is not toast]

    async def _deliver(
        self, event: IncomingEvent, replies: list[Reply], voice: Voice | None
    ) -> bool:
        """Say each reply where it belongs; return True if any went to the actor's own DM."""
        dm_sent = refused_notice_sent = False
        for reply in replies:
            if reply.private_to is not None:
                target = mapping.private_chat(reply.private_to)
                if target == event.chat and voice is not None:
                    await voice.say(reply)
                    continue
                try:
                    await self._post(target, reply)
                    dm_sent = dm_sent or reply.private_to == event.user
                except DeliveryRefused:
                    if not event.chat.is_private and not refused_notice_sent:
                        refused_notice_sent = True
                        await self._say_in(event.chat, voice, self._say(keys.ALLOW_DMS))
                continue
            if reply.toast:
                if voice is not None:
                    await voice.say(reply, ephemeral=True)
                continue
            try:
                if reply.anonymous and not event.chat.is_private and reply.chat is None:
                    # A slash command's answer shows who used it: post on behalf of no one.
                    await self._post(event.chat, reply)
                elif reply.chat is not None and reply.chat != event.chat:
                    await self._post(reply.chat, reply)
                else:
                    await self._say_in(event.chat, voice, reply)
            except DeliveryRefused:
                log.info("delivery refused by Discord")
        return dm_sent

    async def _say_in(self, chat: ChatRef, voice: Voice | None, reply: Reply) -> None:
        if voice is not None:
            await voice.say(reply)
        else:
            await self._post(chat, reply)

    def _say(self, key: str) -> Reply:
        return Reply(text=self._content.texts.render(key), key=key)

    @staticmethod
    def _log_failure(what: str, error: BaseException) -> None:
        log.error("handling %s failed: %s", what, describe_failure(error))


def _slash(adapter: DiscordAdapter) -> SlashCallback:
    """One callback for every slash command; the command's name says which it is."""

    async def run(interaction: discord.Interaction[Any]) -> None:
        await adapter.on_command(interaction)

    return run


def _slash_with_option(adapter: DiscordAdapter) -> SlashOptionCallback:
    """The callback of a command with one optional text option (renamed when installed)."""

    async def run(interaction: discord.Interaction[Any], value: str | None = None) -> None:
        await adapter.on_command(interaction, value)

    return run


def _welcome_channel(guild: discord.Guild) -> discord.TextChannel | None:
    me = guild.me
    candidates = [guild.system_channel, *guild.text_channels]
    for channel in candidates:
        if channel is not None and channel.permissions_for(me).send_messages:
            return channel
    return None
