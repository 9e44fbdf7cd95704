"""The gateway's parts, built in one place and handed their dependencies.

``Gateway(settings)`` is only a plan; :meth:`Gateway.start` builds, in order, the database
engine, the HTTP client, the Rasa client, every configured channel, the inbound pipeline
and the dispatcher with one sender per channel (and the console's notification centre);
:meth:`Gateway.close` takes them down in reverse. The web app (``bot.web.app``), the
``tick`` command and ``telegram-poll`` all run on the same parts, so an outbox row is
delivered the same way whoever picks it up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cases.deadlines import load_calendar
from bot.cases.handoffs import do_process_handoff_breaches
from bot.cases.messages import do_release_leases
from bot.cases.scheduler import Breach, do_process_breaches
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.channels.webchat import WebChatChannel
from bot.channels.wechat import WeChatChannel
from bot.db import create_engine, create_sessionmaker, session_scope
from bot.dialogue.pipeline import InboundPipeline
from bot.dialogue.swap import SwapGate
from bot.dialogue.rasa_client import RasaClient, RasaError
from bot.notify.console import ConsoleSender
from bot.notify.dispatcher import ChannelSender, Dispatcher, Sender, turn_progress
from bot.notify.texts import render
from bot.settings import PROJECT_ROOT, Settings
from bot.training.jobs import Trainer

logger = logging.getLogger(__name__)


def webchat_secret(settings: Settings) -> str:
    """The key that signs web chat sessions: ``WEBCHAT_SECRET``, else one made up once and
    kept in ``var/`` (every gateway sharing that directory, or the variable, agrees)."""
    if settings.webchat_secret:
        return settings.webchat_secret
    path = settings.var_dir / "webchat.secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        path.write_text(secret)
        path.chmod(0o600)
        return secret


class Gateway:
    """Every long-lived part of the gateway process; usable only between start and close."""

    def __init__(self, settings: Settings, *, owner: str | None = None) -> None:
        """``owner``: this gateway's stable id (``settings.gateway_id``) when it is the one
        serving on its host and port — its leases from a run that was killed are freed at
        start. Other runners (``tick``, polling) hold leases under an id of their own."""
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:pid{os.getpid()}"[:64]
        self._release_at_start = owner is not None
        self._started = False

    async def start(self) -> None:
        settings = self.settings
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        self.http = aiohttp.ClientSession()
        self.rasa = RasaClient(self.http, settings.rasa_url)
        self.redis: Any | None = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(settings.redis_url, socket_timeout=2)
        self.webchat = WebChatChannel(sessionmaker=self.sessionmaker, render=render,
                                      secret=webchat_secret(settings))
        self.telegram: TelegramChannel | None = None
        self.wechat: WeChatChannel | None = None
        if settings.telegram is not None:
            self.telegram = TelegramChannel(settings.telegram, sessionmaker=self.sessionmaker)
            await self.telegram.start()
        if settings.wechat is not None:
            self.wechat = WeChatChannel(
                settings.wechat, http=self.http, sessionmaker=self.sessionmaker,
                template_id=settings.wechat.template_id, template_field=settings.wechat.template_field,
                gateway_url=settings.public_url, upload_secret=settings.upload_secret, redis=self.redis,
            )
        channels: list[Channel] = [c for c in (self.webchat, self.telegram, self.wechat) if c is not None]
        self.channels: dict[str, Channel] = {c.name: c for c in channels}
        progress = turn_progress(self.sessionmaker)
        senders: dict[str, Sender] = {name: ChannelSender(c, progress) for name, c in self.channels.items()}
        senders[ConsoleSender.channel] = ConsoleSender(sessionmaker=self.sessionmaker)
        # No fallback: a row for a channel this gateway does not run is left for one that
        # does, never "sent" to a log nobody reads.
        self.dispatcher = Dispatcher(sessionmaker=self.sessionmaker, senders=senders, owner=self.owner)
        self.pipeline = InboundPipeline(sessionmaker=self.sessionmaker, rasa=self.rasa,
                                        evidence_dir=settings.evidence_dir, channels=self.channels,
                                        dispatcher=self.dispatcher, owner=self.owner,
                                        swap_gate=SwapGate(self.sessionmaker))
        rasa_bin = Path(os.environ.get("RASA_BIN") or PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa")
        self.trainer = Trainer(self.sessionmaker, root=PROJECT_ROOT, rasa_bin=rasa_bin)
        if self._release_at_start:
            await self.trainer.recover()
            async with session_scope(self.sessionmaker) as session:
                messages, rows = await do_release_leases(session, owner=self.owner)
            if messages or rows:
                logger.info("freed what this gateway held when it stopped: %s messages, %s outbox rows",
                            messages, rows)
        self._started = True

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.trainer.close()
        await self.pipeline.drain()
        if self.telegram is not None:
            await self.telegram.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.http.close()
        await self.engine.dispose()

    async def dialogue_up(self) -> bool:
        """Rasa has a model and the action server answers: only then are kept messages
        tried again (a turn without actions would only fail, or half-run a form)."""
        try:
            await self.rasa.status()
            async with self.http.get(f"{self.settings.action_url}/health",
                                     timeout=aiohttp.ClientTimeout(total=3)) as response:
                return response.status == 200
        except (RasaError, aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def scheduler_round(self, *, now: datetime) -> list[Breach]:
        """Deadlines passed (cases escalate) and handoffs nobody took (escalate too)."""
        async with session_scope(self.sessionmaker) as session:
            breaches = await do_process_breaches(session, now=now)
            calendar = await load_calendar(session)
            moved = await do_process_handoff_breaches(session, now=now, calendar=calendar)
        for breach in breaches:
            logger.info("deadline %s of case %s breached (escalated: %s)",
                        breach.kind, breach.case_number, breach.escalated)
        for handoff_id in moved:
            logger.info("handoff %s not taken in time: escalated", handoff_id)
        return breaches


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Gateway]:
    """A started gateway for commands that run outside the web server (tick, polling)."""
    gateway = Gateway(settings)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()
