"""State of the fake Telegram Bot API, and builders of the Updates Telegram sends.

:class:`FakeTelegram` holds what api.telegram.org would know about one bot: its chats (started,
blocked), the messages it sent, files, callback queries, pending updates, its webhook, flood
windows and injected failures. :class:`UpdateBuilder` makes the ``Update`` JSON of a worker's
actions. The wire (routes, parameter decoding, the Bot API methods) is in
:mod:`bot.fakes.telegram`, which re-exports everything public here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any

import aiohttp

JSON = dict[str, Any]
Clock = Callable[[], float]

SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_PHOTO_SIZES = ((90, 68), (320, 240), (1280, 960))
TERMINATED = ("Conflict: terminated by other getUpdates request; "
              "make sure that only one bot instance is running")
WEBHOOK_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; "
                  "use deleteWebhook to delete the webhook first")
Sizes = Sequence[tuple[int, int]]
# How each kind of file is stored on Telegram's side: file_id prefix, folder, default suffix.
FILE_KINDS = {"photo": ("AgAC", "photos", ".jpg"), "document": ("BQAC", "documents", ""),
              "voice": ("AwAC", "voice", ".oga"), "video": ("BAAC", "videos", ".mp4")}


class ApiError(Exception):
    """An unsuccessful Bot API answer, rendered as Telegram renders it."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def without_none(values: JSON) -> JSON:
    return {key: value for key, value in values.items() if value is not None}


def copy_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def described_file(stored: StoredFile, **extra: Any) -> JSON:
    """How a file appears inside a Message (PhotoSize, Document, ...): no file_path."""
    return dict({k: v for k, v in stored.to_file().items() if k != "file_path"}, **extra)


def photo_size(stored: StoredFile, width: int, height: int) -> JSON:
    return described_file(stored, width=width, height=height)


@dataclass(frozen=True)
class TelegramUser:
    """A person on Telegram: the ``User`` object, and their private ``Chat`` with the bot."""

    id: int
    first_name: str = "工友"
    username: str | None = None
    language_code: str | None = "zh-hans"

    def to_user(self) -> JSON:
        return without_none({"id": self.id, "is_bot": False, "first_name": self.first_name,
                             "username": self.username, "language_code": self.language_code})

    def to_chat(self) -> JSON:
        return without_none({"id": self.id, "first_name": self.first_name, "username": self.username,
                             "type": "private"})


@dataclass
class ChatState:
    """A private chat. Telegram lets a bot write only after /start and until it is blocked."""

    user: TelegramUser
    started: bool = True
    blocked: bool = False
    messages: list[JSON] = field(default_factory=list)  # what the bot sent, as Message objects
    last_message_id: int = 0  # message ids are per chat, shared by both sides


@dataclass(frozen=True)
class StoredFile:
    """A file on Telegram's servers; ``to_file`` is the ``File`` object getFile returns."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str
    file_name: str | None = None

    def to_file(self) -> JSON:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": len(self.content), "file_path": self.file_path}


@dataclass
class RateLimits:
    """Flood limits (Bots FAQ, "My bot is hitting limits"): per private chat and overall, per second."""

    enabled: bool = True
    per_chat_per_second: int = 1
    overall_per_second: int = 30


@dataclass
class WebhookState:
    """What setWebhook remembered; an empty url means getUpdates mode."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None


@dataclass
class InjectedFailure:
    """The next ``times`` calls of a method answer ``status`` (None: succeed, after ``delay``)."""

    status: int | None
    description: str
    times: int = 1
    retry_after: int | None = None
    delay: float = 0.0


# Telegram re-posts an update the webhook did not take; how often is not documented, so the
# fake retries quickly (tests wait on it) and backs off a little, like a polite client.
RETRY_FIRST, RETRY_MAX = 1.0, 5.0
KEEP_FOR = 24 * 3600  # "we will store them on our server ... but not longer than 24 hours"
WEBHOOK_TIMEOUT = 10.0
ChatKey = int | str


def chat_key(update: JSON) -> ChatKey:
    """The chat whose updates must keep their order (the sender's, for a button press)."""
    for value in update.values():
        if isinstance(value, dict):
            for owner in (value.get("chat"), (value.get("message") or {}).get("chat"), value.get("from")):
                if isinstance(owner, dict) and isinstance(owner.get("id"), int):
                    return owner["id"]
    return f"update:{update.get('update_id')}"  # no chat: ordered with nothing


