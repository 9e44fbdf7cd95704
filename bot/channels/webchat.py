"""Local web chat: a page to talk as a worker would, and the JSON API behind it.

The same API drives the end-to-end tests. It is on by default only when the gateway is
bound to loopback, because anyone who can reach it can speak as any sender.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.delivery import do_mark_notification_sent
from bot.cases.models import Contact
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.channels.base import (
    Attachment, BadRequest, CountInbound, InboundMessage, NotNow, Reply, Target,
)
from bot.channels.base import as_worker_text, storable
from bot.cases.messages import get_contact_by_sender_id
from bot.channels.streaming import UploadLimits, UploadRefused, check_daily_quota, receive_files
from bot.db import session_scope, utcnow

CHANNEL = "webchat"
MAX_TEXT = 2000
MAX_FILE = 20 * 1024 * 1024
MAX_FILES = 9  # as many as a phone's photo picker sends at once
_SENDER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # fullmatch: "abc\n" is no sender
_PAGE = Path(__file__).with_name("webchat_page.html")
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def parse_chat_request(body: Any) -> InboundMessage:
    """Validate a ``POST /chat/api/messages`` body.

    Raises:
        BadRequest: naming the field that is missing or wrong.
    """
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        raise BadRequest("sender must be 1-64 characters of letters, digits, '_', '-' or '.'")
    text, payload = body.get("text"), body.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or not payload.startswith("/") or len(payload) > 500:
            raise BadRequest("payload must be a string starting with '/' (a button payload)")
    if text is not None and not isinstance(text, str):
        raise BadRequest("text must be a string")
    text = as_worker_text(text.strip()) if text else None  # "/…" typed is words, not an intent
    if not text and not payload:
        raise BadRequest("text or payload is required")
    if text and len(text) > MAX_TEXT:
        raise BadRequest(f"text is longer than {MAX_TEXT} characters")
    message_id = body.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or not 0 < len(message_id) <= 100):
        raise BadRequest("message_id must be a string of at most 100 characters")
    for name, value in (("text", text), ("payload", payload), ("message_id", message_id)):
        if value is not None and storable(value) != value:
            raise BadRequest(f"{name} has characters that cannot be stored (NUL, or half a surrogate pair)")
    return InboundMessage(
        channel=CHANNEL,
        external_id=sender,
        dedupe_key=f"{CHANNEL}:{sender}:{message_id or uuid.uuid4().hex}",
        text=text,
        payload=payload,
        kind="button" if payload else "text",
    )


class Answerer(Protocol):
    """The pipeline as the web chat uses it: answered in the request."""

    async def handle(self, message: InboundMessage) -> Any: ...


class WebChatChannel:
    """The browser as a channel: a turn is answered in the request itself; whatever comes
    later (status updates, a staff member's reply, the answer to a message kept while Rasa
    was down) waits as a held outbox row until the page next polls ``/chat/api/updates``,
    and only then counts as delivered."""

    name = CHANNEL

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession],
                 render: Callable[[str, dict[str, Any]], str], secret: str) -> None:
        self._sessionmaker = sessionmaker
        self._render = render  # an outbox row's template and params → the words shown
        self._secret = secret.encode()

    def session_for(self, sender: str) -> str:
        """The conversation's session: only the browser that started it holds it."""
        return hmac.new(self._secret, f"webchat-session:{sender}".encode(), hashlib.sha256).hexdigest()[:40]

    async def check_session(self, sender: str, session: Any) -> str:
        """The session to hand back for ``sender``.

        A sender we have never seen gets a new conversation (and its session); a known
        sender's conversation is read or written only with its session.

        Raises:
            web.HTTPForbidden: a known sender without (or with a wrong) session.
        """
        expected = self.session_for(sender)
        if isinstance(session, str) and hmac.compare_digest(session.encode(), expected.encode()):
            return expected
        async with session_scope(self._sessionmaker) as db:
            known = (await db.execute(select(Contact.id).where(
                Contact.channel == CHANNEL, Contact.external_id == sender))).first()
        if known:
            raise web.HTTPForbidden(text=_dumps({"error": "session", "message": "这个对话属于另一个浏览器；请刷新页面开始新的对话"}),
                                    content_type="application/json")
        return expected

    async def send(self, target: Target, replies: Sequence[Reply]) -> None:
        """A turn answered outside a request (a retried message): held for the next poll."""
        raise NotNow("网页聊天：等页面下次取回")

    async def notify(self, target: Target, text: str, *, key: str) -> None:
        raise NotNow("网页聊天：等页面下次取回")

    async def fetch_attachments(self, meta: dict[str, Any]) -> list[Attachment]:
        return []  # the browser uploads the bytes with the message

    async def take_updates(self, sender: str) -> list[dict[str, Any]]:
        """The messages waiting for this browser, oldest first, now marked delivered."""
        async with session_scope(self._sessionmaker) as session:
            contact = (await session.execute(select(Contact).where(
                Contact.channel == CHANNEL, Contact.external_id == sender))).scalar_one_or_none()
            if contact is None:
                return []
            stmt = (select(OutboxMessage)
                    .where(OutboxMessage.contact_id == contact.id, OutboxMessage.channel == CHANNEL,
                           OutboxMessage.status == OutboxStatus.HELD.value)
                    .order_by(OutboxMessage.id).limit(50))
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            now = utcnow()
            updates = []
            for row in rows:
                params = row.params or {}
                if row.template == "turn":  # the bot's replies, buttons and all
                    updates += [{"id": row.id, "text": r.get("text"), "buttons": r.get("buttons") or [],
                                 "author": None} for r in params.get("replies") or []]
                else:
                    updates.append({"id": row.id, "text": self._render(row.template, params),
                                    "author": params.get("author")})
                await do_mark_notification_sent(session, row=row, now=now, how="网页聊天已取回")
        return updates


