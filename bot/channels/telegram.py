"""Telegram: the webhook (or, for development, long polling) in; the Bot API out.

An update is checked (secret header), parsed with python-telegram-bot, mapped to an
:class:`InboundMessage` (dedupe key ``telegram:<update_id>``), stored by the pipeline and
acknowledged; files are downloaded and Rasa is asked afterwards, in the pipeline's worker.
The adapter holds a PTB :class:`telegram.Bot` as a component, pointed at
``TELEGRAM_API_BASE_URL`` so tests talk to the fake in :mod:`bot.fakes.telegram`.

A worker's contact is their Telegram user id; the bot only talks in private chats, whose
chat id is the user id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hmac
import json
import logging
import math
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import (
    BadRequest as TelegramBadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.cases.models import Contact
from bot.channels.base import (
    Attachment, BadRequest, ChannelError, CountInbound, InboundMessage, Intake, Reply, Target, Throttle,
    kind_of_file,
)
from bot.channels.base import as_worker_text, storable
from bot.db import session_scope, utcnow
from bot.settings import TelegramSettings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_TEXT = 4096  # UTF-16 code units, as Telegram counts
MAX_DOWNLOAD = 20 * 1024 * 1024  # bots cannot download bigger files
MAX_CALLBACKS = 50  # button ids remembered per contact, newest kept
MAX_TRIES = 3  # per message, when Telegram answers 429
MAX_RETRY_WAIT = 30.0  # a longer flood wait is left to the pipeline's retry
GREET = "/greet"  # what /start (a first contact or a deep link) means to Rasa
CHOOSE = "请选择："
UNSUPPORTED = Reply(text="抱歉，这类消息我还看不懂。请用文字告诉我您的情况；"
                         "图片、语音、视频和文件可以直接发给我作为证据。")
TOO_BIG = Reply(text="这个文件超过 20 MB，Telegram 机器人收不到。请压缩后再发，或分成几份发送。")
EXPIRED_BUTTON = "这个按钮已失效，请直接发消息告诉我。"


# --- inbound: update → InboundMessage ------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """What an update asks of us: a message to store, a press to resolve, or a direct answer."""

    chat_id: int
    message: InboundMessage | None = None
    press: CallbackQuery | None = None
    answer: Reply | None = None  # said at once, nothing stored (unsupported or too big)
    pressed: tuple[str, str | None, str, str | None] | None = None  # what ``_press`` read of ``press``


INT64 = 2**63  # Telegram's ids fit in 64 bits (52 in practice); a bigger one is no Telegram id


def _sender(user: Any) -> tuple[str, str | None]:
    if not isinstance(user.id, int) or not -INT64 <= user.id < INT64:
        raise ValueError("the user id is not a 64-bit integer")
    name = storable(" ".join(p for p in (user.first_name, user.last_name) if p)) or None
    return str(user.id), name[:128] if name else None


def _files(message: Message) -> list[dict[str, Any]]:
    """The file a message carries (Telegram sends at most one), as ``meta["files"]`` entries."""
    if message.photo:
        if not all(isinstance(p.width, int) and isinstance(p.height, int) for p in message.photo):
            raise TypeError("a photo size without a width and height")  # "x" * 10**9 is no area
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found: tuple[Any, str, str | None, str | None] = (largest, "photo", None, "image/jpeg")
    elif message.document:
        doc = message.document
        found = (doc, kind_of_file(doc.mime_type), doc.file_name, doc.mime_type)
    elif message.voice:
        found = (message.voice, "audio", None, message.voice.mime_type or "audio/ogg")
    elif message.audio:
        found = (message.audio, "audio", message.audio.file_name, message.audio.mime_type or "audio/mpeg")
    elif message.video:
        found = (message.video, "video", message.video.file_name, message.video.mime_type or "video/mp4")
    elif message.video_note:
        found = (message.video_note, "video", None, "video/mp4")
    else:
        return []
    media, kind, name, mime = found
    return [{"file_id": media.file_id, "kind": kind, "name": name, "mime": mime,
             "size": media.file_size}]


def _command(text: str) -> dict[str, Any]:
    """``/start [payload]`` greets; any other command is read as words (Rasa would otherwise
    take ``/anything`` for an intent)."""
    head, _, rest = text.partition(" ")
    name = head.split("@", 1)[0].lower()
    if name == "/start":
        return {"text": "/start", "payload": GREET, "kind": "command",
                "meta": {"start_payload": rest.strip()} if rest.strip() else {}}
    return {"text": as_worker_text(text.lstrip("/").strip() or text)}


def parse_message(update_id: int, message: Message) -> Received | None:
    """A worker's message in a private chat; ``None`` for anything we do not take."""
    if message.chat.type != "private" or message.from_user is None or message.from_user.is_bot:
        return None
    external_id, name = _sender(message.from_user)
    base = {"channel": CHANNEL, "external_id": external_id, "dedupe_key": f"{CHANNEL}:{update_id}",
            "display_name": name}
    files = _files(message)
    if files and (files[0]["size"] or 0) > MAX_DOWNLOAD:
        return Received(chat_id=message.chat.id, answer=TOO_BIG)
    if files:
        caption = as_worker_text(storable(message.caption or "").strip()) or None
        inbound = InboundMessage(**base, text=caption, kind=files[0]["kind"], meta={"files": files})
    elif message.text and storable(message.text).strip():
        text = storable(message.text).strip()
        fields = _command(text) if text.startswith("/") else {"text": text}
        inbound = InboundMessage(**base, **fields)
    else:  # stickers, locations, contacts, polls …
        return Received(chat_id=message.chat.id, answer=UNSUPPORTED)
    return Received(chat_id=message.chat.id, message=inbound)


