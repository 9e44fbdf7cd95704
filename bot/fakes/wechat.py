"""A fake WeChat Official Account (公众号) API server, speaking WeChat's real wire format.

It mirrors ``https://api.weixin.qq.com/cgi-bin/...``: JSON answers carrying
``errcode``/``errmsg`` with HTTP 200, access tokens that a new fetch retires, the 48-hour
customer-service window with its 5-message quota, template messages deduplicated on
``client_msg_id``, and temporary media that expire after three days. Point the client's
base URL (``WECHAT_API_BASE_URL``) at :attr:`RunningFakeWeChat.base_url`; the client
appends ``/cgi-bin/...`` itself. Tests steer it through :class:`FakeWeChat` or, from a
shell, through the JSON routes under ``/_fake/``.

WeChat's side of a callback to our gateway (XML builders, signing, encryption) lives in
:mod:`bot.fakes.wechat_callbacks`; :meth:`FakeWeChat.post_callback` uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import secrets
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, is_dataclass
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from bot.fakes.wechat_callbacks import CallbackMode, callback_request

Clock = Callable[[], float]

TOKEN_LIFETIME = 7200  # seconds an access token lives
TOKEN_OVERLAP = 300  # a retired token keeps working this long after the next fetch
SERVICE_WINDOW = 48 * 3600  # customer-service messages only this long after an inbound
SERVICE_QUOTA = 5  # customer-service messages per inbound message
TEMPLATE_DEDUPE = 600  # a repeated client_msg_id is dropped within this many seconds
MEDIA_LIFETIME = 3 * 86400  # temporary media ids expire after three days
MEDIA_KINDS = ("image", "voice", "video", "thumb")

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}
"""WeChat's global return codes (全局返回码) that the fake answers, with WeChat's messages."""

# Events after which WeChat lets an account answer by customer-service message: following,
# scanning a code, and the menu clicks that push to the account (not "view" links).
_WINDOW_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"})
_TOKEN_ENDPOINTS = frozenset({"token", "stable_token"})


class WeChatApiError(Exception):
    """A refusal the real API would answer as ``{"errcode": code, "errmsg": ...}``."""

    def __init__(self, errcode: int) -> None:
        super().__init__(f"{errcode} {ERRMSG.get(errcode, '')}")
        self.errcode = errcode


@dataclass
class IssuedToken:
    """An access token; ``retired_at`` is when a newer fetch of the same kind replaced it."""

    value: str
    kind: str
    expires_at: float
    retired_at: float | None = None


@dataclass
class Follower:
    """A user's follow state and customer-service window."""

    openid: str
    following: bool = True
    last_inbound_at: float | None = None
    sent_since_inbound: int = 0


@dataclass
class StoredMedia:
    """A temporary media item (临时素材)."""

    media_id: str
    kind: str
    data: bytes
    content_type: str
    filename: str
    created_at: float


@dataclass
class CustomMessage:
    """An accepted ``message/custom/send`` body."""

    touser: str
    msgtype: str
    body: dict[str, Any]
    sent_at: float


@dataclass
class TemplateMessage:
    """An accepted ``message/template/send`` body."""

    msgid: int
    touser: str
    template_id: str
    data: dict[str, Any]
    url: str | None
    client_msg_id: str | None
    sent_at: float


@dataclass
class InjectedFailure:
    """The answer to give instead of handling a call: an errcode, or a bare HTTP status."""

    errcode: int = -1
    errmsg: str | None = None
    http_status: int | None = None