async def post_message(request: web.Request, *, channel: WebChatChannel, intake: Answerer,
                       count: CountInbound, throttle: Callable[[str], None] | None = None) -> web.Response:
    """``POST /chat/api/messages`` (JSON only: a form or text/plain post from another site
    is refused before anything is read)."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text=_dumps({"error": "bad_request", "message": "send JSON (Content-Type: application/json)"}),
                                           content_type="application/json")
    try:
        body = await request.json()
    except (ValueError, LookupError, RecursionError) as exc:  # not JSON, an unknown charset, nested too deep
        raise BadRequest("body is not valid JSON") from exc
    message = parse_chat_request(body)
    if throttle is not None:
        throttle(message.external_id)  # 429 for a sender flooding the chat
    session = await channel.check_session(message.external_id, body.get("session"))
    return await _answer(message, session=session, intake=intake, count=count)


async def get_updates(request: web.Request, *, channel: WebChatChannel) -> web.Response:
    """``GET /chat/api/updates?sender=…&session=…``: what reached this worker since the last poll."""
    sender = request.query.get("sender", "")
    if not _SENDER.fullmatch(sender):
        raise BadRequest("sender must be 1-64 characters of letters, digits, '_', '-' or '.'")
    await channel.check_session(sender, request.query.get("session"))
    return web.json_response({"updates": await channel.take_updates(sender)}, dumps=_dumps)


async def _answer(message: InboundMessage, *, session: str, intake: Answerer, count: CountInbound) -> web.Response:
    """Store and answer ``message`` in the request; the replies a person can see, and the
    conversation's session for the next request."""
    outcome = await intake.handle(message)
    label = "duplicate" if outcome.duplicate else ("answered" if outcome.answered else "pending_retry")
    count(CHANNEL, label)
    return web.json_response(
        {"replies": [r.as_dict() for r in outcome.replies if r.text or r.buttons or r.image], "session": session},
        dumps=_dumps,
    )


def host_allowed(request: web.Request, allowed: frozenset[str]) -> bool:
    """The page and its API answer only under the names they are served as (a rebinding
    DNS name pointing at this host gets nothing)."""
    return request.host.lower() in allowed


async def post_files(request: web.Request, *, channel: WebChatChannel, intake: Answerer,
                     count: CountInbound, limits: UploadLimits = UploadLimits(),
                     throttle: Callable[[str], None] | None = None) -> web.Response:
    """``POST /chat/api/files`` (multipart: ``sender``, ``session``, optional ``message_id``,
    one or more ``file`` parts): photos and documents sent as evidence, answered like a message.

    The files stream to temporary files within ``limits`` (413 with the cap in words: per
    file, per request, per contact and day; nothing stored). ``throttle(sender)`` is the
    per-sender rate limit: it raises the 429 answer (nothing stored) when the sender is over.
    """
    try:
        async with receive_files(request, limits, fields=("sender", "message_id", "session")) as received:
            if not received.files:
                raise BadRequest("no file part named 'file' in the upload")
            base = parse_chat_request({"sender": received.fields.get("sender"), "text": "[文件]",
                                       "message_id": received.fields.get("message_id")})
            if throttle is not None:
                throttle(base.external_id)
            session = await channel.check_session(base.external_id, received.fields.get("session"))
            async with session_scope(channel._sessionmaker) as db:
                contact = await get_contact_by_sender_id(db, sender_id=f"{CHANNEL}:{base.external_id}")
                await check_daily_quota(db, contact_id=contact.id if contact else None,
                                        incoming=received.total, limits=limits, now=utcnow())
            message = InboundMessage(channel=CHANNEL, external_id=base.external_id, dedupe_key=base.dedupe_key,
                                     kind=received.files[0].kind, attachments=tuple(received.files))
            return await _answer(message, session=session, intake=intake, count=count)
    except UploadRefused as exc:
        if exc.status == 400:
            raise BadRequest(str(exc)) from exc
        return web.json_response({"error": "too_large", "message": str(exc)}, status=exc.status, dumps=_dumps)


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