def parse_update(update: Update) -> Received | None:
    """What to do with an update; ``None``: nothing (edited messages, group chats, member
    changes …)."""
    if update.message is not None:
        return parse_message(update.update_id, update.message)
    query = update.callback_query
    if query is not None and query.data and query.from_user and not query.from_user.is_bot:
        return Received(chat_id=query.from_user.id, press=query, pressed=_press(query))
    return None


def _press(query: CallbackQuery) -> tuple[str, str | None, str, str | None]:
    """(sender, name, callback data, button title) of a button press."""
    external_id, name = _sender(query.from_user)
    title = button_title(query)
    return external_id, name, str(query.data), storable(title) if isinstance(title, str) else None


def button_title(query: CallbackQuery) -> str | None:
    """The title of the pressed button, from the keyboard of the message it was on."""
    message = query.message
    markup = getattr(message, "reply_markup", None) if isinstance(message, Message) else None
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


# --- outbound helpers ------------------------------------------------------------------------

def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units, cut at a line break where there is one."""
    pieces: list[str] = []
    while _utf16_len(text) > limit:
        cut, units = 0, 0
        for n, char in enumerate(text):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > limit:
                cut = n
                break
        newline = text.rfind("\n", 0, cut)
        cut = newline + 1 if newline > cut // 2 else cut
        if piece := text[:cut].rstrip("\n"):
            pieces.append(piece)
        text = text[cut:]
    if text.strip():
        pieces.append(text)
    return pieces


def keyboard(reply: Reply, ids: dict[str, str]) -> InlineKeyboardMarkup | None:
    """One button a row: Chinese titles are long, and a column reads well on a phone."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title or b.payload, callback_data=ids[b.payload])] for b in reply.buttons])


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class SendPacer:
    """Telegram's flood limits, kept on our side: a chat's next message starts ``per_chat``
    seconds after its previous one ended, and all chats together send at most ``overall``
    messages a second. (PTB's AIORateLimiter paces groups and the total, not private chats.)"""

    def __init__(self, *, per_chat: float = 1.0, overall: int = 30) -> None:
        self._per_chat = per_chat
        self._gap = 1.0 / overall
        self._next_any = 0.0
        self._last: dict[int, float] = {}
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        loop = asyncio.get_running_loop()
        async with lock:
            await asyncio.sleep(max(0.0, self._last.get(chat_id, -1e9) + self._per_chat - loop.time()))
            now = loop.time()
            at = max(now, self._next_any)
            self._next_any = at + self._gap
            await asyncio.sleep(at - now)
            try:
                yield
            finally:
                self._last[chat_id] = loop.time()
                if len(self._last) > 4096:  # forget chats whose pause is over
                    horizon = loop.time() - self._per_chat
                    self._last = {c: t for c, t in self._last.items() if t > horizon}


T = TypeVar("T")


# --- the adapter -----------------------------------------------------------------------------

