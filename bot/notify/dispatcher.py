"""Delivers outbox rows with retries: exponential back-off, then a dead-letter state.

Safe with several dispatchers at once: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL. A send that fails is retried after 30 s, 1 min, 2 min … (capped at 1 h); after
``max_attempts`` the row is ``dead`` and stays visible to staff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.db import session_scope
from bot.notify.texts import render

logger = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 8


class SendError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Notification:
    outbox_id: int
    key: str
    channel: str
    contact_id: int | None
    org_id: int | None
    template: str
    text: str


class Sender(Protocol):
    async def send(self, notification: Notification) -> None: ...


@dataclass
class LogSender:
    """Delivers by writing a log line (and keeping the list): the channel of the case domain's
    own tests and of a stack without real channels."""

    sent: list[Notification] = field(default_factory=list)

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)
        logger.info("notify %s", json.dumps({
            "key": notification.key, "channel": notification.channel, "contact": notification.contact_id,
            "org": notification.org_id, "template": notification.template, "text": notification.text,
        }, ensure_ascii=False))


def backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


class Dispatcher:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        fallback: Sender | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._senders = senders
        self._fallback = fallback
        self._max_attempts = max_attempts

    async def run_once(self, *, now: datetime, limit: int = 50) -> int:
        """Deliver up to ``limit`` due rows; returns how many were sent."""
        sent = 0
        async with session_scope(self._sessionmaker) as session:
            stmt = (
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            for row in list((await session.execute(stmt)).scalars()):
                sent += await self._deliver(row, now)
        return sent

    async def _deliver(self, row: OutboxMessage, now: datetime) -> int:
        sender = self._senders.get(row.channel, self._fallback)
        row.attempts += 1
        try:
            if sender is None:
                raise SendError(f"no sender for channel {row.channel!r}", retryable=False)
            await sender.send(Notification(
                outbox_id=row.id, key=row.idempotency_key, channel=row.channel, contact_id=row.contact_id,
                org_id=row.org_id, template=row.template, text=render(row.template, row.params),
            ))
        except Exception as exc:  # bulkhead: one failed send never stops the others
            retryable = getattr(exc, "retryable", True)
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if not retryable or row.attempts >= self._max_attempts:
                row.status = OutboxStatus.DEAD.value
                logger.error("outbox %s dead after %s attempts: %s", row.id, row.attempts, row.last_error)
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                logger.warning("outbox %s attempt %s failed: %s", row.id, row.attempts, row.last_error)
            return 0
        row.status, row.sent_at, row.last_error = OutboxStatus.SENT.value, now, None
        return 1
