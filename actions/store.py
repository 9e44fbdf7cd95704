"""The action server's handle on the case store.

The engine is created on first use inside the action server's event loop (never at import
time) and reused for the life of the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from rasa_sdk import Tracker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.messages import get_contact_by_sender_id, get_or_create_contact
from bot.cases.models import Contact
from bot.db import create_engine, create_sessionmaker
from bot.settings import load_settings


@cache
def _sessionmaker() -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(create_engine(load_settings().database_url))


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncSession]:
    """One unit of work against the case store; commits on success."""
    async with _sessionmaker()() as session, session.begin():
        yield session


async def close() -> None:
    """Dispose of the engine (tests, or a settings change); the next use creates a new one."""
    if _sessionmaker.cache_info().currsize:
        await _sessionmaker().kw["bind"].dispose()
    _sessionmaker.cache_clear()


async def contact_for_tracker(session: AsyncSession, tracker: Tracker) -> Contact:
    """The contact behind the conversation (``<channel>:<id>``; ``rasa`` for bare senders)."""
    contact = await get_contact_by_sender_id(session, sender_id=tracker.sender_id)
    if contact is not None:
        return contact
    channel, sep, external_id = tracker.sender_id.partition(":")
    if not sep:
        channel, external_id = "rasa", tracker.sender_id
    return await get_or_create_contact(session, channel=channel, external_id=external_id)
