"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.schema  # noqa: F401  (every table on the metadata)
from bot.db import Base


async def test_no_model_change_is_missing_a_migration(engine: AsyncEngine) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        changes = await connection.run_sync(diff)
    if engine.dialect.name == "sqlite":
        # SQLite cannot add a foreign key to an existing table (see migration 0002).
        changes = [c for c in changes if not (c[0] == "add_fk" and c[1].parent.name == "cases")]
    assert changes == []
