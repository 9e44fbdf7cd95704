"""The notification outbox: written in the same transaction as the event it tells about.

A row names who to tell (a contact on their channel, or a union body on the console), the
template and its parameters, and an idempotency key, so a crash can neither lose nor double
a notification. ``bot.notify`` delivers the rows.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow

CONSOLE_CHANNEL = "console"  # union bodies read their notifications in the staff console


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    HELD = "held"  # cannot be delivered now (e.g. WeChat window closed); retried on contact
    DEAD = "dead"  # gave up after the last attempt; shown to staff


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    # A turn's replies travel as a row too: the worker's message they answer.
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the dispatcher that claimed the row for a send in progress (cleared when the send ends)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def add_notification(
    session: AsyncSession,
    *,
    key: str,
    template: str,
    params: dict[str, Any],
    now: datetime,
    channel: str,
    contact_id: int | None = None,
    org_id: int | None = None,
    case_id: int | None = None,
    event_id: int | None = None,
    inbound_id: int | None = None,
) -> OutboxMessage:
    """Queue one notification in the caller's transaction (not sent here)."""
    if (contact_id is None) == (org_id is None):
        raise ValueError("a notification goes to exactly one contact or one union body")
    row = OutboxMessage(
        idempotency_key=key, channel=channel, contact_id=contact_id, org_id=org_id,
        case_id=case_id, event_id=event_id, inbound_id=inbound_id, template=template, params=params,
        status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(row)
    return row
