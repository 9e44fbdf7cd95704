"""WeChat Official Account (公众号): the callback at ``/wechat`` and the channel adapter.

A callback is checked locally (size, signature, freshness, msg_signature and decryption in
safe mode, XML without DTDs, a nonce no other callback used), stored through the pipeline
and answered ``success`` at once — WeChat gives up after five seconds and retries. The
answer reaches the worker later as a customer-service message, which WeChat allows only
within 48 hours of the worker's last message and at most five times per message: a turn is
merged into one text, its buttons become a numbered list the worker answers with a digit,
and the window and quota are tracked per contact so a closed window costs no API call
(``NotNow``: the reply waits for the worker's next message).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import defusedxml.ElementTree as DefusedET
from aiohttp import web
from defusedxml import DefusedXmlException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

from bot.cases.models import Contact
from bot.cases.nonces import do_claim_nonce, nonce_seen
from bot.channels.upload import upload_link
from bot.channels.base import (
    Attachment, ChannelError, InboundMessage, Intake, NotNow, Reply, Target, Throttle, as_worker_text,
    kind_of_file,
)
from bot.channels.wechat_api import TOKEN_ERRORS, WeChatApi, WeChatApiError
from bot.db import session_scope, utcnow
from bot.settings import WeChatSettings

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
MAX_BODY = 64 * 1024  # a callback is a few hundred bytes; encrypted, about a third more
SERVICE_WINDOW = timedelta(hours=48)
SERVICE_QUOTA = 5  # customer-service messages per inbound message
TEXT_LIMIT = 2048  # bytes of UTF-8 in one customer-service text message
GREET = "/greet"  # the welcome with the topic menu
UNSUPPORTED = "抱歉，这类消息我还看不懂 🙏 请用文字说说您的情况，也可以发图片、语音或视频。"
CHOOSE = "回复数字："
_MEDIA_KINDS = {"image": "photo", "voice": "audio", "video": "video", "shortvideo": "video"}
_DEFAULT_MIME = {"photo": "image/jpeg", "audio": "audio/amr", "video": "video/mp4"}
_INTENT_KEY = re.compile(r"^/?([A-Za-z][A-Za-z0-9_]{0,63})$")
_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_CHOICE = re.compile(r"^\s*([0-9]{1,2})\s*[.。、)）]?\s*$")
FRESHNESS = 300  # seconds between WeChat's timestamp and our clock, either way
# A signed (timestamp, nonce) passes the freshness check from 5 minutes before its timestamp
# to 5 minutes after: it is remembered for as long, or a late copy would pass again.
NONCE_WINDOW = timedelta(seconds=2 * FRESHNESS)
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # WeChat's are about ten digits
_FETCH_TRIES = 3


# -- reading a callback ---------------------------------------------------------------------


class CallbackRejected(Exception):
    """A callback we refuse; ``status`` is the HTTP answer (400, 403, 413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(token: str, query: Mapping[str, str]) -> None:
    """WeChat's ``signature`` over (token, timestamp, nonce), compared in constant time.

    Raises:
        CallbackRejected: 403, the request is not from WeChat.
    """
    signature, timestamp, nonce = (query.get(k, "") for k in ("signature", "timestamp", "nonce"))
    expected = _sha1_signature(token, timestamp, nonce)
    if not (signature and timestamp and nonce) or not hmac.compare_digest(
            expected.encode(), signature.encode("utf-8", "replace")):
        raise CallbackRejected(403, "bad signature")


def check_fresh(query: Mapping[str, str], *, now: datetime) -> None:
    """WeChat's ``timestamp`` within five minutes of ``now``, and a nonce of WeChat's shape.

    Call it after :func:`check_signature`, which covers both: a copy of a signed callback
    (a logged URL) stays valid, and only its age and its nonce tell it from the original.

    Raises:
        CallbackRejected: 403, too old (or too far ahead), or no usable nonce.
    """
    timestamp = query.get("timestamp", "")
    if not _TIMESTAMP.match(timestamp) or abs(now.timestamp() - int(timestamp)) > FRESHNESS:
        raise CallbackRejected(403, "stale callback: the timestamp is more than 5 minutes off")
    if not _NONCE.match(query.get("nonce", "")):
        raise CallbackRejected(403, "bad nonce")


def parse_xml(text: str) -> ET.Element:
    """The root ``<xml>`` element of a callback body.

    defusedxml refuses any DTD (wherever it stands: after a comment too), so entity
    expansion (billion laughs, external entities) never reaches a parser that reads the
    body later (ours, wechatpy's xmltodict).

    Raises:
        CallbackRejected: 400, a DTD or entity declaration, or not well-formed XML.
    """
    try:
        root = DefusedET.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CallbackRejected(400, "DOCTYPE and ENTITY declarations are not accepted") from exc
    except ET.ParseError as exc:
        raise CallbackRejected(400, "malformed XML") from exc
    if root.tag != "xml":
        raise CallbackRejected(400, "the root element must be <xml>")
    return root


def unwrap_callback(
    body: bytes, query: Mapping[str, str], *, token: str, crypto: WeChatCrypto | None
) -> tuple[str, ET.Element]:
    """The plain XML of a callback whose ``signature`` was checked, and its root.

    Safe and compatible mode (``encrypt_type=aes``) are decrypted; ``msg_signature`` (over
    the Encrypt field too) is checked first, in constant time: only the envelope is parsed
    before it, and the message inside only once it holds. With an AES key configured
    an unencrypted body is refused: ``signature`` covers only the query, so a plain body
    would let anyone holding one signed query speak as any worker. Without a key, a
    compatible-mode body is read from its plain fields.

    Raises:
        CallbackRejected: 400 malformed, 403 unencrypted in safe mode, a bad
        ``msg_signature`` or another account's message.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CallbackRejected(400, "the body is not UTF-8") from exc
    root = parse_xml(text)
    encrypted = root.findtext("Encrypt")
    if crypto is not None:
        if query.get("encrypt_type") != "aes" or not encrypted:
            raise CallbackRejected(403, "safe mode: the message must be encrypted")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        msg_signature = query.get("msg_signature", "")
        expected = _sha1_signature(token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), msg_signature.encode("utf-8", "replace")):
            raise CallbackRejected(403, "bad msg_signature")
        try:  # the Encrypt value, not the body: wechatpy would parse it again with xmltodict
            text = crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise CallbackRejected(403, "encrypted for another account") from exc
        except (ValueError, IndexError, struct.error) as exc:  # bad base64, padding or length
            raise CallbackRejected(400, "cannot decrypt the body") from exc
        root = parse_xml(text)
    if not (root.findtext("MsgType") and root.findtext("FromUserName")):
        raise CallbackRejected(400, "MsgType and FromUserName are required")
    return text, root


def dedupe_key(message: BaseMessage, root: ET.Element) -> str:
    """What identifies a delivery: WeChat repeats it on every retry."""
    if message.id:
        return f"{CHANNEL}:{message.id}"
    # Events have no MsgId: WeChat's retries repeat sender, time, event and key.
    event = root.findtext("Event") or root.findtext("MsgType") or ""
    key = root.findtext("EventKey") or ""
    return f"{CHANNEL}:{message.source}:{message.time}:{event}:{key}"[:200]


def menu_payload(key: str | None) -> str:
    """The Rasa payload of a menu click: menu keys are intent names
    (``report_unpaid_wages`` → ``/report_unpaid_wages``); anything else shows the menu."""
    match = _INTENT_KEY.match((key or "").strip())
    return f"/{match.group(1).lower()}" if match else GREET


def to_inbound(message: BaseMessage, root: ET.Element) -> InboundMessage | None:
    """Our message for a parsed callback; ``None`` for what needs no answer and no record
    (menu links, template receipts, location reports) and for types we cannot read."""
    inbound = _inbound(message, root)
    if inbound is not None and inbound.text:
        # Every text Rasa will read is the worker's words: none of it may pass for an intent.
        return replace(inbound, text=as_worker_text(inbound.text))
    return inbound


def _inbound(message: BaseMessage, root: ET.Element) -> InboundMessage | None:
    base = dict(channel=CHANNEL, external_id=message.source, dedupe_key=dedupe_key(message, root))
    kind = message.type
    if kind == "text":
        return InboundMessage(**base, text=(message.content or "").strip() or None)
    if kind in _MEDIA_KINDS:
        evidence_kind = _MEDIA_KINDS[kind]
        fmt = getattr(message, "format", None)
        files = [{"media_id": message.media_id, "kind": evidence_kind, "format": fmt}]
        # Voice recognition may be retired by WeChat: the text is a bonus, the audio is kept.
        text = (getattr(message, "recognition", None) or "").strip() or None
        return InboundMessage(**base, kind=evidence_kind, text=text, meta={"files": files})
    if kind == "location":
        label = (message.label or "").strip()
        where = {"latitude": message.location_x, "longitude": message.location_y, "label": label}
        text = label or f"位置 {message.location_x},{message.location_y}"
        return InboundMessage(**base, kind="location", text=text, meta={"location": where})
    if kind == "link":
        text = " ".join(p for p in (message.title, message.url) if p)
        return InboundMessage(**base, kind="link", text=text or None)
    if kind == "event":
        event = message.event
        if event in ("subscribe", "subscribe_scan", "scan"):
            scene = root.findtext("EventKey") or None
            meta = {"scene": scene} if scene else {}
            return InboundMessage(**base, kind="event", payload=GREET, meta=meta)
        if event == "click":
            return InboundMessage(**base, kind="event", payload=menu_payload(message.key))
    return None


def read_message(text: str, root: ET.Element) -> tuple[BaseMessage, InboundMessage | None]:
    """wechatpy's view of a checked callback, and ours (see :func:`to_inbound`).

    Raises:
        CallbackRejected: 400, fields of the wrong shape (a MsgId that is no number …).
    """
    try:
        message = parse_message(text)
        # what the store keeps of it must fit: an openid (contacts hold 128 characters), a
        # MsgId of 64 bits (dedupe keys hold 200)
        if not isinstance(message.source, str) or len(message.source) > 128:
            raise ValueError("FromUserName is no openid")
        if message.id and not 0 < message.id < 2**64:
            raise ValueError("MsgId is no 64-bit number")
        return message, to_inbound(message, root)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CallbackRejected(400, "a field of the message has the wrong shape") from exc


def choice_number(text: str | None) -> str | None:
    """The number of a button if ``text`` is only that number ("1", "２", "3.")."""
    match = _CHOICE.match((text or "").translate(_DIGITS))
    return str(int(match.group(1))) if match else None


# -- shaping a turn ---------------------------------------------------------------------------


UPLOAD_OFFER = "合同、PDF 这类文件在微信里发不了的话，点这个链接上传（3天内有效）：\n{url}"


def render_turn(replies: Sequence[Reply], *, upload_url: str | None = None) -> tuple[str, dict[str, str]]:
    """One text for a turn's replies, and the digit → payload map of its buttons. A reply
    offering an upload (the evidence question) gets the worker's upload link."""
    parts: list[str] = []
    buttons = [b for reply in replies for b in reply.buttons]
    for reply in replies:
        if reply.text and reply.text.strip():
            parts.append(reply.text.strip())
        if reply.image:
            parts.append(reply.image)
        if reply.offer == "upload" and upload_url:
            parts.append(UPLOAD_OFFER.format(url=upload_url))
    if buttons:
        numbered = (f"{n}. {b.title}" for n, b in enumerate(buttons, start=1))
        parts.append(CHOOSE + "\n" + "\n".join(numbered))
    return "\n\n".join(parts), {str(n): b.payload for n, b in enumerate(buttons, start=1)}


def split_text(text: str, *, limit: int = TEXT_LIMIT, parts: int = SERVICE_QUOTA) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at paragraph or line ends
    where possible; at most ``parts`` pieces (the last one shortened with "…")."""
    chunks: list[str] = []
    rest = text
    while rest:
        if len(rest.encode()) <= limit:
            chunks.append(rest)
            break
        cut = len(rest.encode()[:limit].decode("utf-8", "ignore"))
        for sep in ("\n\n", "\n", "。"):
            at = rest.rfind(sep, 0, cut)
            if at > cut // 2:
                cut = at + len(sep)
                break
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if len(chunks) > parts:
        chunks = chunks[:parts]
        last = chunks[-1].encode()[: limit - 3].decode("utf-8", "ignore")
        chunks[-1] = last + "…"
    return [c for c in chunks if c]


# system busy (and our network failures), daily API quota, a token still rejected after
# one refresh: later can help. Anything else (bad template id, invalid openid) will not.
RETRYABLE = frozenset({-1, 45009}) | TOKEN_ERRORS


def _send_error(exc: WeChatApiError) -> ChannelError:
    if exc.errcode in (45015, 45047):  # window closed, quota used: wait for the worker
        return NotNow(str(exc))
    if exc.errcode == 43004:  # unfollowed
        return ChannelError(str(exc), retryable=False, unreachable=True)
    return ChannelError(str(exc), retryable=exc.errcode in RETRYABLE)


# -- the channel ------------------------------------------------------------------------------


class WeChatChannel:
    """The WeChat adapter: callback parsing for the routes, and ``send``/``notify``/
    ``fetch_attachments`` for the pipeline and the dispatcher.

    Per contact, ``Contact.channel_state`` keeps ``window_at`` (epoch seconds of the last
    message that opened the 48-hour window), ``sent`` (customer-service messages since)
    and ``buttons`` (digit → payload of the last numbered list shown).
    """

    name = CHANNEL
    merges_turns = True  # a turn is one customer-service message (5 a window): sent whole

    def __init__(
        self, settings: WeChatSettings, *, http: aiohttp.ClientSession,
        sessionmaker: async_sessionmaker[AsyncSession], template_id: str | None = None,
        template_field: str = "content", clock: Callable[[], datetime] = utcnow,
        gateway_url: str | None = None, upload_secret: str | None = None, redis: Any | None = None,
    ) -> None:
        self.settings = settings
        self._gateway_url = gateway_url
        self._upload_secret = upload_secret
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._template_id = template_id
        self._template_field = template_field
        self.crypto = (WeChatCrypto(settings.token, settings.aes_key, settings.app_id)
                       if settings.aes_key else None)
        self.api = WeChatApi(http=http, base_url=settings.api_base_url, app_id=settings.app_id,
                             app_secret=settings.app_secret, sessionmaker=sessionmaker, clock=clock,
                             redis=redis)

    # -- inbound state --------------------------------------------------------------------

    def check_fresh(self, query: Mapping[str, str]) -> None:
        """:func:`check_fresh` on this channel's clock."""
        check_fresh(query, now=self._clock())

    async def claim_callback(self, query: Mapping[str, str], *, delivery: str) -> bool:
        """Take the signed (timestamp, nonce) of a checked callback for ``delivery`` (its
        dedupe key); ``False``: another callback used them within the last ten minutes.

        WeChat retries a delivery it had no answer to within five seconds with the same
        query, nonce included, so a used nonce alone cannot mean a replay. Two rows are kept:
        the pair, and the pair bound to the delivery. The same pair with the same delivery is
        WeChat retrying (or a copy of what was already accepted): ``True``, and storing it
        again is left to the dedupe key — which also stores it now if the first try died
        between this claim and the store, so nothing is lost. The same pair with another
        delivery is a logged URL put to other use (in plain mode the body is unsigned):
        ``False``.

        The pair is claimed only after every signature passed, so unsigned junk never fills
        the table. Time and nonce together: a genuine nonce repeated by chance in another
        second is no replay. The database and not Redis: it is always there, and the claim
        and its cleanup stay in one transaction.
        """
        pair = f"{query['timestamp']}:{query['nonce']}"
        bound = f"{pair}:{hashlib.sha256(delivery.encode()).hexdigest()[:16]}"
        now = self._clock()
        async with session_scope(self._sessionmaker) as session:
            if await do_claim_nonce(session, channel=CHANNEL, nonce=pair, now=now, window=NONCE_WINDOW):
                await do_claim_nonce(session, channel=CHANNEL, nonce=bound, now=now, window=NONCE_WINDOW)
                return True
            return await nonce_seen(session, channel=CHANNEL, nonce=bound, now=now, window=NONCE_WINDOW)

    async def button_payload(self, openid: str, number: str) -> str | None:
        """The payload of button ``number`` of the list this worker was shown last."""
        async with session_scope(self._sessionmaker) as session:
            state = (await session.execute(select(Contact.channel_state).where(
                Contact.channel == CHANNEL, Contact.external_id == openid))).scalar_one_or_none()
        return ((state or {}).get("buttons") or {}).get(number)

    async def open_window(self, contact_id: int) -> None:
        """A message from the worker reached us: 48 hours and five messages from now."""
        async with session_scope(self._sessionmaker) as session:
            contact = await _locked_contact(session, contact_id)
            contact.channel_state = {**(contact.channel_state or {}),
                                     "window_at": self._clock().timestamp(), "sent": 0}

    async def mark_unsubscribed(self, openid: str) -> None:
        """The worker unfollowed: unreachable until they follow again; no window."""
        async with session_scope(self._sessionmaker) as session:
            stmt = select(Contact).where(Contact.channel == CHANNEL, Contact.external_id == openid)
            contact = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
            if contact is None:
                return  # never wrote to us: nothing to stop
            contact.unreachable_at = contact.unreachable_at or self._clock()
            contact.channel_state = {**(contact.channel_state or {}), "window_at": None, "sent": 0}

    # -- outbound -------------------------------------------------------------------------

    async def send(self, target: Target, replies: Sequence[Reply]) -> None:
        """One customer-service text for the turn; its buttons become the digit choices.

        Raises:
            NotNow: the window is closed or its quota used (no API call is made).
            ChannelError: WeChat refused (``unreachable`` when the worker unfollowed).
        """
        link = (upload_link(self._gateway_url, target.contact_id, self._upload_secret)
                 if self._gateway_url and self._upload_secret and any(r.offer == "upload" for r in replies) else None)
        text, choices = render_turn(replies, upload_url=link)
        if text:
            await self._send_custom(target, split_text(text), choices=choices)

    async def notify(self, target: Target, text: str, *, key: str) -> None:
        """A status update: a customer-service message inside the window, else the
        template message (``client_msg_id`` = ``key``) when one is configured.

        Raises:
            NotNow: outside the window and no template configured.
        """
        try:
            # The update is now the last thing the worker saw: a digit they send next answers
            # it (a 1-5 rating), not a list of buttons from days ago.
            await self._send_custom(target, split_text(text), choices={})
            return
        except NotNow:
            if not self._template_id:
                raise
        # WeChat caps client_msg_id at 64 characters; a longer key is hashed, still stable.
        client_msg_id = key if len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()
        data = {self._template_field: {"value": text}}
        try:
            await self.api.send_template(target.external_id, self._template_id, data, client_msg_id)
        except WeChatApiError as exc:
            raise _send_error(exc) from exc
        async with session_scope(self._sessionmaker) as session:
            contact = await _locked_contact(session, target.contact_id)
            contact.channel_state = {**(contact.channel_state or {}), "buttons": {}}

    async def fetch_attachments(self, meta: dict[str, Any]) -> list[Attachment]:
        """Download each referenced media item now (WeChat keeps them three days).

        Raises:
            ChannelError: a file could not be downloaded (``retryable`` if WeChat was busy).
        """
        attachments = []
        for file in meta.get("files") or []:
            data, mime, name = await self._get_media(str(file.get("media_id") or ""))
            kind = file.get("kind") or kind_of_file(mime)
            if not mime or mime == "application/octet-stream":
                speex = file.get("format") == "speex"
                mime = "audio/speex" if speex else _DEFAULT_MIME.get(kind, mime)
            attachments.append(Attachment(kind=kind, data=data, filename=name or _default_name(kind, file),
                                          mime_type=mime))
        return attachments

    async def _get_media(self, media_id: str) -> tuple[bytes, str, str | None]:
        for attempt in range(1, _FETCH_TRIES + 1):
            try:
                return await self.api.get_media(media_id)
            except WeChatApiError as exc:
                if exc.errcode != -1 or attempt == _FETCH_TRIES:
                    retryable = exc.errcode in RETRYABLE
                    raise ChannelError(f"media not downloaded: {exc}", retryable=retryable) from exc
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    async def _send_custom(
        self, target: Target, chunks: list[str], *, choices: dict[str, str] | None
    ) -> None:
        if not chunks:
            return
        window_at = await self._reserve(target.contact_id, len(chunks))
        sent = 0
        try:
            for chunk in chunks:
                body = {"msgtype": "text", "text": {"content": chunk}}
                await self.api.send_custom(target.external_id, body)
                sent += 1
        except WeChatApiError as exc:
            unused = len(chunks) - sent
            await self._settle(target.contact_id, window_at, unused=unused, refusal=exc.errcode)
            raise _send_error(exc) from exc
        await self._settle(target.contact_id, window_at, unused=0, choices=choices)

    async def _reserve(self, contact_id: int, count: int) -> float:
        """Take ``count`` messages of the quota before sending; returns the window's start.

        Raises:
            NotNow: the window is closed or has fewer than ``count`` messages left.
        """
        async with session_scope(self._sessionmaker) as session:
            contact = await _locked_contact(session, contact_id)
            state = dict(contact.channel_state or {})
            window_at, sent = state.get("window_at"), int(state.get("sent") or 0)
            age = None if window_at is None else self._clock().timestamp() - window_at
            if age is None or age > SERVICE_WINDOW.total_seconds():
                raise NotNow("WeChat's 48-hour window is closed: waiting for the worker's next message")
            if sent + count > SERVICE_QUOTA:
                raise NotNow(f"{sent} of {SERVICE_QUOTA} messages used since the worker last wrote")
            contact.channel_state = {**state, "sent": sent + count}
            return window_at

    async def _settle(self, contact_id: int, window_at: float, *, unused: int,
                      refusal: int | None = None, choices: dict[str, str] | None = None) -> None:
        """Give back what was not sent, note what WeChat said, remember the new choices."""
        async with session_scope(self._sessionmaker) as session:
            contact = await _locked_contact(session, contact_id)
            state = dict(contact.channel_state or {})
            if state.get("window_at") == window_at:  # a new message meanwhile reset it all
                state["sent"] = max(0, int(state.get("sent") or 0) - unused)
                if refusal == 45015:
                    state["window_at"] = None
                elif refusal == 45047:
                    state["sent"] = SERVICE_QUOTA
            if choices is not None:
                state["buttons"] = choices
            contact.channel_state = state


async def _locked_contact(session: AsyncSession, contact_id: int) -> Contact:
    # FOR UPDATE: send, notify and a new message change channel_state concurrently.
    stmt = select(Contact).where(Contact.id == contact_id).with_for_update()
    return (await session.execute(stmt)).scalar_one()


def _default_name(kind: str, file: Mapping[str, Any]) -> str:
    ext = file.get("format") or {"photo": "jpg", "audio": "amr", "video": "mp4"}.get(kind, "bin")
    return f"wechat-{kind}.{ext}"




# -- HTTP -------------------------------------------------------------------------------------


def _refusal(exc: CallbackRejected) -> web.Response:
    return web.Response(status=exc.status, text=str(exc), content_type="text/plain")


async def verify_url(request: web.Request, *, channel: WeChatChannel) -> web.Response:
    """``GET /wechat``: WeChat checks the URL; the answer is ``echostr`` unchanged."""
    try:
        check_signature(channel.settings.token, request.query)
    except CallbackRejected as exc:
        return _refusal(exc)
    echostr = request.query.get("echostr")
    if echostr is None:
        return web.Response(status=400, text="echostr is required", content_type="text/plain")
    return web.Response(text=echostr, content_type="text/plain")


async def _read_body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_BODY:
        raise CallbackRejected(413, "callback body too large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise CallbackRejected(413, "callback body too large")
    return bytes(body)


async def _checked_callback(
    request: web.Request, channel: WeChatChannel
) -> tuple[BaseMessage, ET.Element, InboundMessage | None]:
    """A callback that passed every check, cheapest first: size, ``signature``, freshness,
    ``msg_signature`` and decryption, the XML itself, the nonce.

    Raises:
        CallbackRejected: the answer to give (400, 403, 413).
    """
    body = await _read_body(request)
    check_signature(channel.settings.token, request.query)
    channel.check_fresh(request.query)
    text, root = unwrap_callback(body, request.query, token=channel.settings.token, crypto=channel.crypto)
    message, inbound = read_message(text, root)
    if not await channel.claim_callback(request.query, delivery=dedupe_key(message, root)):
        raise CallbackRejected(403, "this nonce was used by another callback")
    return message, root, inbound


async def receive_callback(request: web.Request, *, channel: WeChatChannel, intake: Intake,
                           limit: Throttle | None = None) -> web.Response:
    """``POST /wechat``: check, store, answer ``success`` at once; answer later. A sender over
    their rate limit is stored too but answered later (in order, by the retry round) — a
    refusal would make WeChat retry three times and then drop the message."""
    try:
        message, root, inbound = await _checked_callback(request, channel)
    except CallbackRejected as exc:
        return _refusal(exc)
    if message.type == "event" and message.event == "unsubscribe":
        await channel.mark_unsubscribed(message.source)
        return _success()
    if inbound is None:
        if (root.findtext("MsgType") or "").lower() == "event":
            return _success()  # menu links, template receipts, location reports: nothing to say
        logger.info("wechat message of unsupported type %r: hint sent", root.findtext("MsgType"))
        return _passive_text(channel, request.query, message, UNSUPPORTED)
    if (number := choice_number(inbound.text)) is not None:
        if (payload := await channel.button_payload(inbound.external_id, number)) is not None:
            inbound = replace(inbound, payload=payload, kind="button")
    accepted = await intake.accept(inbound)
    if accepted.duplicate:
        return _success()
    await channel.open_window(accepted.contact_id)
    if limit is not None and limit.check(inbound.external_id) is not None:
        words = limit.notice_once(inbound.external_id)
        return _passive_text(channel, request.query, message, words) if words else _success()
    intake.schedule(accepted)
    return _success()


def _success() -> web.Response:
    return web.Response(text="success", content_type="text/plain")


def _passive_text(
    channel: WeChatChannel, query: Mapping[str, str], message: BaseMessage, content: str
) -> web.Response:
    """An answer in the callback's own response: costs no API call and no quota."""
    xml = TextReply(message=message, content=content).render()
    if channel.crypto is not None and query.get("encrypt_type") == "aes":
        xml = channel.crypto.encrypt_message(xml, query.get("nonce", ""), query.get("timestamp"))
    return web.Response(text=xml, content_type="application/xml")
