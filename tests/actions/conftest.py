"""The action tests' case store: a real database (SQLite and PostgreSQL) with the demo
organisation, reached the way the action server reaches it (``actions.store``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from actions import store
from bot.cases.demo import do_seed_demo
from bot.db import create_engine, create_sessionmaker, session_scope


@pytest.fixture
async def case_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    await store.close()
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        await do_seed_demo(session, history=False)
    await engine.dispose()
    yield database_url
    await store.close()
