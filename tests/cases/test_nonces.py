"""Callback nonces: claimed once within the window, free again after it, one winner in a race."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases.nonces import CallbackNonce, do_claim_nonce, nonce_seen
from bot.db import create_sessionmaker, session_scope, utcnow

WINDOW = timedelta(minutes=10)


def new_nonce() -> str:
    return uuid.uuid4().hex[:20]


async def test_a_nonce_is_claimed_once_within_the_window(session: AsyncSession) -> None:
    nonce, now = new_nonce(), utcnow()
    assert await do_claim_nonce(session, channel="wechat", nonce=nonce, now=now, window=WINDOW)
    later = now + WINDOW - timedelta(seconds=1)
    assert not await do_claim_nonce(session, channel="wechat", nonce=nonce, now=later, window=WINDOW)
    assert await nonce_seen(session, channel="wechat", nonce=nonce, now=later, window=WINDOW)
    # the refused claim rolled back its savepoint only: the transaction goes on
    assert await do_claim_nonce(session, channel="wechat", nonce=new_nonce(), now=later, window=WINDOW)
    # the same value on another channel is another nonce
    assert await do_claim_nonce(session, channel="telegram", nonce=nonce, now=later, window=WINDOW)


async def test_after_the_window_a_nonce_is_free_and_old_rows_are_gone(session: AsyncSession) -> None:
    nonce, now = new_nonce(), utcnow()
    assert await do_claim_nonce(session, channel="wechat", nonce=nonce, now=now, window=WINDOW)
    later = now + WINDOW + timedelta(seconds=1)
    assert not await nonce_seen(session, channel="wechat", nonce=nonce, now=later, window=WINDOW)
    assert await do_claim_nonce(session, channel="wechat", nonce=nonce, now=later, window=WINDOW)
    old = select(func.count()).select_from(CallbackNonce).where(CallbackNonce.seen_at < later - WINDOW)
    assert (await session.execute(old)).scalar_one() == 0
    rows = select(CallbackNonce.seen_at).where(CallbackNonce.nonce == nonce)
    assert (await session.execute(rows)).scalars().all() == [later]


async def test_of_two_gateways_claiming_the_same_nonce_at_once_one_wins(engine: AsyncEngine) -> None:
    sessionmaker, nonce, now = create_sessionmaker(engine), new_nonce(), utcnow()

    async def claim() -> bool:
        async with session_scope(sessionmaker) as session:
            return await do_claim_nonce(session, channel="wechat", nonce=nonce, now=now, window=WINDOW)

    assert sorted(await asyncio.gather(*(claim() for _ in range(4)))) == [False, False, False, True]
