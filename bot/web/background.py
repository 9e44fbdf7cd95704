"""The gateway's background work: the deadline scheduler and the outbox dispatcher.

Both are safe to run in several gateways at once (rows are claimed with SKIP LOCKED on
PostgreSQL); a failing round is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.cases.scheduler import do_process_breaches
from bot.db import session_scope, utcnow
from bot.dialogue.rasa_client import RasaError
from bot.notify.dispatcher import ChannelSender, Dispatcher, LogSender
from bot.web.keys import PIPELINE, RASA, SESSIONMAKER, SETTINGS

logger = logging.getLogger(__name__)

DISPATCHER = web.AppKey("dispatcher", Dispatcher)


STOP_GRACE = 15.0  # seconds a round in progress may take to finish at shutdown


async def _every(seconds: float, name: str, work: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
    """Run ``work`` every ``seconds`` until ``stop`` is set; a round in progress finishes
    (it is never cut off inside a transaction)."""
    while not stop.is_set():
        try:
            await work()
        except Exception:  # bulkhead: one bad round must not stop deadlines or notifications
            logger.exception("%s round failed", name)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def background_jobs(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    sessionmaker = app[SESSIONMAKER]
    pipeline = app[PIPELINE]
    # Workers' channels deliver through their adapters; the console (union bodies) and the
    # web chat, which has no way to push, go to the log until the console exists.
    senders = {name: ChannelSender(channel) for name, channel in pipeline.channels.items()}
    dispatcher = app[DISPATCHER] = Dispatcher(sessionmaker=sessionmaker, senders=senders, fallback=LogSender())

    async def retry() -> None:
        # Messages kept while Rasa was down are answered once it is back, oldest first.
        try:
            await app[RASA].status()
        except RasaError:
            return
        await pipeline.retry_pending()

    async def schedule() -> None:
        async with session_scope(sessionmaker) as session:
            breaches = await do_process_breaches(session, now=utcnow())
        for breach in breaches:
            logger.info("deadline %s of case %s breached (escalated: %s)", breach.kind, breach.case_number, breach.escalated)

    stop = asyncio.Event()
    tasks = []
    if settings.background_jobs:
        tasks = [
            asyncio.create_task(_every(settings.scheduler_interval, "scheduler", schedule, stop)),
            asyncio.create_task(_every(settings.dispatch_interval, "dispatcher",
                                       lambda: dispatcher.run_once(now=utcnow()), stop)),
            asyncio.create_task(_every(settings.retry_interval, "inbound retry", retry, stop)),
        ]
    yield
    stop.set()
    await pipeline.drain()
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in late:
            logger.warning("background round still running after %.0f s at shutdown: cancelled", STOP_GRACE)
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
