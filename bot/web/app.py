"""The app factory: everything the gateway needs is built here, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot.channels import telegram, upload, webchat, wechat
from bot.db import create_engine, create_sessionmaker
from bot.dialogue.pipeline import InboundPipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings
from bot.web.background import background_jobs
from bot.web.errors import error_middleware
from bot.web.health import healthz
from bot.web.keys import ENGINE, HTTP, METRICS, PIPELINE, RASA, SESSIONMAKER, SETTINGS
from bot.web.metrics import Metrics

logger = logging.getLogger(__name__)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    http = aiohttp.ClientSession()
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    app[HTTP] = http
    app[RASA] = RasaClient(http, settings.rasa_url)
    app[PIPELINE] = InboundPipeline(sessionmaker=app[SESSIONMAKER], rasa=app[RASA], evidence_dir=settings.evidence_dir)
    yield
    await http.close()
    await engine.dispose()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    # channels after the pipeline exists, before the background jobs (their dispatcher
    # takes the pipeline's channels when it starts)
    if settings.telegram is not None:
        telegram.add_routes(app)
        app.cleanup_ctx.append(telegram.channel_ctx)
    if settings.wechat is not None:
        wechat.add_routes(app)
        app.cleanup_ctx.append(wechat.channel_ctx)
    if settings.upload_secret:
        upload.add_routes(app, secret=settings.upload_secret)
    app.cleanup_ctx.append(background_jobs)
    metrics = app[METRICS] = Metrics()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.view)
    if settings.webchat_enabled:
        webchat.add_routes(app)
    else:
        logger.info("web chat off: gateway bound to %s (set WEBCHAT_ENABLED=1 to force)", settings.gateway_host)
    for reason in settings.disabled_channels:
        logger.info("channel off: %s", reason)
    return app
