"""The Telegram adapter: owns the PTB ``Application``, feeds the core, delivers its replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InputFile,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base

from bots.errors import describe_failure
from bots.telegram import mapping
from content import CONTENT_DIR
from core import keys
from core.content import Content
from core.outbox import DeliveryRefused
from core.service import CoachService
from core.types import Attachment, ChatRef, EventKind, IncomingEvent, Reply, UserRef

log = logging.getLogger(__name__)

T = TypeVar("T")
TelegramApp = Application[Any, Any, Any, Any, Any, Any]

_UNREACHABLE = ("chat not found", "user not found", "bot was blocked", "have no rights to send")


def _input_file(attachment: Attachment) -> InputFile:
    """The upload for an attachment, with the core's file name and media type."""
    upload = InputFile(attachment.data, filename=attachment.filename)
    upload.mimetype = attachment.mime
    return upload


def _retryable(error: BaseException) -> bool:
    # A timed-out send may still have been delivered: retrying it could say things twice.
    # BadRequest subclasses NetworkError in PTB, but a 400 never succeeds on a retry.
    return isinstance(error, NetworkError) and not isinstance(error, (TimedOut, BadRequest))


class TelegramAdapter:
    """Turns Telegram updates into core events and core replies into Bot API calls.

    It decides nothing: no texts of its own (every string comes from content), no flow
    steps, no SQL, no scheduling. It implements the core's ``Outbox`` for timed work.
    """

    def __init__(
        self,
        application: TelegramApp,
        service: CoachService,
        content: Content,
        *,
        retry_wait: wait_base | None = None,
    ) -> None:
        self.application = application
        self._service = service
        self._content = content
        self._retry_wait = retry_wait or wait_exponential(multiplier=0.5, max=8)
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)

    @property
    def bot_username(self) -> str:
        """The bot's @username, known after ``initialize``."""
        return str(self.application.bot.username)

    async def register_commands(self) -> None:
        """Publish the command menus (private chats and groups) from content."""
        private, group = mapping.bot_commands(self._content)
        bot = self.application.bot
        await bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(group, scope=BotCommandScopeAllGroupChats())

    # --- Outbox -----------------------------------------------------------------------

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver ``reply`` to ``chat``: photo first if any, then text in pieces, then file.

        A file (a person's own data) is only ever sent to a private chat: one addressed to
        a group is left out and logged.

        Raises:
            DeliveryRefused: if Telegram will not deliver to that chat.
        """
        bot = self.application.bot
        thread = int(chat.thread_id) if chat.thread_id else None
        if reply.image is not None:
            image = CONTENT_DIR / reply.image
            await self._call(
                lambda: bot.send_photo(chat.chat_id, photo=Path(image), message_thread_id=thread)
            )
        pieces = mapping.render_text(reply.text)
        markup = mapping.keyboard(reply.buttons)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._call(
                lambda piece=piece, last=last: bot.send_message(  # type: ignore[misc]
                    chat.chat_id,
                    piece,
                    parse_mode="HTML",
                    reply_markup=markup if last else None,
                    message_thread_id=thread,
                )
            )
        if reply.attachment is not None:
            if not chat.is_private:
                log.warning("left out a file addressed to a group chat (%s)", reply.key)
                return
            document = _input_file(reply.attachment)
            await self._call(
                lambda: bot.send_document(chat.chat_id, document=document, message_thread_id=thread)
            )

    async def open_private(self, user: UserRef) -> ChatRef:
        """Telegram's private chat with a person has the person's id; nothing to open."""
        return mapping.private_chat(user)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run one Bot API call, retrying network failures with backoff.

        429s are retried by the ``AIORateLimiter`` honouring ``retry_after``; refusals
        become ``DeliveryRefused``.
        """
        try:
            try:
                return await request()  # the common case, without building a retry loop
            except NetworkError as exc:
                if not _retryable(exc):
                    raise
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(3),
                wait=self._retry_wait,
                reraise=True,
            ):
                with attempt:
                    return await request()
        except Forbidden as exc:
            raise DeliveryRefused(type(exc).__name__) from exc
        except BadRequest as exc:
            if any(reason in exc.message.lower() for reason in _UNREACHABLE):
                raise DeliveryRefused(type(exc).__name__) from exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always raises

    # --- updates ----------------------------------------------------------------------

    async def _on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        me = self.application.bot.bot  # cached by initialize(), no API call
        for event in mapping.event_from_update(update, me):
            replies = await self._service.handle(event)
            query = update.callback_query
            if query is not None and event.kind is EventKind.BUTTON:
                replies = await self._settle_press(query, event, replies)
            await self._deliver(event, replies)

    async def _settle_press(
        self, query: CallbackQuery, event: IncomingEvent, replies: list[Reply]
    ) -> list[Reply]:
        """Answer the press (with a toast if the core gave one) and retire its keyboard."""
        toast = next((r for r in replies if r.toast), None)
        await self._call(lambda: query.answer(text=toast.text if toast else None))
        message = query.message
        # In a group a toast means "not for you": the buttons stay for the right person.
        if isinstance(message, Message) and (toast is None or event.chat.is_private):
            try:
                await self._call(lambda: query.edit_message_reply_markup(reply_markup=None))
            except (BadRequest, DeliveryRefused):
                log.debug("keyboard already gone")
        return [r for r in replies if r is not toast]

    async def _deliver(self, event: IncomingEvent, replies: list[Reply]) -> None:
        refused_notice_sent = False
        for reply in replies:
            if reply.private_to is not None:
                try:
                    await self.send(await self.open_private(reply.private_to), reply)
                except DeliveryRefused:
                    if not event.chat.is_private and not refused_notice_sent:
                        refused_notice_sent = True
                        await self.send(event.chat, self._open_private_notice())
                continue
            try:
                await self.send(reply.chat or event.chat, reply)
            except DeliveryRefused:
                log.info("delivery refused by Telegram")

    def _open_private_notice(self) -> Reply:
        link = f"https://t.me/{self.bot_username}?start=hello"
        text = self._content.texts.render(keys.OPEN_PRIVATE, {"link": link})
        return Reply(text=text, key=keys.OPEN_PRIVATE)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("handling a Telegram update failed: %s", describe_failure(context.error))
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        chat = mapping.chat_ref(update.effective_chat, mapping.topic_of(update.effective_message))
        apology = Reply(text=self._content.texts.render(keys.ERROR), key=keys.ERROR)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text=apology.text)
            else:
                await self.send(chat, apology)
        except Exception as exc:  # the apology is best effort
            log.warning("could not apologise: %s", type(exc).__name__)
