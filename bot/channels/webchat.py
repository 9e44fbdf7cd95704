"""Local web chat: a page to talk as a worker would, and the JSON API behind it.

The same API drives the end-to-end tests. It is on by default only when the gateway is
bound to loopback, because anyone who can reach it can speak as any sender.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.delivery import do_mark_notification_sent
from bot.cases.models import Contact
from bot.cases.outbox import OutboxMessage, OutboxStatus, add_notification
from bot.channels.base import (
    Attachment, BadRequest, CountInbound, InboundMessage, NotNow, Reply, Target, kind_of_file,
)
from bot.db import session_scope, utcnow

CHANNEL = "webchat"
MAX_TEXT = 2000
MAX_FILE = 20 * 1024 * 1024
MAX_FILES = 9  # as many as a phone's photo picker sends at once
_SENDER = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
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
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise BadRequest("sender must be 1-64 characters of letters, digits, '_', '-' or '.'")
    text, payload = body.get("text"), body.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or not payload.startswith("/") or len(payload) > 500:
            raise BadRequest("payload must be a string starting with '/' (a button payload)")
    if text is not None and not isinstance(text, str):
        raise BadRequest("text must be a string")
    text = text.strip() if text else None
    if not text and not payload:
        raise BadRequest("text or payload is required")
    if text and len(text) > MAX_TEXT:
        raise BadRequest(f"text is longer than {MAX_TEXT} characters")
    message_id = body.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or not 0 < len(message_id) <= 100):
        raise BadRequest("message_id must be a string of at most 100 characters")
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
                 render: Callable[[str, dict[str, Any]], str]) -> None:
        self._sessionmaker = sessionmaker
        self._render = render  # an outbox row's template and params → the words shown

    async def send(self, target: Target, replies: Sequence[Reply]) -> None:
        """A turn answered outside a request (a retried message): kept for the next poll."""
        text = "\n".join(r.text for r in replies if r.text)
        if not text:
            return
        async with session_scope(self._sessionmaker) as session:
            add_notification(session, key=f"webchat-turn:{uuid.uuid4().hex}", template="bot_reply",
                             params={"text": text}, now=utcnow(), channel=CHANNEL, contact_id=target.contact_id)

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
                updates.append({"id": row.id, "text": self._render(row.template, row.params or {}),
                                "author": (row.params or {}).get("author")})
                await do_mark_notification_sent(session, row=row, now=now, how="网页聊天已取回")
        return updates


async def post_message(request: web.Request, *, intake: Answerer, count: CountInbound) -> web.Response:
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadRequest("body is not valid JSON") from exc
    return await _answer(parse_chat_request(body), intake=intake, count=count)


async def get_updates(request: web.Request, *, channel: WebChatChannel) -> web.Response:
    """``GET /chat/api/updates?sender=…``: what reached this worker since the last poll."""
    sender = request.query.get("sender", "")
    if not _SENDER.match(sender):
        raise BadRequest("sender must be 1-64 characters of letters, digits, '_', '-' or '.'")
    return web.json_response({"updates": await channel.take_updates(sender)}, dumps=_dumps)


async def _answer(message: InboundMessage, *, intake: Answerer, count: CountInbound) -> web.Response:
    """Store and answer ``message`` in the request; the replies a person can see."""
    outcome = await intake.handle(message)
    label = "duplicate" if outcome.duplicate else ("answered" if outcome.answered else "pending_retry")
    count(CHANNEL, label)
    return web.json_response(
        {"replies": [r.as_dict() for r in outcome.replies if r.text or r.buttons or r.image]},
        dumps=_dumps,
    )


async def post_files(request: web.Request, *, intake: Answerer, count: CountInbound) -> web.Response:
    """``POST /chat/api/files`` (multipart: ``sender``, optional ``message_id``, one or more
    ``file`` parts): photos and documents sent as evidence, answered like a message."""
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("send the files as multipart/form-data")
    reader = await request.multipart()
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    while (part := await reader.next()) is not None:
        if part.name == "file" and part.filename is not None:
            if len(files) >= MAX_FILES:
                raise BadRequest(f"at most {MAX_FILES} files at once")
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data += chunk
                if len(data) > MAX_FILE:
                    raise BadRequest(f"file {part.filename!r} is larger than {MAX_FILE // (1024 * 1024)} MB")
            mime = part.headers.get("Content-Type") or "application/octet-stream"
            # browsers send UTF-8 names as they are; some clients percent-encode them
            try:
                name = unquote(part.filename, errors="strict") if "%" in part.filename else part.filename
            except UnicodeDecodeError:
                name = part.filename
            files.append(Attachment(kind=kind_of_file(mime), data=bytes(data), filename=name[:255], mime_type=mime))
        elif part.name in ("sender", "message_id"):
            fields[part.name] = (await part.text())[:200]
        else:
            await part.release()
    if not files:
        raise BadRequest("no file part named 'file' in the upload")
    base = parse_chat_request({"sender": fields.get("sender"), "text": "[文件]",
                               "message_id": fields.get("message_id")})
    message = InboundMessage(
        channel=CHANNEL, external_id=base.external_id, dedupe_key=base.dedupe_key,
        kind=files[0].kind, attachments=tuple(files),
    )
    return await _answer(message, intake=intake, count=count)


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