class TelegramChannel:
    """The Telegram adapter: receives updates, sends turns and status updates, fetches files.

    Call :meth:`start` before use and :meth:`close` at shutdown (:func:`channel_ctx` does).
    ``request`` replaces PTB's HTTPX transport (tests need not: they use the fake server).
    """

    name = CHANNEL

    def __init__(self, settings: TelegramSettings, *, sessionmaker: async_sessionmaker[AsyncSession],
                 request: BaseRequest | None = None, pacer: SendPacer | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.pacer = pacer or SendPacer()
        self._request = request or HTTPXRequest(connection_pool_size=64, read_timeout=15.0, pool_timeout=10.0)
        self._poll_request = HTTPXRequest(connection_pool_size=1, read_timeout=10.0)
        base = settings.api_base_url
        self.bot = Bot(settings.bot_token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                       request=self._request, get_updates_request=self._poll_request)
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        # Not Bot.initialize(): it calls getMe, and the gateway must start while Telegram is away.
        await self._request.initialize()
        await self._poll_request.initialize()

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        await self._request.shutdown()
        await self._poll_request.shutdown()

    def check_secret(self, header: str | None) -> bool:
        return header is not None and hmac.compare_digest(header.encode(), self.settings.secret_token.encode())

    def parse_json(self, body: Any) -> Update:
        """An ``Update`` from a webhook body. Raises BadRequest naming what is wrong."""
        if not isinstance(body, dict) or not isinstance(body.get("update_id"), int) or not (
                -INT64 <= body["update_id"] < INT64):
            raise BadRequest("body must be a Telegram Update: a JSON object with an integer update_id")
        try:
            return Update.de_json(body, self.bot)
        # OverflowError, OSError: a date or duration no datetime holds; RecursionError: replies nested too deep
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError, RecursionError) as exc:
            raise BadRequest(f"not a Telegram Update: {type(exc).__name__}: {exc}") from exc

    # --- receiving -------------------------------------------------------------------------

    async def receive(self, update: Update, pipeline: Intake, *, limit: Throttle | None = None) -> str:
        """Store ``update`` through the pipeline and schedule its answer; returns the outcome
        (``accepted``, ``duplicate``, ``ignored``, ``answered``, ``expired_button``)."""
        try:  # PTB builds an Update without checking types: a field of the wrong type fails here
            member = update.my_chat_member
            if member is not None and member.chat.type == "private" and member.from_user is not None:
                blocked = (_sender(member.from_user)[0], member.new_chat_member.status != "kicked")
                received = None
            else:
                blocked, received = None, parse_update(update)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise BadRequest(f"not a Telegram Update: {type(exc).__name__}: {exc}") from exc
        if blocked is not None:
            # The worker blocked (kicked) or unblocked the bot: stop or resume sending to them.
            await self._set_reachable(*blocked)
            return "ignored"
        if received is None:
            return "ignored"
        if received.answer is not None:
            self._spawn(self._send_replies(received.chat_id, None, [received.answer]))
            return "answered"
        message = received.message
        if received.press is not None:
            assert received.pressed is not None
            message = await self._resolve_press(update.update_id, received.pressed)
            if message is None:
                self._spawn(self._answer_press(received.press.id, EXPIRED_BUTTON))
                return "expired_button"
        assert message is not None
        accepted = await pipeline.accept(message)
        if accepted.duplicate:
            return "duplicate"
        if received.press is not None:
            self._spawn(self._answer_press(received.press.id, None))
        if message.kind == "command":
            await self._remember_chat(accepted.contact_id, received.chat_id)
        if limit is not None and limit.check(message.external_id) is not None:
            # stored, answered later in order by the retry round; told to slow down once
            if words := limit.notice_once(message.external_id):
                self._spawn(self._send_replies(received.chat_id, None, [Reply(text=words)]))
            return "throttled"
        pipeline.schedule(accepted)
        return "accepted"

    async def _resolve_press(self, update_id: int, pressed: tuple[str, str | None, str, str | None]
                             ) -> InboundMessage | None:
        """The Rasa payload behind a short callback id, or ``None`` when we no longer know it."""
        external_id, name, data, title = pressed
        async with session_scope(self.sessionmaker) as session:
            contact = (await session.execute(select(Contact).where(
                Contact.channel == CHANNEL, Contact.external_id == external_id))).scalar_one_or_none()
            callbacks = dict((contact.channel_state or {}).get("callbacks") or []) if contact else {}
        payload = callbacks.get(data)
        if payload is None:
            logger.info("telegram: unknown button %r from contact %s", data[:64], external_id)
            return None
        return InboundMessage(channel=CHANNEL, external_id=external_id, dedupe_key=f"{CHANNEL}:{update_id}",
                              display_name=name, text=title, payload=payload, kind="button")

    async def _set_reachable(self, external_id: str, reachable: bool) -> None:
        async with session_scope(self.sessionmaker) as session:
            contact = (await session.execute(select(Contact).where(
                Contact.channel == CHANNEL, Contact.external_id == external_id))).scalar_one_or_none()
            if contact is not None:
                contact.unreachable_at = None if reachable else (contact.unreachable_at or utcnow())

    async def _remember_chat(self, contact_id: int, chat_id: int) -> None:
        async with session_scope(self.sessionmaker) as session:
            contact = await session.get_one(Contact, contact_id)
            contact.channel_state = {**(contact.channel_state or {}), "chat_id": chat_id}

    async def _answer_press(self, query_id: str, text: str | None) -> None:
        """Stop the button's spinner (Telegram requires an answer to every press)."""
        try:
            await self.bot.answer_callback_query(query_id, text=text)
        except TelegramError as exc:  # too old or answered already: nothing more to do
            logger.info("telegram: callback query %s not answered: %s", query_id, exc)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("telegram: background send failed", exc_info=exc)

    # --- sending (the Channel protocol) -----------------------------------------------------

    async def send(self, target: Target, replies: Sequence[Reply]) -> None:
        """One Telegram message per reply (longer texts split), buttons as an inline keyboard.

        Raises:
            ChannelError: ``unreachable`` when the worker blocked the bot; ``retryable`` for
                network trouble and flood waits that outlast our retries.
        """
        await self._send_replies(int(target.external_id), target.contact_id, replies)

    async def notify(self, target: Target, text: str, *, key: str) -> None:
        """A status update: a plain message (Telegram has no window after /start)."""
        await self._send_replies(int(target.external_id), target.contact_id, [Reply(text=text)])

    async def _send_replies(self, chat_id: int, contact_id: int | None, replies: Sequence[Reply]) -> None:
        payloads = [b.payload for r in replies for b in r.buttons]
        ids = await self._callback_ids(contact_id, payloads) if payloads and contact_id else {}
        for reply in replies:
            markup = keyboard(reply, ids)
            chunks = split_text(reply.text or "")
            if reply.image:
                await self._send_image(chat_id, reply.image, None if chunks else markup)
            elif not chunks and markup is not None:
                chunks = [CHOOSE]
            for n, chunk in enumerate(chunks):
                last = n == len(chunks) - 1
                await self._call(chat_id, functools.partial(
                    self.bot.send_message, chat_id, chunk, reply_markup=markup if last else None))

    async def _send_image(self, chat_id: int, url: str, markup: InlineKeyboardMarkup | None) -> None:
        try:
            await self._call(chat_id, functools.partial(self.bot.send_photo, chat_id, url, reply_markup=markup))
        except ChannelError as exc:
            if exc.retryable or exc.unreachable:
                raise
            # Telegram could not fetch the picture: the worker still gets it, as a link.
            logger.warning("telegram: image %s refused (%s), sent as a link", url, exc)
            await self._call(chat_id, functools.partial(self.bot.send_message, chat_id, url, reply_markup=markup))

    async def _call(self, chat_id: int, method: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call, paced; a 429 is waited out (at most ``MAX_TRIES`` tries)."""
        for attempt in range(1, MAX_TRIES + 1):
            async with self.pacer.slot(chat_id):
                try:
                    return await method()
                except RetryAfter as exc:
                    wait = _seconds(exc)
                except Forbidden as exc:
                    raise ChannelError(f"telegram chat {chat_id}: {exc}", retryable=False, unreachable=True) from exc
                except (TelegramBadRequest, ChatMigrated, InvalidToken, Conflict) as exc:
                    raise ChannelError(f"telegram chat {chat_id}: {exc}", retryable=False) from exc
                except TelegramError as exc:  # NetworkError, TimedOut, a 5xx
                    raise ChannelError(f"telegram chat {chat_id}: {exc}", retryable=True) from exc
            if attempt == MAX_TRIES or wait > MAX_RETRY_WAIT:
                break
            logger.info("telegram chat %s: flood limit, retrying in %.0f s", chat_id, wait)
            await asyncio.sleep(wait)
        raise ChannelError(f"telegram chat {chat_id}: flood limit (retry after {wait:.0f} s)", retryable=True)

    async def _callback_ids(self, contact_id: int, payloads: Sequence[str]) -> dict[str, str]:
        """Short ``callback_data`` for Rasa payloads (Telegram allows 64 bytes): ``b:<n>``,
        remembered per contact, newest ``MAX_CALLBACKS`` kept; a payload keeps its id."""
        async with session_scope(self.sessionmaker) as session:
            contact = (await session.execute(
                select(Contact).where(Contact.id == contact_id).with_for_update())).scalar_one()
            state = dict(contact.channel_state or {})
            # A list of pairs, oldest first: a JSON object's key order is not kept by every store.
            known = {payload: key for key, payload in state.get("callbacks") or []}
            counter = int(state.get("next_callback") or 1)
            for payload in dict.fromkeys(payloads):
                if payload not in known:
                    known[payload], counter = f"b:{counter}", counter + 1
                else:
                    known[payload] = known.pop(payload)  # newest again
            pairs = [[key, payload] for payload, key in known.items()][-MAX_CALLBACKS:]
            contact.channel_state = {**state, "callbacks": pairs, "next_callback": counter}
        return {payload: known[payload] for payload in payloads}

    # --- files --------------------------------------------------------------------------------

    async def fetch_attachments(self, meta: dict[str, Any]) -> list[Attachment]:
        """Download the files of ``meta["files"]`` (getFile, then the file URL).

        Raises:
            ChannelError: a file Telegram will not give us (too big, unknown id:
                ``retryable=False``) or network trouble (``retryable=True``).
        """
        attachments: list[Attachment] = []
        for entry in meta.get("files") or []:
            try:
                file = await self.bot.get_file(entry["file_id"])
                if (file.file_size or 0) > MAX_DOWNLOAD:
                    raise ChannelError(f"{entry['kind']} is larger than 20 MB", retryable=False)
                data = bytes(await file.download_as_bytearray(read_timeout=120.0))
            except TelegramBadRequest as exc:
                raise ChannelError(f"telegram {entry['kind']} not downloadable: {exc}", retryable=False) from exc
            except TelegramError as exc:
                raise ChannelError(f"telegram download failed: {exc}", retryable=True) from exc
            name = entry.get("name") or PurePosixPath(file.file_path or "").name or None
            attachments.append(Attachment(kind=entry["kind"], data=data, filename=name, mime_type=entry.get("mime")))
        return attachments


# --- HTTP ------------------------------------------------------------------------------------

def _finite(text: str) -> float:
    if not math.isfinite(value := float(text)):  # 1e999
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: no Telegram Update, and no JSON column takes them


_loads = functools.partial(json.loads, parse_float=_finite, parse_constant=_no_constant)


async def post_webhook(request: web.Request, *, channel: TelegramChannel, intake: Intake,
                       count: CountInbound, limit: Throttle | None = None) -> web.Response:
    """``POST /telegram/webhook``: check the secret, parse, store, acknowledge."""
    if not channel.check_secret(request.headers.get(SECRET_HEADER)):
        return web.json_response({"error": "forbidden", "message": "wrong or missing secret token"}, status=403)
    try:
        body = await request.json(loads=_loads)
    except (ValueError, LookupError, RecursionError) as exc:  # not JSON, an unknown charset, nested too deep
        raise BadRequest("body is not valid JSON") from exc
    outcome = await channel.receive(channel.parse_json(body), intake, limit=limit)
    count(CHANNEL, outcome)
    return web.json_response({"ok": True})


async def poll_updates(channel: TelegramChannel, pipeline: Intake, *, timeout: int = 30) -> None:
    """Development mode: delete the webhook, then long-poll getUpdates and take each update
    the way the webhook does, until cancelled. An update is confirmed (the offset moves past
    it) only once stored; on failure the batch is fetched again, and dedupe drops repeats."""
    await channel.bot.delete_webhook()
    offset, pause = 0, 1.0
    while True:
        try:
            updates = await channel.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
            for update in updates:
                outcome = await channel.receive(update, pipeline)
                logger.info("telegram update %s: %s", update.update_id, outcome)
                offset = update.update_id + 1
            pause = 1.0
        except asyncio.CancelledError:
            raise
        except Exception:  # bulkhead: the poller outlives a bad batch, a flaky network, the database
            logger.exception("telegram polling: batch failed, again in %.0f s", pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)