class FakeWeChat:
    """The fake's state and rules; every ``/cgi-bin/`` route calls one method of it.

    Methods that refuse raise :class:`WeChatApiError` with the errcode WeChat would answer.
    Time comes from ``clock`` (default ``time.time``) plus whatever :meth:`advance` added.
    """

    def __init__(
        self, app_id: str, app_secret: str, *, clock: Clock | None = None,
        templates: Iterable[str] = (),
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self._clock = clock or time.time
        self._offset = 0.0
        self._ids = itertools.count(1)
        self._tokens: dict[str, IssuedToken] = {}
        self._current: dict[str, IssuedToken] = {}
        self.token_fetches: dict[str, int] = {"token": 0, "stable_token": 0}
        self.followers: dict[str, Follower] = {}
        self.media: dict[str, StoredMedia] = {}
        self.templates: set[str] = set(templates)
        self.sent_messages: list[CustomMessage] = []
        self.sent_templates: list[TemplateMessage] = []
        self._by_client_msg_id: dict[str, TemplateMessage] = {}
        self._failures: dict[str, deque[InjectedFailure]] = {}
        self._delays: dict[str | None, float] = {}

    # -- time --------------------------------------------------------------------------

    def now(self) -> float:
        """The fake's current time, in epoch seconds."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the fake's clock forward (tokens, windows, media age); returns the new time."""
        self._offset += seconds
        return self.now()

    # -- access tokens -----------------------------------------------------------------

    @property
    def token_fetch_count(self) -> int:
        """Successful calls to ``token`` and ``stable_token`` together."""
        return sum(self.token_fetches.values())

    def fetch_token(self, appid: str, secret: str) -> IssuedToken:
        """``GET cgi-bin/token``: always a new token; the previous one lives 5 more minutes."""
        self._check_credentials(appid, secret)
        self.token_fetches["token"] += 1
        return self._issue("token")

    def fetch_stable_token(self, appid: str, secret: str, *, force_refresh: bool) -> IssuedToken:
        """``POST cgi-bin/stable_token``: the current token, unless forced or in its last 5 min.

        WeChat keeps stable tokens apart from ``cgi-bin/token`` ones: neither retires the other.
        """
        self._check_credentials(appid, secret)
        self.token_fetches["stable_token"] += 1
        current = self._current.get("stable_token")
        if force_refresh or current is None or current.expires_at - self.now() <= TOKEN_OVERLAP:
            return self._issue("stable_token")
        return current

    def expires_in(self, token: IssuedToken) -> int:
        """Seconds left, as the ``expires_in`` field reports them."""
        return max(0, int(token.expires_at - self.now()))

    def check_access_token(self, value: str) -> None:
        """Missing → 41001; unknown, or retired over 5 min ago → 40001; past 7200 s → 42001."""
        if not value:
            raise WeChatApiError(41001)
        token = self._tokens.get(value)
        if token is None:
            raise WeChatApiError(40001)
        if self.now() >= token.expires_at:
            raise WeChatApiError(42001)
        if token.retired_at is not None and self.now() >= token.retired_at + TOKEN_OVERLAP:
            raise WeChatApiError(40001)

    def _check_credentials(self, appid: str, secret: str) -> None:
        if appid != self.app_id:
            raise WeChatApiError(40013)
        if not secrets.compare_digest(secret.encode(), self.app_secret.encode()):
            raise WeChatApiError(40125)

    def _issue(self, kind: str) -> IssuedToken:
        previous = self._current.get(kind)
        if previous is not None:
            previous.retired_at = self.now()
        value = f"{next(self._ids)}_{secrets.token_urlsafe(48)}"
        token = IssuedToken(value, kind, self.now() + TOKEN_LIFETIME)
        self._tokens[token.value] = self._current[kind] = token
        return token

    # -- followers and inbound messages ------------------------------------------------

    def add_follower(self, openid: str) -> Follower:
        """Make ``openid`` follow the account (the window stays closed until an inbound)."""
        follower = self.followers.setdefault(openid, Follower(openid))
        follower.following = True
        return follower

    def remove_follower(self, openid: str) -> Follower:
        """The user unfollows: sends to them now answer 43004."""
        follower = self.add_follower(openid)
        follower.following = False
        return follower

    def add_template(self, template_id: str) -> None:
        """Make ``template_id`` one of the account's templates (others answer 40037)."""
        self.templates.add(template_id)

    def note_inbound(self, openid: str, at: float | None = None) -> Follower:
        """A message from ``openid`` reached WeChat: open the 48 h window, reset the quota."""
        follower = self.add_follower(openid)
        follower.last_inbound_at = self.now() if at is None else at
        follower.sent_since_inbound = 0
        return follower

    def note_callback(self, xml: str) -> None:
        """Apply what a callback XML means for the user: message, (un)subscribe or click."""
        root = ET.fromstring(xml)
        openid = root.findtext("FromUserName") or ""
        event = (root.findtext("Event") or "").lower()
        if (root.findtext("MsgType") or "").lower() != "event" or event in _WINDOW_EVENTS:
            self.note_inbound(openid)
        elif event == "unsubscribe":
            self.remove_follower(openid)

    async def post_callback(
        self, http: aiohttp.ClientSession, url: str, xml: str, *,
        token: str, mode: CallbackMode = "plain", aes_key: str | None = None,
    ) -> tuple[int, bytes]:
        """Note ``xml`` as received, then POST it to our gateway as WeChat would.

        Returns the gateway's HTTP status and body (``success``, empty, or a passive reply).
        """
        self.note_callback(xml)
        params, body = callback_request(mode, token, aes_key, self.app_id, xml)
        headers = {"Content-Type": "text/xml"}
        async with http.post(url, params=params, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    # -- sending -----------------------------------------------------------------------

    def send_custom(self, body: Mapping[str, Any]) -> CustomMessage:
        """``message/custom/send``: 43004 not following, 45015 window closed, 45047 quota."""
        follower = self._following_or_raise(body.get("touser"))
        last = follower.last_inbound_at
        if last is None or self.now() - last > SERVICE_WINDOW:
            raise WeChatApiError(45015)
        if follower.sent_since_inbound >= SERVICE_QUOTA:
            raise WeChatApiError(45047)
        msgtype = str(body.get("msgtype"))
        self._check_custom_content(msgtype, body.get(msgtype))
        follower.sent_since_inbound += 1
        message = CustomMessage(follower.openid, msgtype, dict(body), self.now())
        self.sent_messages.append(message)
        return message

    def _check_custom_content(self, msgtype: str, content: object) -> None:
        if msgtype not in {"text", "image", "voice", "video", "msgmenu"}:
            raise WeChatApiError(40008)
        if not isinstance(content, dict):
            raise WeChatApiError(47001)
        if msgtype == "text" and not content.get("content"):
            raise WeChatApiError(44004)
        if msgtype in {"image", "voice", "video"}:
            self.get_media_or_raise(str(content.get("media_id")))
        if msgtype == "msgmenu" and not (isinstance(content.get("list"), list) and content["list"]):
            raise WeChatApiError(47001)

    def send_template(self, body: Mapping[str, Any]) -> int:
        """``message/template/send``: 40037 unknown template, 43004 not following; no window.

        Returns the msgid. A ``client_msg_id`` seen in the last 10 minutes returns the first
        send's msgid and delivers nothing, as WeChat drops duplicates.
        """
        if str(body.get("template_id")) not in self.templates:
            raise WeChatApiError(40037)
        follower = self._following_or_raise(body.get("touser"))
        data, client_msg_id = body.get("data", {}), body.get("client_msg_id")
        if not isinstance(data, dict) or not isinstance(client_msg_id, (str, type(None))):
            raise WeChatApiError(47001)
        earlier = self._by_client_msg_id.get(client_msg_id) if client_msg_id else None
        if earlier is not None and self.now() - earlier.sent_at < TEMPLATE_DEDUPE:
            return earlier.msgid
        message = TemplateMessage(
            next(self._ids), follower.openid, str(body["template_id"]), data, body.get("url"),
            client_msg_id, self.now(),
        )
        self.sent_templates.append(message)
        if client_msg_id:
            self._by_client_msg_id[client_msg_id] = message
        return message.msgid

    def _following_or_raise(self, openid: object) -> Follower:
        if not isinstance(openid, str) or not openid:
            raise WeChatApiError(40003)
        follower = self.followers.get(openid)
        if follower is None or not follower.following:
            raise WeChatApiError(43004)
        return follower

    # -- media -------------------------------------------------------------------------

    def add_media(
        self, data: bytes, *, content_type: str, filename: str, kind: str = "image",
        at: float | None = None,
    ) -> str:
        """Store temporary media as a user's upload or ``media/upload`` would; returns its id."""
        if kind not in MEDIA_KINDS:
            raise WeChatApiError(40004)
        media_id = f"fake_{kind}_{next(self._ids)}_{secrets.token_urlsafe(24)}"
        created_at = self.now() if at is None else at
        self.media[media_id] = StoredMedia(media_id, kind, data, content_type, filename, created_at)
        return media_id

    def get_media_or_raise(self, media_id: str) -> StoredMedia:
        """The media item, or 40007 when unknown or older than three days."""
        media = self.media.get(media_id)
        if media is None or self.now() - media.created_at > MEDIA_LIFETIME:
            raise WeChatApiError(40007)
        return media

    # -- failure injection -------------------------------------------------------------

    def fail_next(
        self, endpoint: str, times: int = 1, *, errcode: int = -1, errmsg: str | None = None,
        http_status: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``endpoint`` (e.g. ``"message/custom/send"``)
        with ``errcode`` (-1 system error, 45009 daily quota, ...) or, if ``http_status`` is
        given, a bare HTTP error. Nothing is delivered or recorded for those calls."""
        failure = InjectedFailure(errcode, errmsg, http_status)
        self._failures.setdefault(_endpoint(endpoint), deque()).extend([failure] * times)

    def take_failure(self, endpoint: str) -> InjectedFailure | None:
        """The failure to answer this call with, if one is queued (consumes it)."""
        queue = self._failures.get(_endpoint(endpoint))
        return queue.popleft() if queue else None

    def set_delay(self, seconds: float, endpoint: str | None = None) -> None:
        """Answer ``endpoint`` (or every endpoint, if None) only after ``seconds`` of real time."""
        self._delays[_endpoint(endpoint) if endpoint else None] = seconds

    def delay_for(self, endpoint: str) -> float:
        """The delay configured for ``endpoint``, else the all-endpoints one."""
        return self._delays.get(_endpoint(endpoint), self._delays.get(None, 0.0))


def _endpoint(path: str) -> str:
    return path.strip("/").removeprefix("cgi-bin/")


# -- HTTP: the /cgi-bin/ API ---------------------------------------------------------------

FAKE_WECHAT = web.AppKey("fake_wechat", FakeWeChat)
_dumps = partial(json.dumps, ensure_ascii=False)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=_dumps)


def _error(errcode: int, errmsg: str | None = None) -> web.Response:
    # Real errmsgs end in a request id; matching on errmsg instead of errcode breaks.
    message = errmsg or ERRMSG.get(errcode, "error")
    return _json({"errcode": errcode, "errmsg": f"{message} rid: {secrets.token_hex(4)}"})


async def _api_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError as exc:
        raise WeChatApiError(47001) from exc
    if not isinstance(body, dict):
        raise WeChatApiError(47001)
    return body


@web.middleware
async def _cgi_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Delay, injected failure and the access_token check, before any ``/cgi-bin/`` handler."""
    if not request.path.startswith("/cgi-bin/"):
        return await handler(request)
    fake, endpoint = request.app[FAKE_WECHAT], _endpoint(request.path)
    if (seconds := fake.delay_for(endpoint)) > 0:
        await asyncio.sleep(seconds)
    if (failure := fake.take_failure(endpoint)) is not None:
        if failure.http_status is not None:
            return web.Response(status=failure.http_status, text="Internal Server Error")
        return _error(failure.errcode, failure.errmsg)
    try:
        if endpoint not in _TOKEN_ENDPOINTS:
            fake.check_access_token(request.query.get("access_token", ""))
        return await handler(request)
    except WeChatApiError as exc:
        return _error(exc.errcode)


async def token_view(request: web.Request) -> web.Response:
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=``."""
    fake, query = request.app[FAKE_WECHAT], request.query
    if query.get("grant_type") != "client_credential":
        raise WeChatApiError(40002)
    token = fake.fetch_token(query.get("appid", ""), query.get("secret", ""))
    return _json({"access_token": token.value, "expires_in": fake.expires_in(token)})


async def stable_token_view(request: web.Request) -> web.Response:
    """``POST /cgi-bin/stable_token`` with JSON ``{grant_type, appid, secret, force_refresh}``."""
    fake, body = request.app[FAKE_WECHAT], await _api_body(request)
    if body.get("grant_type") != "client_credential":
        raise WeChatApiError(40002)
    token = fake.fetch_stable_token(
        str(body.get("appid", "")), str(body.get("secret", "")),
        force_refresh=body.get("force_refresh") is True,
    )
    return _json({"access_token": token.value, "expires_in": fake.expires_in(token)})


async def custom_send_view(request: web.Request) -> web.Response:
    """``POST /cgi-bin/message/custom/send``."""
    request.app[FAKE_WECHAT].send_custom(await _api_body(request))
    return _json({"errcode": 0, "errmsg": "ok"})


async def template_send_view(request: web.Request) -> web.Response:
    """``POST /cgi-bin/message/template/send``."""
    msgid = request.app[FAKE_WECHAT].send_template(await _api_body(request))
    return _json({"errcode": 0, "errmsg": "ok", "msgid": msgid})


async def media_get_view(request: web.Request) -> web.Response:
    """``GET /cgi-bin/media/get``: the bytes, or for video ``{"video_url": ...}``."""
    media = request.app[FAKE_WECHAT].get_media_or_raise(request.query.get("media_id", ""))
    if media.kind == "video":
        path = request.app.router["fake_video"].url_for(media_id=media.media_id)
        return _json({"video_url": str(request.url.origin().join(path))})
    return _media_response(media)


def _media_response(media: StoredMedia) -> web.Response:
    headers = {
        "Content-Type": media.content_type,
        "Content-disposition": f'attachment; filename="{media.filename}"',
    }
    return web.Response(body=media.data, headers=headers)


async def media_upload_view(request: web.Request) -> web.Response:
    """``POST /cgi-bin/media/upload?type=image`` with the file in multipart field ``media``."""
    fake, kind = request.app[FAKE_WECHAT], request.query.get("type", "")
    if kind not in MEDIA_KINDS:
        raise WeChatApiError(40004)
    if not request.content_type.startswith("multipart/"):
        raise WeChatApiError(41005)
    async for part in await request.multipart():
        if isinstance(part, aiohttp.BodyPartReader) and part.name == "media":
            filename = part.filename or kind
            content_type = (part.headers.get("Content-Type") or mimetypes.guess_type(filename)[0]
                            or "application/octet-stream")
            data = await part.read(decode=False)
            media_id = fake.add_media(
                bytes(data), content_type=content_type, filename=filename, kind=kind
            )
            return _json({"type": kind, "media_id": media_id, "created_at": int(fake.now())})
    raise WeChatApiError(41005)


async def video_view(request: web.Request) -> web.Response:
    """The ``video_url`` of a video media item: the bytes, no access token (404 if gone)."""
    try:
        media = request.app[FAKE_WECHAT].get_media_or_raise(request.match_info["media_id"])
    except WeChatApiError as exc:
        raise web.HTTPNotFound() from exc
    return _media_response(media)


# -- HTTP: the /_fake/ control routes --------------------------------------------------

# Methods of FakeWeChat callable as ``POST /_fake/<name>`` with their keyword arguments as a
# JSON object, so the HTTP control API is the Python one, e.g. ``{"openid": "o1"}``.
CONTROL_METHODS = frozenset({
    "add_follower", "remove_follower", "note_inbound", "add_template", "advance",
    "fail_next", "set_delay",
})


async def control_call(request: web.Request) -> web.Response:
    """``POST /_fake/{method}``: call one of :data:`CONTROL_METHODS`; answer its result."""
    name = request.match_info["method"]
    if name not in CONTROL_METHODS:
        raise web.HTTPNotFound(text=f"control methods: {', '.join(sorted(CONTROL_METHODS))}")
    try:
        body = await request.json() if request.can_read_body else {}
        result = getattr(request.app[FAKE_WECHAT], name)(**body)
    except (TypeError, ValueError, WeChatApiError) as exc:
        raise web.HTTPBadRequest(text=f"{name}: {exc}") from exc
    return _json(asdict(result) if is_dataclass(result) else {"result": result})


async def control_add_media(request: web.Request) -> web.Response:
    """``POST /_fake/media?kind=image&filename=a.jpg`` with the raw bytes as the body."""
    fake, query = request.app[FAKE_WECHAT], request.query
    kind = query.get("kind", "image")
    try:
        media_id = fake.add_media(await request.read(), content_type=request.content_type,
                                  filename=query.get("filename", kind), kind=kind)
    except WeChatApiError as exc:
        raise web.HTTPBadRequest(text=f"kind must be one of {MEDIA_KINDS}") from exc
    return _json({"media_id": media_id})


async def control_messages(request: web.Request) -> web.Response:
    """``GET /_fake/messages``: accepted customer-service messages, oldest first."""
    return _json({"messages": [asdict(m) for m in request.app[FAKE_WECHAT].sent_messages]})


async def control_template_messages(request: web.Request) -> web.Response:
    """``GET /_fake/template-messages``: accepted template messages, oldest first."""
    return _json({"messages": [asdict(m) for m in request.app[FAKE_WECHAT].sent_templates]})


async def control_tokens(request: web.Request) -> web.Response:
    """``GET /_fake/tokens``: successful token fetches, in all and per endpoint."""
    fake = request.app[FAKE_WECHAT]
    return _json({"fetches": fake.token_fetch_count, "by_endpoint": fake.token_fetches})


def create_fake_wechat(
    app_id: str, app_secret: str, *, clock: Clock | None = None, templates: Iterable[str] = ()
) -> web.Application:
    """The fake as an aiohttp app; its state is ``app[FAKE_WECHAT]``."""
    app = web.Application(middlewares=[_cgi_middleware])
    app[FAKE_WECHAT] = FakeWeChat(app_id, app_secret, clock=clock, templates=templates)
    app.router.add_routes([
        web.get("/cgi-bin/token", token_view),
        web.post("/cgi-bin/stable_token", stable_token_view),
        web.post("/cgi-bin/message/custom/send", custom_send_view),
        web.post("/cgi-bin/message/template/send", template_send_view),
        web.get("/cgi-bin/media/get", media_get_view),
        web.post("/cgi-bin/media/upload", media_upload_view),
        web.get("/_fake/video/{media_id}", video_view, name="fake_video"),
        web.post("/_fake/media", control_add_media),
        web.get("/_fake/messages", control_messages),
        web.get("/_fake/template-messages", control_template_messages),
        web.get("/_fake/tokens", control_tokens),
        web.post("/_fake/{method}", control_call),
    ])
    return app


@dataclass(frozen=True)
class RunningFakeWeChat:
    """A fake bound to loopback: its state, and the base URL to give our client."""

    state: FakeWeChat
    base_url: str
    app: web.Application


@asynccontextmanager
async def running_fake_wechat(
    app_id: str = "wxfake0000000001", app_secret: str = "fake-app-secret", *,
    clock: Clock | None = None, templates: Iterable[str] = (),
) -> AsyncIterator[RunningFakeWeChat]:
    """Serve the fake on 127.0.0.1 on a free port for the duration of the block."""
    app = create_fake_wechat(app_id, app_secret, clock=clock, templates=templates)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield RunningFakeWeChat(app[FAKE_WECHAT], f"http://{host}:{port}", app)
    finally:
        await runner.cleanup()