@dataclass
class PendingUpdate:
    """An update the webhook has not answered with a 2xx yet."""

    update: JSON
    queued_at: float  # the fake's clock
    attempts: int = 0
    next_try: float = 0.0  # the event loop's clock
    last_error: str | None = None


class WebhookDelivery:
    """Posts updates to the webhook as Telegram does (setWebhook: "in case of an unsuccessful
    request, we will give up after a reasonable amount of attempts"): an update not answered
    with a 2xx (refused, reset, timed out, an error status) stays pending and is posted again,
    every ``RETRY_FIRST`` s backing off to ``RETRY_MAX`` s, for up to ``KEEP_FOR`` s. A chat's
    updates go one at a time and in order: a later one waits behind an earlier pending one."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self._queues: dict[ChatKey, deque[PendingUpdate]] = {}
        self._busy: set[ChatKey] = set()  # chats with a post in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._retrier: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self.timeout = WEBHOOK_TIMEOUT
        self.last_error: tuple[int, str] | None = None  # (date, message), as getWebhookInfo shows

    def pending(self) -> list[PendingUpdate]:
        return [item for queue in self._queues.values() for item in queue]

    async def deliver(self, update: JSON) -> int | None:
        """Queue ``update`` behind its chat's pending ones and post it now if it is first.
        Returns the status of that first post; None when there was no answer or no post."""
        key = chat_key(update)
        queue = self._queues.setdefault(key, deque())
        queue.append(PendingUpdate(copy_json(update), self._fake.now()))
        if len(queue) > 1:  # an earlier update of the chat waits, or is being posted
            self._ensure_retrier()
            return None
        self._busy.add(key)
        try:
            status = await self._post_head(key)
        finally:
            self._busy.discard(key)
        if key in self._queues:
            self._ensure_retrier()
        return status

    def drop(self) -> None:
        """setWebhook or deleteWebhook with ``drop_pending_updates``."""
        self._queues.clear()

    def to_polling(self) -> None:
        """The webhook was deleted: what waited for it is there for getUpdates instead."""
        for item in sorted(self.pending(), key=lambda i: i.update.get("update_id", 0)):
            self._fake.queue_update(item.update)
        self._queues.clear()

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._retrier] if self._retrier else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    def _ensure_retrier(self) -> None:
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.create_task(self._retry())

    async def _retry(self) -> None:
        """While anything waits: start posting each chat whose first update is due."""
        loop = asyncio.get_running_loop()
        while self._queues:
            if not self._fake.webhook.url:
                self.to_polling()
                return
            for key, queue in list(self._queues.items()):
                if queue[0].queued_at < self._fake.now() - KEEP_FOR:
                    queue.popleft()  # Telegram forgets it
                    if not queue:
                        del self._queues[key]
                elif key not in self._busy and queue[0].next_try <= loop.time():
                    self._busy.add(key)
                    task = asyncio.create_task(self._drain(key))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.1)

    async def _drain(self, key: ChatKey) -> None:
        """Post the chat's updates in order until one is not taken."""
        try:
            while key in self._queues and await self._post_head(key) in range(200, 300):
                pass
        finally:
            self._busy.discard(key)

    async def _post_head(self, key: ChatKey) -> int | None:
        item = self._queues[key][0]
        status, error = await self._post(item.update)
        item.attempts += 1
        if error is None:
            queue = self._queues.get(key)
            if queue and queue[0] is item:  # (unless dropped meanwhile)
                queue.popleft()
                if not queue:
                    del self._queues[key]
            return status
        delay = min(RETRY_FIRST * 1.5 ** (item.attempts - 1), RETRY_MAX)
        item.next_try, item.last_error = asyncio.get_running_loop().time() + delay, error
        self.last_error = (int(self._fake.now()), error)
        return status

    async def _post(self, update: JSON) -> tuple[int | None, str | None]:
        """One POST to the webhook: its status (None: no answer), and the error in the words
        of getWebhookInfo's ``last_error_message`` (None: taken)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._fake.webhook.max_connections))
        headers, body = webhook_request(update, self._fake.webhook.secret_token)
        try:
            async with self._http.post(self._fake.webhook.url, data=body, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return resp.status, None
                return resp.status, f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return None, "Connection refused"
        except aiohttp.ClientError as exc:
            return None, f"Connection error: {type(exc).__name__}"


class FakeTelegram:
    """The fake server's state and its control API (chats, files, updates, failures, clock)."""

    def __init__(self, token: str, *, clock: Clock | None = None) -> None:
        self.token = token
        self.base_url: str | None = None  # set by running_fake_telegram
        self.limits = RateLimits()
        self.webhook = WebhookState()
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, JSON] = {}
        self.answered_callback_queries: list[JSON] = []
        self.calls: list[tuple[str, JSON]] = []
        # Telegram's update ids are arbitrary: two fakes (two test stacks over one database)
        # must not hand out the same ones, or the gateway takes them for repeats
        self.updates = UpdateBuilder(self, first_update_id=random.randrange(10**8, 2 * 10**9))
        self.failures: dict[str, deque[InjectedFailure]] = defaultdict(deque)
        self._clock = clock or time.time
        self._clock_offset = 0.0
        self._file_count = 0
        self.pending_updates: list[JSON] = []
        self.webhook_delivery = WebhookDelivery(self)
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._terminated_by = TERMINATED
        self._closing = False
        self._sends: defaultdict[int, deque[float]] = defaultdict(deque)
        self._all_sends: deque[float] = deque()

    @property
    def bot_user(self) -> JSON:
        """The bot's ``User``; its id is the number before the colon in the token, as on Telegram."""
        head = self.token.split(":", 1)[0]
        return {"id": int(head) if head.isdigit() else 1, "is_bot": True, "first_name": "工友助手",
                "username": "gongyou_fake_bot"}

    # --- control API -------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (message dates, flood windows)."""
        self._clock_offset += seconds

    def start_chat(self, user: TelegramUser | int, *, started: bool = True) -> ChatState:
        """Make a user known; ``started=False`` is someone who never pressed Start."""
        person = user if isinstance(user, TelegramUser) else TelegramUser(user)
        chat = self.chats.setdefault(person.id, ChatState(person, started=started))
        chat.user, chat.started = person, chat.started or started
        return chat

    def block_chat(self, chat_id: int, *, blocked: bool = True) -> None:
        self.chats[chat_id].blocked = blocked

    def register_file(self, content: bytes, *, mime_type: str = "application/octet-stream",
                      file_name: str | None = None, kind: str = "document") -> StoredFile:
        """Put a file on the fake's servers, as if a user had sent it; getFile will find it."""
        prefix, folder, suffix = FILE_KINDS[kind]
        self._file_count += 1
        digest = hashlib.sha256(f"{self.token}:{kind}:{self._file_count}".encode()).digest()
        ident = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        suffix = PurePosixPath(file_name).suffix if file_name and kind == "document" else suffix
        stored = StoredFile(f"{prefix}AgADBQAD{ident}", f"AQAD{ident[:12]}",
                            f"{folder}/file_{self._file_count}{suffix}", content, mime_type, file_name)
        self.files[stored.file_id] = stored
        return stored

    def queue_update(self, update: JSON) -> None:
        """Hold an update for getUpdates, waking a pending long poll."""
        self.pending_updates.append(copy_json(update))
        self._wake()

    async def deliver(self, update: JSON) -> int | None:
        """Send an update where Telegram would: POST it to the webhook, else queue it.

        Returns the webhook's HTTP status of the first attempt; None when queued for
        getUpdates, or for a re-delivery (no answer, or an earlier update of the chat waits).
        An update the webhook does not answer with a 2xx is posted again until it is.
        """
        if not self.webhook.url:
            self.queue_update(update)
            return None
        return await self.webhook_delivery.deliver(update)

    def pending_update_count(self) -> int:
        """Updates not yet taken, by the webhook or by getUpdates (getWebhookInfo's count)."""
        return len(self.pending_updates) + len(self.webhook_delivery.pending())

    def sent_messages(self, chat_id: int) -> list[JSON]:
        """The Message objects the bot sent to a chat, oldest first, as currently edited."""
        chat = self.chats.get(chat_id)
        return copy_json(chat.messages) if chat else []

    def fail_next(self, method: str, *, status: int | None = 502, description: str | None = None,
                  times: int = 1, retry_after: int | None = None, delay: float = 0.0) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status`` after ``delay`` seconds."""
        if description is None and status is not None:
            description = (f"Too Many Requests: retry after {retry_after}" if status == 429
                           else HTTPStatus(status).phrase)
        self.failures[method.lower()].append(
            InjectedFailure(status, description or "", times, retry_after, delay))

    def remember_callback_query(self, query: JSON) -> None:
        self.callback_queries[query["id"]] = copy_json(query)

    def next_message_id(self, chat_id: int) -> int:
        chat = self.chats[chat_id]
        chat.last_message_id += 1
        return chat.last_message_id

    # --- what the API methods share -------------------------------------------------------------

    def chat_for_sending(self, raw: str | None) -> ChatState:
        """The recipient ``chat_id``, with Telegram's errors for unknown, blocked or unstarted chats."""
        if not raw:
            raise bad_request("chat_id is empty")
        chat = self.chats.get(int(raw)) if re.fullmatch(r"-?\d+", raw) else None
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def take_send_slot(self, chat_id: int) -> None:
        """Count a send, or answer 429 as Telegram does when a chat or the whole bot sends too fast."""
        now = self.now()
        windows = ((self._sends[chat_id], self.limits.per_chat_per_second),
                   (self._all_sends, self.limits.overall_per_second))
        for stamps, limit in windows:
            while stamps and stamps[0] <= now - 1.0:
                stamps.popleft()
            if self.limits.enabled and len(stamps) >= limit:
                raise too_many_requests(max(1, math.ceil(stamps[0] + 1.0 - now)))
        for stamps, _ in windows:
            stamps.append(now)

    def record_bot_message(self, chat: ChatState, content: JSON, markup: JSON | None) -> JSON:
        now = self.now()
        message = {"message_id": self.next_message_id(chat.user.id), "from": self.bot_user,
                   "chat": chat.user.to_chat(), "date": int(now), **without_none(content)}
        if markup is not None:
            message["reply_markup"] = markup
        chat.messages.append(message)
        return copy_json(message)

    def photo_sizes(self, content: bytes, sizes: Sizes = DEFAULT_PHOTO_SIZES) -> list[JSON]:
        """PhotoSize objects, smallest first as Telegram lists them; each downloads ``content``."""
        return [photo_size(self.register_file(content, mime_type="image/jpeg", kind="photo"), w, h)
                for w, h in sizes]

    async def apply_injected_failure(self, method: str) -> None:
        queue = self.failures.get(method.lower())
        if not queue:
            return
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        await asyncio.sleep(failure.delay)
        if failure.status is not None:
            raise ApiError(failure.status, failure.description, retry_after=failure.retry_after)

    async def poll(self, *, offset: int, limit: int, timeout: float) -> list[JSON]:
        """getUpdates: confirm by offset, then long-poll until an update arrives or time runs out."""
        if self.webhook.url:
            raise ApiError(409, WEBHOOK_ACTIVE)
        self.terminate_polls(TERMINATED)
        generation = self._poll_generation
        if offset > 0:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        elif offset < 0:
            self.pending_updates = self.pending_updates[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.pending_updates and not self._closing and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), left)
            if generation != self._poll_generation:
                raise ApiError(409, self._terminated_by)
        return copy_json(self.pending_updates[:limit])

    def terminate_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._terminated_by = reason
        self._wake()

    def close(self) -> None:
        """Let pending long polls answer now, so the server can stop."""
        self._closing = True
        self._wake()

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()


