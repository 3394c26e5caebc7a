"""The Telegram adapter: owns the PTB ``Application``, feeds the core, delivers its replies.

Two ways out, one per kind of send:

- Answers to what a person just did (``_deliver``, ``_settle_press``, the apology) wait
  their turn at the shared :class:`~scheduler.pacing.SendGate` (ahead of every scheduled
  send) and ride out a 429 themselves: they wait ``retry_after`` and try again, a few times.
- :meth:`TelegramAdapter.send`, the core's ``Outbox``, is called by the scheduler, which
  has already waited at the gate. A 429 comes back at once as ``RateLimited``, so the
  scheduler can put the item back and keep pacing everyone else.

PTB's ``AIORateLimiter`` still paces every request (30 a second, 20 a minute per group),
but it is built without retries (see ``bots.telegram.factory``): a retry inside it would
hide the 429 from the scheduler and pause every request while it sleeps.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from telegram import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InputFile,
    Message,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.wait import wait_base

from bots.errors import describe_failure
from bots.telegram import mapping
from content import CONTENT_DIR
from core import keys
from core.content import Content
from core.outbox import DeliveryRefused, DeliveryUnknown, PlatformUnavailable, RateLimited
from core.service import CoachService
from core.types import Attachment, ChatRef, EventKind, IncomingEvent, Platform, Reply, UserRef
from scheduler.pacing import SendGate

log = logging.getLogger(__name__)

T = TypeVar("T")
TelegramApp = Application[Any, Any, Any, Any, Any, Any]
Request = Callable[[], Awaitable[T]]

_UNREACHABLE = ("chat not found", "user not found", "bot was blocked", "have no rights to send")

ANSWER_RATE_LIMIT_RETRIES = 3
"""How many times an answer to a person is tried again after a 429."""
ANSWER_MAX_RETRY_AFTER = 30.0
"""Seconds: an answer waits out a 429 up to this long; a longer wait gives it up."""


def _input_file(attachment: Attachment) -> InputFile:
    """The upload for an attachment, with the core's file name and media type."""
    upload = InputFile(attachment.data, filename=attachment.filename)
    upload.mimetype = attachment.mime
    return upload


def _never_sent(error: TimedOut) -> bool:
    """True if the request timed out before reaching Telegram (connecting, or pooled)."""
    return isinstance(error.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)


def _never_left(error: NetworkError) -> bool:
    """True if the request failed before anything reached Telegram (no connection)."""
    return isinstance(
        error.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )


def _retryable(error: BaseException) -> bool:
    # A timed-out send may still have been delivered: retrying it could say things twice,
    # unless it never left (no connection could be made, or none was free in the pool).
    # BadRequest subclasses NetworkError in PTB, but a 400 never succeeds on a retry.
    if isinstance(error, TimedOut):
        return _never_sent(error)
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a 429 asked for, in seconds, whichever type PTB 22 gives it.

    ``RetryAfter.retry_after`` is an ``int`` (deprecated, with a warning) unless
    ``PTB_TIMEDELTA`` is set, then a ``timedelta``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _answer_retryable(error: BaseException) -> bool:
    return isinstance(error, RateLimited) and error.retry_after <= ANSWER_MAX_RETRY_AFTER


def _wait_retry_after(state: RetryCallState) -> float:
    """Tenacity wait: as long as the 429 asked for."""
    error = state.outcome.exception() if state.outcome is not None else None
    return error.retry_after if isinstance(error, RateLimited) else 0.0


def _log_rate_limited(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, RateLimited):
        log.info("Telegram asked to wait %.2f s before an answer; waiting", error.retry_after)


