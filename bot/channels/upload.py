"""Signed, expiring upload links: how a worker sends documents a channel will not carry.

WeChat lets a worker send photos, voice and video to an official account, but no PDFs or
other files. The bot offers a link ``/upload/<token>`` instead; the token names the contact
and an expiry, signed with HMAC-SHA256 under ``UPLOAD_SECRET``, so the page needs no login
and a forged or old link gets a 403 page. Files arrive as one inbound message of the
contact (on the contact's own channel) and are stored as evidence by the pipeline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import re
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.models import Contact
from bot.channels.base import InboundMessage, Intake
from bot.channels.streaming import UploadLimits, UploadRefused, check_daily_quota, receive_files
from bot.db import session_scope, utcnow

logger = logging.getLogger(__name__)

DEFAULT_TTL = 3 * 24 * 3600  # seconds a link works: long enough to find the papers
MAX_FILE = UploadLimits.per_file
MAX_FILES = UploadLimits.max_files
_PURPOSE = b"gongyou-upload-v1:"  # a MAC for uploads is never valid for anything else
_SUBMISSION = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
# <contact id>.<expiry>.<43 characters of unpadded base64url>, ASCII only. Checked whole before
# any part is used: str.isdigit() is true for "²" and "١", and int() of a 5000-digit string
# raises — both were a 500 for a mangled link. 18 digits keep the id inside a BIGINT.
_TOKEN = re.compile(r"^([0-9]{1,18})\.([0-9]{1,12})\.([A-Za-z0-9_\-]{43})$", re.ASCII)


@dataclass(frozen=True)
class UploadSettings:
    secret: str
    limits: UploadLimits = field(default_factory=UploadLimits)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: str, contact_id: int, expires_at: int) -> str:
    message = _PURPOSE + f"{contact_id}.{expires_at}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def make_upload_token(contact_id: int, secret: str, *, expires_at: int) -> str:
    """``<contact id>.<expiry, epoch seconds>.<signature>``."""
    if not secret:
        raise ValueError("an upload secret is required")
    return f"{contact_id}.{expires_at}.{_mac(secret, contact_id, expires_at)}"


def get_token_contact(token: str, secret: str, *, now: float | None = None) -> int | None:
    """The contact id a token was made for; ``None`` if it is forged, malformed or expired."""
    match = _TOKEN.fullmatch(token)
    if match is None or not secret:
        return None
    contact_id, expires_at = int(match[1]), int(match[2])
    expected = _mac(secret, contact_id, expires_at).encode()
    if not hmac.compare_digest(expected, match[3].encode()):
        return None
    if expires_at <= (time.time() if now is None else now):
        return None
    return contact_id


def upload_link(gateway_url: str, contact_id: int, secret: str, ttl: int = DEFAULT_TTL, *,
                now: float | None = None) -> str:
    """The address to offer a worker for sending files; it works for ``ttl`` seconds."""
    expires_at = int((time.time() if now is None else now) + ttl)
    token = make_upload_token(contact_id, secret, expires_at=expires_at)
    return f"{gateway_url.rstrip('/')}/upload/{token}"


# -- pages ----------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>工友助手 · 上传材料</title>
<style>
body{{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
padding:1.2rem;background:#f5f5f5;color:#222;font-size:17px;line-height:1.6}}
main{{max-width:32rem;margin:auto;background:#fff;border-radius:12px;padding:1.2rem}}
h1{{font-size:1.3rem;margin:0 0 .6rem}} input[type=file]{{margin:1rem 0;width:100%}}
button{{width:100%;padding:.8rem;font-size:1.1rem;border:0;border-radius:8px;
background:#07c160;color:#fff}}
.note{{color:#666;font-size:.9rem}}
</style></head><body><main>{body}</main></body></html>"""

_FORM = """<h1>上传材料</h1>
<p>劳动合同、工资条、考勤记录、聊天截图、病历……都可以传，一次最多 {max_files} 个，
每个不超过 {max_mb} MB，一次加起来不超过 {total_mb} MB。</p>
<form method="post" enctype="multipart/form-data">
<input type="hidden" name="submission" value="{submission}">
<input type="file" name="file" multiple required>
<button type="submit">上传</button>
</form>
<p class="note">材料只给处理您事情的工会工作人员看。</p>"""


def _page(body: str, status: int = 200) -> web.Response:
    return web.Response(text=_PAGE.format(body=body), status=status, content_type="text/html",
                        charset="utf-8")


def _message_page(title: str, text: str, status: int) -> web.Response:
    return _page(f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>", status)


def _forbidden() -> web.Response:
    return _message_page("链接已失效", "这个上传链接不对或已经过期了。请回到聊天里再要一个新链接。", 403)


async def _contact_or_none(request: web.Request, config: UploadSettings,
                           sessionmaker: async_sessionmaker[AsyncSession]) -> Contact | None:
    contact_id = get_token_contact(request.match_info["token"], config.secret)
    if contact_id is None:
        return None
    async with session_scope(sessionmaker) as session:
        return await session.get(Contact, contact_id)


async def upload_form(request: web.Request, *, config: UploadSettings,
                      sessionmaker: async_sessionmaker[AsyncSession]) -> web.Response:
    """``GET /upload/<token>``: the form (403 page for a forged or expired link)."""
    if await _contact_or_none(request, config, sessionmaker) is None:
        return _forbidden()
    limits = config.limits
    return _page(_FORM.format(max_files=limits.max_files, max_mb=limits.per_file // (1024 * 1024),
                              total_mb=limits.per_request // (1024 * 1024), submission=secrets.token_urlsafe(16)))


async def receive_upload(request: web.Request, *, config: UploadSettings,
                         sessionmaker: async_sessionmaker[AsyncSession], intake: Intake) -> web.Response:
    """``POST /upload/<token>`` (multipart ``file`` parts): each file becomes evidence of the
    contact, through the pipeline as a message of theirs; the page says how many arrived.

    The files stream to temporary files within ``config.limits``; over a cap (per file,
    per request, per contact and day) the page says which, with 413, and nothing is stored.
    """
    contact = await _contact_or_none(request, config, sessionmaker)
    if contact is None:
        return _forbidden()
    if not request.content_type.startswith("multipart/"):
        return _message_page("没有上传成功", "请用页面上的按钮选择文件上传。", 400)
    try:
        async with receive_files(request, config.limits, fields=("submission",), skip_empty=True) as received:
            if not received.files:
                raise UploadRefused("没有收到文件，请先选择文件再上传。", status=400)
            async with session_scope(sessionmaker) as session:
                await check_daily_quota(session, contact_id=contact.id, incoming=received.total,
                                        limits=config.limits, now=utcnow())
            # The form's own id makes a resubmitted page (refresh, double tap) a repeat, not a copy.
            submission = received.fields.get("submission")
            if not (submission and _SUBMISSION.match(submission)):
                submission = secrets.token_urlsafe(16)
            accepted = await intake.accept(InboundMessage(
                channel=contact.channel, external_id=contact.external_id,
                dedupe_key=f"upload:{contact.id}:{submission}", kind=received.files[0].kind,
                meta={"via": "upload"}, attachments=tuple(received.files),
            ))
            count = len(received.files)
    except UploadRefused as exc:
        return _message_page("没有上传成功", str(exc), exc.status)
    intake.schedule(accepted)
    logger.info("upload: %s file(s) for contact %s (repeat: %s)", count, contact.id, accepted.duplicate)
    return _message_page(f"收到 {count} 份", "材料已经保存好了，可以关掉这个页面，回到聊天里继续。", 200)
