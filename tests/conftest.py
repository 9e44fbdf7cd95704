"""Shared fixtures: the case store on SQLite and on PostgreSQL, each test rolled back.

PostgreSQL tests create and drop their own database on 127.0.0.1:5432 (user ``postgres``,
trust auth; override with ``TEST_POSTGRES_URL``). Where no PostgreSQL is reachable they are
skipped with the reason shown — except when ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import create_engine
from bot.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _create_pg_database() -> str:
    name = f"gongyou_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {exc}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A freshly migrated database of each kind, for the whole test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "gongyou.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url
        return
    name = await _create_pg_database()
    url = pg_url(name)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await _drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def own_database(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A freshly migrated database of each kind for one test alone: for tests of rounds that
    take every due row (retries, dispatch), where another test's rows would be taken too."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/own.db"
    else:
        name = await _create_pg_database()
        url = pg_url(name)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    if request.param == "postgresql":
        await _drop_pg_database(name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


def free_port() -> int:
    """A loopback port nobody listens on right now (for the servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