class TelegramAdapter:
    """Turns Telegram updates into core events and core replies into Bot API calls.

    It decides nothing: no texts of its own (every string comes from content), no flow
    steps, no SQL, no scheduling. It implements the core's ``Outbox`` for timed work.

    Attributes:
        application: the PTB ``Application`` it owns.
        gate: where answers wait their turn, shared with the scheduler (None: no pacing).
        platform: always ``Platform.TELEGRAM``.
    """

    platform = Platform.TELEGRAM

    def __init__(
        self,
        application: TelegramApp,
        service: CoachService,
        content: Content,
        *,
        gate: SendGate | None = None,
        retry_wait: wait_base | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Wire the adapter to its application.

        Args:
            application: the PTB ``Application`` (see ``bots.telegram.factory``).
            service: the core.
            content: texts and commands.
            gate: the platform's send gate; answers wait at ``gate.reply()``.
            retry_wait: backoff between retries of a failed network call.
            sleep: how to wait out a 429 on an answer (tests pass a fast one).
        """
        self.application = application
        self.gate = gate
        self._service = service
        self._content = content
        self._retry_wait = retry_wait or wait_exponential(multiplier=0.5, max=8)
        self._sleep = sleep
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

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Deliver a scheduled ``reply`` to ``chat`` (the core's ``Outbox``).

        The caller has already waited its turn at the gate, so this does not. A 429 on the
        first message comes back at once; once part of the reply is out, the rest rides out
        429s like an answer would, so nobody is left with half a message and no buttons.

        Args:
            chat: where to send.
            reply: what to send (photo first if any, then text in pieces, then a file).
            nonce: ignored: the Bot API has no way to drop a repeated send.

        Raises:
            DeliveryRefused: if Telegram will not deliver to that chat.
            RateLimited: if Telegram asked to wait before the first message; nothing was sent.
            DeliveryUnknown: if a send timed out or broke off after it may have reached
                Telegram, or the reply went out only in part.
            PlatformUnavailable: if Telegram could not be reached for the first message.
        """
        requests = self._requests(chat, reply)
        for index, request in enumerate(requests):
            if index == 0:
                await self._call(request)
                continue
            try:
                await self._persist(request, paced=False)
            except (RateLimited, PlatformUnavailable) as exc:  # the first part is out
                raise DeliveryUnknown("partly delivered") from exc

    async def open_private(self, user: UserRef) -> ChatRef:
        """Telegram's private chat with a person has the person's id; nothing to open."""
        return mapping.private_chat(user)

    # --- sending ----------------------------------------------------------------------

    async def _answer(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver an answer to ``chat``: each call waits at the gate and rides out 429s.

        Raises:
            DeliveryRefused: if Telegram will not deliver to that chat.
        """
        for request in self._requests(chat, reply):
            await self._persist(request, paced=True)

    def _requests(self, chat: ChatRef, reply: Reply) -> list[Request[object]]:
        """The Bot API calls that deliver ``reply``, in order, not yet made.

        A file (a person's own data) is only ever sent to a private chat: one addressed to
        a group is left out and logged.
        """
        bot = self.application.bot
        thread = int(chat.thread_id) if chat.thread_id else None
        requests: list[Request[object]] = []
        if reply.image is not None:
            image = CONTENT_DIR / reply.image
            requests.append(
                lambda: bot.send_photo(chat.chat_id, photo=Path(image), message_thread_id=thread)
            )
        pieces = mapping.render_text(reply.text)
        markup = mapping.keyboard(reply.buttons)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            requests.append(
                lambda piece=piece, last=last: bot.send_message(  # type: ignore[misc]
                    chat.chat_id,
                    piece,
                    parse_mode="HTML",
                    reply_markup=markup if last else None,
                    message_thread_id=thread,
                )
            )
        if reply.attachment is not None:
            if chat.is_private and reply.attachment.mime == "image/png":
                picture = _input_file(reply.attachment)  # a chart: shown inline
                requests.append(
                    lambda: bot.send_photo(chat.chat_id, photo=picture, message_thread_id=thread)
                )
            elif chat.is_private:
                document = _input_file(reply.attachment)
                requests.append(
                    lambda: bot.send_document(
                        chat.chat_id, document=document, message_thread_id=thread
                    )
                )
            else:
                log.warning("left out a file addressed to a group chat (%s)", reply.key)
        return requests

    async def _persist(self, request: Request[T], *, paced: bool) -> T:
        """Make one call for a person who is waiting, riding out a few short 429s.

        Args:
            request: the call.
            paced: wait at ``gate.reply()`` first (calls that count towards Telegram's
                message limits; answering a button press does not).

        Raises:
            RateLimited: after the last try, or when Telegram asks for a long wait.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(_answer_retryable),
            stop=stop_after_attempt(1 + ANSWER_RATE_LIMIT_RETRIES),
            wait=_wait_retry_after,
            before_sleep=_log_rate_limited,
            reraise=True,
        )
        if self._sleep is not None:
            retrying = retrying.copy(sleep=self._sleep)
        async for attempt in retrying:
            with attempt:
                if paced and self.gate is not None:
                    async with self.gate.reply():
                        return await self._call(request)
                return await self._call(request)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always raises

    async def _call(self, request: Request[T]) -> T:
        """Run one Bot API call, retrying network failures with backoff.

        A send that timed out is not retried (it may have been delivered); one that never
        reached Telegram is.

        Raises:
            RateLimited: Telegram answered 429; nothing was sent.
            DeliveryUnknown: the call timed out after it may have reached Telegram.
            DeliveryRefused: Telegram will not deliver to that chat.
            PlatformUnavailable: Telegram could not be reached, retries included.
            DeliveryUnknown: the connection broke off, or Telegram failed (5xx), after
                the call may have reached it, retries included.
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
        except RetryAfter as exc:
            raise RateLimited(retry_after_seconds(exc)) from exc
        except TimedOut as exc:
            if _never_sent(exc):
                raise PlatformUnavailable(type(exc).__name__) from exc
            raise DeliveryUnknown(type(exc).__name__) from exc
        except Forbidden as exc:
            raise DeliveryRefused(type(exc).__name__) from exc
        except BadRequest as exc:
            if any(reason in exc.message.lower() for reason in _UNREACHABLE):
                raise DeliveryRefused(type(exc).__name__) from exc
            raise
        except NetworkError as exc:
            if _never_left(exc):  # no connection, retries included: nothing went out
                raise PlatformUnavailable(type(exc).__name__) from exc
            if _retryable(exc):  # it broke off (or a 5xx) after it may have reached Telegram
                raise DeliveryUnknown(type(exc).__name__) from exc
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
        # Answering a press is no chat message: it does not wait at the gate.
        await self._persist(lambda: query.answer(text=toast.text if toast else None), paced=False)
        message = query.message
        # In a group a toast means "not for you": the buttons stay for the right person.
        if isinstance(message, Message) and (toast is None or event.chat.is_private):
            try:
                await self._persist(
                    lambda: query.edit_message_reply_markup(reply_markup=None), paced=True
                )
            except (BadRequest, DeliveryRefused):
                log.debug("keyboard already gone")
        return [r for r in replies if r is not toast]

    async def _deliver(self, event: IncomingEvent, replies: list[Reply]) -> None:
        """Say each answer where it belongs; a refused private one leaves a group a pointer."""
        refused_notice_sent = False
        for reply in replies:
            if reply.private_to is not None:
                try:
                    await self._answer(await self.open_private(reply.private_to), reply)
                except DeliveryRefused:
                    if not event.chat.is_private and not refused_notice_sent:
                        refused_notice_sent = True
                        await self._answer(event.chat, self._open_private_notice())
                continue
            try:
                await self._answer(reply.chat or event.chat, reply)
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
            query = update.callback_query
            if query is not None:
                await self._persist(lambda: query.answer(text=apology.text), paced=False)
            else:
                await self._answer(chat, apology)
        except Exception as exc:  # the apology is best effort
            log.warning("could not apologise: %s", type(exc).__name__)
