"""Who is asking: the session cookie (console pages) or a bearer token (the JSON API);
CSRF on every state-changing request a browser can make; log-in, log-out.

The middleware resolves the staff member once per request into ``request[STAFF]``; views
never read cookies or headers themselves. What a staff member may touch is decided in
``bot.cases.access``, not here.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from bot.cases.access import Actor, load_actor
from bot.cases.accounts import do_login, do_logout, get_session_user
from bot.cases.errors import Forbidden, LoginRefused, NotFound
from bot.cases.models import Org
from bot.db import session_scope, utcnow
from bot.gateway import Gateway

logger = logging.getLogger(__name__)

COOKIE = "gy_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_PATHS = ("/console/login", "/api/login")
PUBLIC_PREFIXES = ("/console/static/",)


@dataclass(frozen=True)
class Staff:
    """The staff member behind a request."""

    actor: Actor
    org_name: str
    session_id: int
    csrf: str
    kind: str  # cookie | api
    alerts_seen_id: int
    linked: bool  # has linked their own WeChat/Telegram


STAFF = web.RequestKey("staff", Staff)


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]


def client_ip(request: web.Request) -> str:
    """The address rate limits and the access log use. Behind the reverse proxy the peer is
    the proxy on this host, which sets X-Real-IP; from anyone else the header is ignored (a
    client could otherwise pick a new address for every guess)."""
    peer = request.remote or "?"
    forwarded = request.headers.get("X-Real-IP")
    if forwarded and peer in ("127.0.0.1", "::1"):
        return forwarded[:64]
    return peer[:64]


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _token(request: web.Request) -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "api"
    return request.cookies.get(COOKIE), "cookie"


async def _load_staff(gateway: Gateway, request: web.Request) -> Staff | None:
    token, kind = _token(request)
    if not token:
        return None
    async with session_scope(gateway.sessionmaker) as session:
        found = await get_session_user(session, token=token, now=utcnow(), kind=kind)
        if found is None:
            return None
        staff_session, user = found
        actor = await load_actor(session, user=user)
        org = await session.get_one(Org, user.org_id)
        return Staff(actor=actor, org_name=org.name, session_id=staff_session.id, csrf=staff_session.csrf_token,
                     kind=kind, alerts_seen_id=user.alerts_seen_id, linked=user.contact_id is not None)


async def _csrf_ok(request: web.Request, staff: Staff) -> bool:
    """A browser's state-changing request carries the session's CSRF token (form field
    ``csrf`` or header ``X-CSRF-Token``). Bearer-token scripts send no cookies: no CSRF."""
    if staff.kind == "api" or request.method in SAFE_METHODS:
        return True
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = (await request.post()).get("csrf")
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), staff.csrf.encode())


def _same_origin(request: web.Request) -> bool:
    """For the log-in form (no session yet): refuse posts from another site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return True  # old browsers and scripts send neither; the password is the check
    return urlsplit(origin).netloc == request.host


def console_middleware(gateway: Gateway) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        path = request.path
        is_api = path == "/api" or path.startswith("/api/")
        if not (is_api or path == "/console" or path.startswith("/console/")):
            return await handler(request)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        staff = await _load_staff(gateway, request)
        if staff is None:
            if is_api:
                return web.json_response({"error": "unauthorized", "message": "请先登录（Authorization: Bearer <token>）"},
                                         status=401)
            target = request.path_qs if request.method in SAFE_METHODS else "/console/"
            raise web.HTTPSeeOther(f"/console/login?next={quote(target)}")
        if not await _csrf_ok(request, staff):
            return web.json_response({"error": "csrf", "message": "页面已过期，请刷新后再试"}, status=403)
        request[STAFF] = staff
        try:
            response = await handler(request)
        except (NotFound, Forbidden) as exc:
            if is_api:
                raise  # JSON answer from the error middleware
            title = "没有找到" if isinstance(exc, NotFound) else "无权访问"
            response = aiohttp_jinja2.render_template("error.html", request, {
                "title": title, "message": "您要找的内容不存在，或不属于您所在工会的管辖范围。"
                if isinstance(exc, NotFound) else str(exc)})
            response.set_status(404 if isinstance(exc, NotFound) else 403)
        response.headers.setdefault("Cache-Control", "no-store")  # case files stay off shared caches
        return response

    return middleware


def _safe_next(raw: str | None) -> str:
    # only a path on this site: never an open redirect
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/console/"
    return raw


async def login(request: web.Request, *, gateway: Gateway, kind: str, username: str, password: str):  # type: ignore[no-untyped-def]
    """Log in; returns (LoginResult | None, LoginRefused | None). The failed attempt is
    committed before the refusal is answered (lock-out and rate limits count it)."""
    refused: LoginRefused | None = None
    result = None
    async with session_scope(gateway.sessionmaker) as session:
        try:
            result = await do_login(session, username=username, password=password, ip=client_ip(request),
                                    now=utcnow(), kind=kind)
        except LoginRefused as exc:
            refused = exc
    return result, refused


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=_is_https(request),
                        path="/", max_age=7 * 24 * 3600)


async def logout(request: web.Request, *, gateway: Gateway) -> None:
    token, _ = _token(request)
    if token:
        async with session_scope(gateway.sessionmaker) as session:
            await do_logout(session, token=token, now=utcnow())
