"""The NLU inbox: messages the model was unsure about, waiting for an admin to label them
(the console's review page and the retraining job read it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow


class InboxItem(Base):
    __tablename__ = "nlu_inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(200))
    # The model's best guesses: [{"name": "report_overtime", "confidence": 0.41}, …]
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | labelled | discarded
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def do_record_unsure(
    session: AsyncSession, *, text: str, sender: str, ranking: list[dict[str, Any]], now: datetime | None = None
) -> InboxItem:
    item = InboxItem(text=text[:2000], sender=sender, ranking=ranking[:5], status="new", created_at=now or utcnow())
    session.add(item)
    await session.flush()
    return item
