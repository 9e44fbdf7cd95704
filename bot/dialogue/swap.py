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
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import session_scope, utcnow
from bot.dialogue.rasa_client import RasaClient, RasaError
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


SWAP_GRACE = 2.5  # seconds between marking a model swap and asking Rasa to load the model


async def load_into_rasa(sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient, *, name: str,
                         path: Path, grace: float = SWAP_GRACE) -> str:
    """Swap model ``name`` (file ``path``) into the running Rasa (``PUT /model``) with every
    gateway holding its turns meanwhile; words on what happened."""
    from bot.training.registry import do_mark_loading, get_model_or_raise

    async def mark(*, started: bool) -> None:
        async with session_scope(sessionmaker) as session:
            await do_mark_loading(session, model=await get_model_or_raise(session, name=name),
                                  now=utcnow() if started else None)

    if not path.exists():
        return f"模型文件 {path.name} 不在这台机器上：Rasa 继续用原来的模型，直到能加载它"
    try:
        await rasa.status()
    except RasaError:
        return "Rasa 没有在运行：下次启动时用这个模型"
    await mark(started=True)
    try:
        # gateways look at the mark at most once a second: once they have, no new turn is
        # posted, and the turns already posted (a second or so) are done
        await asyncio.sleep(grace)
        await rasa.load_model(str(path))
    except RasaError as exc:
        return f"加载失败：{exc}（登记表里它已启用；Rasa 仍在用原来的模型）"
    finally:
        await mark(started=False)
    return "已加载到正在运行的 Rasa"
