"""Holding posts to Rasa while an admin swaps its model.

``PUT /model`` makes Rasa load the new model inside its event loop: for the seconds that
takes it answers nobody, and a turn posted then would time out and be kept for later. The
command that swaps marks the model as loading in the registry first; each gateway looks at
that mark (at most once a second, from the database, so every gateway sees it) and lets
its turns wait until the load is done — the worker's answer comes a little later, and no
message fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import session_scope, utcnow
from bot.training.registry import swap_in_progress

logger = logging.getLogger(__name__)


class SwapGate:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, check_every: float = 1.0,
                 poll: float = 0.5, wait_at_most: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._sessionmaker = sessionmaker
        self._check_every, self._poll, self._wait_at_most = check_every, poll, wait_at_most
        self._clock, self._sleep = clock, sleep
        self._checked_at: float | None = None
        self._swapping = False

    async def _look(self, *, fresh: bool = False) -> bool:
        now = self._clock()
        if fresh or self._checked_at is None or now - self._checked_at >= self._check_every:
            try:
                async with session_scope(self._sessionmaker) as session:
                    self._swapping = await swap_in_progress(session, now=utcnow())
            except Exception:  # the database is down: the turn finds out on its own
                logger.warning("could not read whether a model swap is in progress", exc_info=True)
                self._swapping = False
            self._checked_at = now
        return self._swapping

    async def wait(self) -> float:
        """Return once no model is being loaded (or after ``wait_at_most``); the seconds waited."""
        started = self._clock()
        if not await self._look():
            return 0.0
        while self._clock() - started < self._wait_at_most:
            await self._sleep(self._poll)
            if not await self._look(fresh=True):
                break
        else:
            logger.warning("model swap still marked after %.0f s: posting to Rasa anyway", self._wait_at_most)
        waited = self._clock() - started
        logger.info("held a turn %.1f s while Rasa loaded a model", waited)
        return waited
