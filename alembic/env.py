"""Alembic environment: runs on the connection `bot.migrate` hands over, or on DATABASE_URL.

`python -m bot migrate` (and `make run` / the tests) call `bot.migrate.upgrade`, which opens
the async engine and passes its sync connection in ``config.attributes["connection"]``; the
plain `alembic` command line falls back to the settings' DATABASE_URL.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import bot.schema  # noqa: F401  (registers every table on Base.metadata)
from bot.db import Base, create_engine
from bot.settings import load_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `python -m bot migrate`")
else:
    asyncio.run(_run_async(context.config.attributes.get("database_url") or load_settings().database_url))