# --- Update builders ----------------------------------------------------------------------------

def webhook_request(update: JSON, secret_token: str | None) -> tuple[dict[str, str], bytes]:
    """Headers and body of the POST Telegram makes to a webhook for ``update``."""
    headers = {"Content-Type": "application/json"}
    if secret_token:
        headers[SECRET_TOKEN_HEADER] = secret_token
    return headers, json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()


class UpdateBuilder:
    """Builds the ``Update`` JSON Telegram sends when a worker acts; no network.

    ``update_id`` increases with each update. Bound to a fake (``fake.updates``), what is built
    is also known there: the sender has started the bot, message ids follow the chat's,
    attached files can be fetched with getFile, and callback queries can be answered.
    """

    def __init__(self, fake: FakeTelegram | None = None, *, first_update_id: int = 700_000_000) -> None:
        self._fake = fake
        self._update_id = first_update_id
        self._standalone = FakeTelegram("1:unbound", clock=time.time) if fake is None else None

    @property
    def _state(self) -> FakeTelegram:
        return self._fake or self._standalone  # type: ignore[return-value]

    def text(self, user: TelegramUser | int, text: str) -> JSON:
        return self._message(user, {"text": text})

    def start(self, user: TelegramUser | int, payload: str | None = None) -> JSON:
        """A ``/start`` command (a deep link's payload after a space), with its bot_command entity."""
        return self._message(user, {"text": f"/start {payload}" if payload else "/start",
                                    "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]})

    def photo(self, user: TelegramUser | int, content: bytes = b"\xff\xd8\xff\xe0 jpeg", *,
              sizes: Sizes = DEFAULT_PHOTO_SIZES, caption: str | None = None) -> JSON:
        """A photo: one PhotoSize per size, largest last, as Telegram sends them."""
        photo = self._state.photo_sizes(content, sizes)
        return self._message(user, {"photo": photo, "caption": caption})

    def document(self, user: TelegramUser | int, content: bytes = b"%PDF-1.4", *,
                 file_name: str = "evidence.pdf", mime_type: str = "application/pdf",
                 caption: str | None = None) -> JSON:
        stored = self._state.register_file(content, mime_type=mime_type, file_name=file_name)
        document = self._attachment(stored, file_name=file_name)
        return self._message(user, {"document": document, "caption": caption})

    def voice(self, user: TelegramUser | int, content: bytes = b"OggS voice", *, duration: int = 3,
              mime_type: str = "audio/ogg") -> JSON:
        stored = self._state.register_file(content, mime_type=mime_type, kind="voice")
        return self._message(user, {"voice": self._attachment(stored, duration=duration)})

    def video(self, user: TelegramUser | int, content: bytes = b"\x00\x00\x00\x18ftypmp42", *,
              duration: int = 5, width: int = 640, height: int = 360,
              mime_type: str = "video/mp4") -> JSON:
        stored = self._state.register_file(content, mime_type=mime_type, kind="video")
        video = self._attachment(stored, duration=duration, width=width, height=height)
        return self._message(user, {"video": video})

    def callback_query(self, user: TelegramUser | int, data: str, *,
                       message: JSON | None = None) -> JSON:
        """A button press on ``message`` (default: the last keyboard the bot sent this user)."""
        chat = self._chat(user)
        message = message or next((m for m in reversed(chat.messages) if "reply_markup" in m), None)
        if message is None:  # a keyboard the bot sent before the fake was watching
            keyboard = {"inline_keyboard": [[{"text": data, "callback_data": data}]]}
            message = self._state.record_bot_message(chat, {"text": "请选择"}, keyboard)
        query = {"id": f"{self._update_id + 1}{chat.user.id:010d}", "from": chat.user.to_user(),
                 "message": copy_json(message), "chat_instance": str(-7919 * chat.user.id), "data": data}
        self._state.remember_callback_query(query)
        return self._update("callback_query", query)

    def _chat(self, user: TelegramUser | int) -> ChatState:
        known = self._state.chats.get(user if isinstance(user, int) else user.id)
        return self._state.start_chat(known.user if known and isinstance(user, int) else user)

    def _attachment(self, stored: StoredFile, **extra: Any) -> JSON:
        return described_file(stored, mime_type=stored.mime_type, **extra)

    def _message(self, user: TelegramUser | int, content: JSON) -> JSON:
        chat = self._chat(user)
        message = {"message_id": self._state.next_message_id(chat.user.id), "from": chat.user.to_user(),
                   "chat": chat.user.to_chat(), "date": int(self._state.now()), **without_none(content)}
        return self._update("message", message)

    def _update(self, kind: str, payload: JSON) -> JSON:
        self._update_id += 1
        return {"update_id": self._update_id, kind: payload}
