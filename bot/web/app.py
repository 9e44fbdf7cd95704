"""The app factory: everything the gateway serves is wired here, nothing at import time.

``create_app`` registers the routes and one startup/cleanup context that starts the
:class:`~bot.gateway.Gateway` (database, channels, pipeline, dispatcher), then the
background jobs. Handlers receive the parts they need as arguments; no channel or view
reads the application's keys.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels import telegram, upload, webchat, wechat
from bot.channels.streaming import UploadLimits, sweep_stale
from bot.console.routes import add_console_routes
from bot.gateway import Gateway
from bot.settings import Settings
from bot.web.background import background_jobs
from bot.web.errors import error_middleware
from bot.web.health import healthz
from bot.web.keys import GATEWAY, METRICS
from bot.web.metrics import Metrics
from bot.web.ratelimit import InboundLimits, Rate, RateLimits, build_limits

logger = logging.getLogger(__name__)


def _lifespan(gateway: Gateway, uploads: UploadLimits):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if uploads.tmp_dir is not None:  # uploads a crash left half-received
            await asyncio.to_thread(sweep_stale, uploads.tmp_dir)
        await gateway.start()
        try:
            async with background_jobs(gateway):
                yield
        finally:
            await gateway.close()
    return ctx


def _channel_routes(app: web.Application, gateway: Gateway, metrics: Metrics, limits: InboundLimits,
                    uploads: UploadLimits) -> None:
    """The workers' side: each handler gets its channel and the pipeline when called."""
    settings, count = gateway.settings, metrics.count_inbound
    if settings.telegram is not None:
        async def telegram_webhook(request: web.Request) -> web.Response:
            assert gateway.telegram is not None
            return await telegram.post_webhook(request, channel=gateway.telegram, intake=gateway.pipeline,
                                               count=count, limit=limits.telegram_sender)
        app.router.add_post("/telegram/webhook", telegram_webhook)
    if settings.wechat is not None:
        async def wechat_verify(request: web.Request) -> web.Response:
            assert gateway.wechat is not None
            return await wechat.verify_url(request, channel=gateway.wechat)

        async def wechat_callback(request: web.Request) -> web.Response:
            assert gateway.wechat is not None
            return await wechat.receive_callback(request, channel=gateway.wechat, intake=gateway.pipeline,
                                                 limit=limits.wechat_sender)
        app.router.add_get("/wechat", wechat_verify)
        app.router.add_post("/wechat", wechat_callback)
    if settings.upload_secret:
        config = upload.UploadSettings(secret=settings.upload_secret, limits=uploads)

        async def upload_form(request: web.Request) -> web.Response:
            return await upload.upload_form(request, config=config, sessionmaker=gateway.sessionmaker)

        async def upload_files(request: web.Request) -> web.Response:
            return await upload.receive_upload(request, config=config, sessionmaker=gateway.sessionmaker,
                                               intake=gateway.pipeline)
        app.router.add_get("/upload/{token}", upload_form)
        app.router.add_post("/upload/{token}", upload_files)
    if settings.webchat_enabled:
        hosts = frozenset(h.lower() for h in (
            f"127.0.0.1:{settings.gateway_port}", f"localhost:{settings.gateway_port}",
            f"{settings.gateway_host}:{settings.gateway_port}", urlsplit(settings.public_url).netloc))

        def checked(handler):  # type: ignore[no-untyped-def]
            async def guarded(request: web.Request) -> web.StreamResponse:
                if not webchat.host_allowed(request, hosts):
                    raise web.HTTPMisdirectedRequest(text="unknown host")
                return await handler(request)
            return guarded

        async def chat_message(request: web.Request) -> web.Response:
            return await webchat.post_message(request, channel=gateway.webchat, intake=gateway.pipeline, count=count,
                                              throttle=limits.webchat_sender.enforce)

        async def chat_files(request: web.Request) -> web.Response:
            return await webchat.post_files(request, channel=gateway.webchat, intake=gateway.pipeline, count=count,
                                            limits=uploads, throttle=limits.webchat_sender.enforce)

        async def chat_updates(request: web.Request) -> web.Response:
            return await webchat.get_updates(request, channel=gateway.webchat)
        app.router.add_get("/chat", checked(webchat.chat_page))
        app.router.add_post("/chat/api/messages", checked(chat_message))
        app.router.add_post("/chat/api/files", checked(chat_files))
        app.router.add_get("/chat/api/updates", checked(chat_updates))
    else:
        logger.info("web chat off: gateway bound to %s (set WEBCHAT_ENABLED=1 to force)", settings.gateway_host)


def create_app(settings: Settings) -> web.Application:
    gateway = Gateway(settings, owner=settings.gateway_id)
    metrics = Metrics(token=settings.metrics_token)
    limits = build_limits(RateLimits(**{k: Rate(*v) for k, v in settings.rates.items()}))
    uploads = UploadLimits(tmp_dir=settings.var_dir / "tmp", **settings.upload_caps)
    app = web.Application(middlewares=[error_middleware, limits.middleware], client_max_size=2 * 1024 * 1024)
    app[GATEWAY] = gateway
    app[METRICS] = metrics
    app.cleanup_ctx.append(_lifespan(gateway, uploads))
    _channel_routes(app, gateway, metrics, limits, uploads)
    add_console_routes(app, gateway)
    app.router.add_get("/healthz", functools.partial(healthz, token=settings.metrics_token))
    app.router.add_get("/metrics", metrics.view)
    for reason in settings.disabled_channels:
        logger.info("channel off: %s", reason)
    return app


__all__ = ["create_app"]
