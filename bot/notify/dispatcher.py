"""Delivers outbox rows with retries: exponential back-off, then a dead-letter state.

Safe with several dispatchers at once: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL. A send that fails is retried after 30 s, 1 min, 2 min … (capped at 1 h); after
``max_attempts`` the row is ``dead`` and stays visible to staff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.models import Contact
from bot.channels.base import Channel, NotNow, Target
from bot.cases.delivery import do_mark_notification_failed, do_mark_notification_held, do_mark_notification_sent
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.db import session_scope
from bot.notify.texts import CHANNEL_WORDS, render

logger = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)  # a claimed row is left alone this long by other dispatchers


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
    external_id: str | None = None  # the contact's identity on their channel
    case_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Sender(Protocol):
    async def send(self, notification: Notification) -> None: ...


class ChannelSender:
    """Delivers a worker's notification through their channel adapter (``notify``)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    async def send(self, notification: Notification) -> None:
        if notification.contact_id is None or notification.external_id is None:
            raise SendError("a channel notification needs a contact", retryable=False)
        await self._channel.notify(Target(notification.contact_id, notification.external_id), notification.text,
                                   key=notification.key)


def backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


class Dispatcher:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._senders = senders
        self._max_attempts = max_attempts

    async def run_once(self, *, now: datetime, limit: int = 50) -> int:
        """Deliver up to ``limit`` due rows; returns how many were sent.

        Rows are claimed in one short transaction (attempt counted, lease set), sent with no
        transaction open (a slow channel never holds the database), and each result is
        written in its own transaction. A crash mid-send leaves the row to be tried again
        when the lease ends: at least once, with the idempotency key for channels that
        drop repeats (WeChat's ``client_msg_id``).
        """
        async with session_scope(self._sessionmaker) as session:
            stmt = (
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.next_attempt_at <= now,
                       # a channel this process does not run is left to one that does
                       OutboxMessage.channel.in_(list(self._senders)))
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            jobs: list[Notification] = []
            for row in list((await session.execute(stmt)).scalars()):
                row.attempts += 1
                row.next_attempt_at = now + LEASE
                contact = await session.get(Contact, row.contact_id) if row.contact_id is not None else None
                jobs.append(Notification(
                    outbox_id=row.id, key=row.idempotency_key, channel=row.channel, contact_id=row.contact_id,
                    org_id=row.org_id, template=row.template, text=render(row.template, row.params),
                    external_id=contact.external_id if contact else None, case_id=row.case_id,
                    params=dict(row.params or {}),
                ))
        sent = 0
        for job in jobs:
            sent += await self._deliver(job, now)
        return sent

    async def _deliver(self, job: Notification, now: datetime) -> int:
        sender = self._senders.get(job.channel)
        error: Exception | None = None
        try:
            if sender is None:
                raise SendError(f"no sender for channel {job.channel!r}", retryable=False)
            await sender.send(job)
        except Exception as exc:  # bulkhead: one failed send never stops the others
            error = exc
        async with session_scope(self._sessionmaker) as session:
            row = await session.get_one(OutboxMessage, job.outbox_id)
            if error is None:
                await do_mark_notification_sent(session, row=row, now=now, how=f"经{CHANNEL_WORDS.get(job.channel, job.channel)}送达")
                return 1
            if isinstance(error, NotNow):
                await do_mark_notification_held(session, row=row, now=now, why=str(error))
                logger.info("outbox %s held: %s", row.id, error)
                return 0
            if getattr(error, "unreachable", False) and row.contact_id is not None:
                contact = await session.get_one(Contact, row.contact_id)
                contact.unreachable_at = contact.unreachable_at or now
            retryable = getattr(error, "retryable", True)
            dead = not retryable or row.attempts >= self._max_attempts
            message = f"{type(error).__name__}: {error}"
            await do_mark_notification_failed(session, row=row, now=now, error=message, dead=dead,
                                              retry_at=None if dead else now + backoff(row.attempts))
            if dead:
                logger.error("outbox %s dead after %s attempts: %s", row.id, row.attempts, message)
            else:
                logger.warning("outbox %s attempt %s failed: %s", row.id, row.attempts, message)
            return 0
