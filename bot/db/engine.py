"""Engine and session factories; the caller owns every transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``database_url`` (SQLite file or PostgreSQL).

    For SQLite the parent directory is created, and WAL mode plus a busy timeout let the
    gateway and the action server (two processes) write the same file without
    "database is locked" errors. Every transaction starts with ``BEGIN IMMEDIATE``: a
    deferred transaction that reads and then writes fails at once (SQLITE_BUSY, no
    waiting) when another connection wrote in between — seen under load between a web
    request and the scheduler — while an immediate one waits its turn for the write lock.
    (SQLAlchemy's documented recipe for taking over BEGIN from the driver.)
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection):  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return _create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessionmaker() as session:
        async with session.begin():
            yield session
