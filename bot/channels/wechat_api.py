"""A small aiohttp client for the few WeChat Official Account endpoints the gateway calls.

wechatpy stays for what it does well (parsing callbacks, crypto, signatures); its client is
synchronous, hard-codes the token URL and retries token failures without bound, so the
calls themselves are made here, against ``WECHAT_API_BASE_URL`` + ``/cgi-bin/...``.

The access token has one owner: every fetch of a new token retires the previous one (five
minutes later), so all gateways share the token through the ``channel_tokens`` row and only
the process holding that row's lock fetches a new one. With ``REDIS_URL`` set, the token
is also published in Redis, where every process reads it first (the row stays the lock and
the record; Redis only spares the database a read per process and expiry).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.models import ChannelToken
from bot.db import session_scope, utcnow

logger = logging.getLogger(__name__)

# A token this close to its end is refreshed: WeChat's own overlap is five minutes.
REFRESH_MARGIN = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid, malformed, expired access token
TIMEOUT = aiohttp.ClientTimeout(total=15)
MAX_MEDIA = 60 * 1024 * 1024  # above evidence's own 50 MB limit, so that one names the refusal
_FILENAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.IGNORECASE)


class WeChatApiError(Exception):
    """WeChat refused a call (``errcode``/``errmsg`` of its answer).

    Network failures and HTTP errors are reported as ``errcode`` -1 ("system busy"), which
    is what they mean to a caller: try again later.
    """

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class WeChatApi:
    """The endpoints we call, each raising :class:`WeChatApiError` on refusal.

    A call rejected for its token (40001, 40014, 42001) refreshes the token once and is
    retried once; a second rejection is raised, never looped on.
    """

    def __init__(
        self, *, http: aiohttp.ClientSession, base_url: str, app_id: str, app_secret: str,
        sessionmaker: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow,
        redis: Any | None = None,
    ) -> None:
        self._http = http
        self._redis = redis  # a redis.asyncio.Redis, or None
        self._base = base_url.rstrip("/") + "/cgi-bin/"
        self._app_id = app_id
        self._app_secret = app_secret
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._name = f"wechat:{app_id}"
        self._cached: _Token | None = None
        self._lock = asyncio.Lock()

    # -- endpoints --------------------------------------------------------------------

    async def send_custom(self, openid: str, body: dict[str, Any]) -> None:
        """``message/custom/send``: ``body`` is the message without ``touser``
        (e.g. ``{"msgtype": "text", "text": {"content": "…"}}``)."""
        await self._with_token(lambda token: self._post_json(
            "message/custom/send", token, {"touser": openid, **body}))

    async def send_template(
        self, openid: str, template_id: str, data: dict[str, Any], client_msg_id: str,
        *, url: str | None = None,
    ) -> int:
        """``message/template/send`` with ``client_msg_id``, so WeChat itself drops a repeat
        within ten minutes; returns WeChat's msgid."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data,
                                "client_msg_id": client_msg_id}
        if url:
            body["url"] = url
        answer = await self._with_token(
            lambda token: self._post_json("message/template/send", token, body))
        return int(answer.get("msgid") or 0)

    async def get_media(self, media_id: str) -> tuple[bytes, str, str | None]:
        """``media/get``: the bytes, MIME type and file name of temporary media (a video
        answers with a ``video_url``, which is fetched)."""
        return await self._with_token(lambda token: self._get_media(media_id, token))

    # -- access token -----------------------------------------------------------------

    async def access_token(self) -> str:
        """A token with more than five minutes to live: from memory, else from the shared
        row, else fetched (by one coroutine of this process, holding the row's lock)."""
        cached = self._cached
        if cached is not None and cached.expires_at - self._clock() > REFRESH_MARGIN:
            return cached.value
        return await self._refresh(stale=None)

    async def _refresh(self, *, stale: str | None) -> str:
        """The shared token, fetching a new one when the row is missing, near its end, or
        holds ``stale`` (a token WeChat just rejected)."""
        async with self._lock:
            cached = self._cached
            fresh = cached is not None and cached.expires_at - self._clock() > REFRESH_MARGIN
            if cached is not None and fresh and cached.value != stale:
                return cached.value  # another coroutine refreshed while we waited
            shared = await self._from_redis()
            if shared is not None and shared.value != stale and shared.expires_at - self._clock() > REFRESH_MARGIN:
                self._cached = shared
                return shared.value
            async with session_scope(self._sessionmaker) as session:
                token = await self._shared_token(session, stale=stale)
            self._cached = token
            await self._to_redis(token)
            return token.value

    @property
    def _redis_key(self) -> str:
        return f"gongyou:channel-token:{self._name}"

    async def _from_redis(self) -> _Token | None:
        if self._redis is None:
            return None
        try:
            raw = await self._redis.get(self._redis_key)
            if not raw:
                return None
            data = json.loads(raw)
            return _Token(str(data["token"]), datetime.fromisoformat(data["expires_at"]))
        except Exception as exc:  # Redis is a cache: when it is away, the database answers
            logger.warning("wechat token: Redis not readable (%s); using the database", exc)
            return None

    async def _to_redis(self, token: _Token) -> None:
        if self._redis is None:
            return
        ttl = int((token.expires_at - self._clock()).total_seconds())
        if ttl <= 0:
            return
        try:
            await self._redis.set(self._redis_key, json.dumps(
                {"token": token.value, "expires_at": token.expires_at.isoformat()}), ex=ttl)
        except Exception as exc:
            logger.warning("wechat token: not published to Redis (%s)", exc)

    async def _shared_token(self, session: AsyncSession, *, stale: str | None) -> _Token:
        row = await self._locked_row(session)
        now = self._clock()
        if row.token and row.token != stale and row.expires_at - now > REFRESH_MARGIN:
            return _Token(row.token, row.expires_at)
        fetched = await self._fetch_stable_token(force=False)
        if stale is not None and fetched.value == stale:
            # WeChat still calls this token current while rejecting it: force a new one.
            fetched = await self._fetch_stable_token(force=True)
        row.token, row.expires_at, row.updated_at = fetched.value, fetched.expires_at, now
        logger.info("wechat access token fetched (expires %s)", fetched.expires_at.isoformat())
        return fetched

    async def _locked_row(self, session: AsyncSession) -> ChannelToken:
        """The token row, locked until the transaction ends: other gateways wait here while
        this one fetches (on SQLite every transaction of ours begins IMMEDIATE, which
        serialises them the same way)."""
        stmt = select(ChannelToken).where(ChannelToken.name == self._name).with_for_update()
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is not None:
            return row
        # No row to lock yet: insert an empty one. A second gateway's insert waits on the
        # unique key until ours commits (with the token), then finds the row filled.
        try:
            async with session.begin_nested():
                session.add(ChannelToken(name=self._name, token="", expires_at=_EPOCH,
                                         updated_at=self._clock()))
        except IntegrityError:
            pass
        return (await session.execute(stmt)).scalar_one()

    async def _fetch_stable_token(self, *, force: bool) -> _Token:
        body = {"grant_type": "client_credential", "appid": self._app_id,
                "secret": self._app_secret, "force_refresh": force}
        answer = await self._request("POST", self._base + "stable_token", json_body=body)
        try:
            value, lifetime = str(answer["access_token"]), int(answer["expires_in"])
        except (KeyError, TypeError, ValueError) as exc:
            raise WeChatApiError(-1, "stable_token answer without access_token") from exc
        return _Token(value, self._clock() + timedelta(seconds=lifetime))

    async def _with_token(self, call: Callable[[str], Awaitable[Any]]) -> Any:
        token = await self.access_token()
        try:
            return await call(token)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            logger.warning("wechat rejected the access token (%s): refreshing once", exc.errcode)
        return await call(await self._refresh(stale=token))

    # -- HTTP -------------------------------------------------------------------------

    async def _post_json(self, endpoint: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", self._base + endpoint, params={"access_token": token},
                                   json_body=body)

    async def _request(
        self, method: str, url: str, *, params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # ensure_ascii=False: WeChat shows "\u6b20" escapes literally in some clients.
        data = json.dumps(json_body, ensure_ascii=False).encode() if json_body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            async with self._http.request(method, url, params=params, data=data, headers=headers,
                                          timeout=TIMEOUT) as resp:
                if resp.status != 200:
                    raise WeChatApiError(-1, f"HTTP {resp.status} from {_endpoint(url)}")
                raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise WeChatApiError(-1, f"{_endpoint(url)} unreachable: {type(exc).__name__}") from exc
        return _checked(raw, url)

    async def _get_media(self, media_id: str, token: str) -> tuple[bytes, str, str | None]:
        url = self._base + "media/get"
        try:
            async with self._http.get(url, params={"access_token": token, "media_id": media_id},
                                      timeout=TIMEOUT) as resp:
                if resp.status != 200:
                    raise WeChatApiError(-1, f"HTTP {resp.status} from media/get")
                mime = resp.content_type
                disposition = resp.headers.get("Content-Disposition", "")
                data = await _read_limited(resp)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise WeChatApiError(-1, f"media/get unreachable: {type(exc).__name__}") from exc
        if mime in ("application/json", "text/plain"):
            answer = _checked(data, url)  # an error, or a video's download address
            video_url = answer.get("video_url")
            if not video_url:
                raise WeChatApiError(-1, "media/get answered JSON without video_url")
            return await self._download(str(video_url))
        return data, mime, _filename(disposition)

    async def _download(self, url: str) -> tuple[bytes, str, str | None]:
        try:
            async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=120)) as resp:
                if resp.status != 200:
                    errcode = 40007 if resp.status == 404 else -1  # 404: the video expired
                    raise WeChatApiError(errcode, f"HTTP {resp.status} from video_url")
                data = await _read_limited(resp)
                mime = resp.content_type
                name = _filename(resp.headers.get("Content-Disposition", ""))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise WeChatApiError(-1, f"video_url unreachable: {type(exc).__name__}") from exc
        if mime == "application/octet-stream":
            mime = "video/mp4"
        return data, mime, name or f"video{mimetypes.guess_extension(mime) or '.mp4'}"


async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > MAX_MEDIA:
            raise WeChatApiError(-2, f"media larger than {MAX_MEDIA // (1024 * 1024)} MB")
    return bytes(data)


def _checked(raw: bytes, url: str) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise WeChatApiError(-1, f"{_endpoint(url)} answered something that is not JSON") from exc
    if not isinstance(answer, dict):
        raise WeChatApiError(-1, f"{_endpoint(url)} answered JSON that is not an object")
    errcode = answer.get("errcode") or 0
    if errcode != 0:
        raise WeChatApiError(int(errcode), str(answer.get("errmsg", "")))
    return answer


def _endpoint(url: str) -> str:
    return url.split("/cgi-bin/", 1)[-1].split("?", 1)[0]


def _filename(disposition: str) -> str | None:
    match = _FILENAME.search(disposition)
    return match.group(1).strip() if match else None
