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
from bot.notify.dispatcher import Dispatcher, LogSender
from bot.web.keys import SESSIONMAKER, SETTINGS

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
    # Until the WeChat and Telegram senders exist, every channel delivers to the log.
    dispatcher = app[DISPATCHER] = Dispatcher(sessionmaker=sessionmaker, senders={}, fallback=LogSender())

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
        ]
    yield
    stop.set()
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in late:
            logger.warning("background round still running after %.0f s at shutdown: cancelled", STOP_GRACE)
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
