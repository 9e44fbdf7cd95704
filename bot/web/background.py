"""The gateway's background work: the deadline scheduler, the outbox dispatcher, and the
retry of messages kept while Rasa was down.

All are safe to run in several gateways at once (rows are claimed with SKIP LOCKED on
PostgreSQL); a failing round is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.db import utcnow
from bot.gateway import Gateway

logger = logging.getLogger(__name__)

STOP_GRACE = 15.0  # seconds a round in progress may take to finish at shutdown
RETRY_WORKERS = 50  # workers whose waiting messages one retry round answers (each whole backlog)
RETRY_ROUNDS = 10  # full rounds run back to back before the loop waits for its interval


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


@contextlib.asynccontextmanager
async def background_jobs(gateway: Gateway) -> AsyncIterator[None]:
    """Run the loops while the context is open (when ``settings.background_jobs``)."""
    settings = gateway.settings

    async def retry() -> None:
        # Messages kept while Rasa was down, or left unanswered by a crash, are answered once
        # Rasa and the action server are both up (at once after a restart), oldest first.
        # A full round (as many workers as a round takes) means more may wait: go on at once,
        # a bounded number of times, rather than leave them for the next interval.
        for _ in range(RETRY_ROUNDS):
            if not await gateway.dialogue_up() or await gateway.pipeline.retry_pending(limit=RETRY_WORKERS) < RETRY_WORKERS:
                break

    stop = asyncio.Event()
    tasks = []
    if settings.background_jobs:
        tasks = [
            asyncio.create_task(_every(settings.scheduler_interval, "scheduler",
                                       lambda: gateway.scheduler_round(now=utcnow()), stop)),
            asyncio.create_task(_every(settings.dispatch_interval, "dispatcher",
                                       lambda: gateway.dispatcher.run_once(now=utcnow()), stop)),
            asyncio.create_task(_every(settings.retry_interval, "inbound retry", retry, stop)),
        ]
    try:
        yield
    finally:
        stop.set()
        await gateway.pipeline.drain()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in late:
                logger.warning("background round still running after %.0f s at shutdown: cancelled", STOP_GRACE)
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
