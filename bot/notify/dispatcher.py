"""Delivers outbox rows with retries: exponential back-off, then a dead-letter state.

Safe with several dispatchers at once: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL. A send that fails is retried after 30 s, 1 min, 2 min … (capped at 1 h); after
``max_attempts`` the row is ``dead`` and stays visible to staff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.models import Contact
from bot.channels.base import Channel, NotNow, Reply, Target
from bot.cases.delivery import do_mark_notification_failed, do_mark_notification_held, do_mark_notification_sent
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.db import session_scope
from bot.notify.texts import CHANNEL_WORDS, render

logger = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=45)  # a claimed row is left alone this long by other dispatchers
TURN_TEMPLATE = "turn"  # the bot's replies to one inbound message (params: replies)
CONCURRENT_SENDS = 16


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
    """Delivers a worker's notification through their channel adapter (``notify``), and a
    turn (``send``). A turn's replies go one by one where the channel sends them as separate
    messages, each remembered once out (``progress``), so a crash mid-turn repeats at most
    the one reply in flight, not the whole turn; a channel that merges a turn into one
    message (WeChat, for its quota) gets it whole."""

    def __init__(self, channel: Channel,
                 progress: Callable[[int, int], Awaitable[None]] | None = None) -> None:
        self._channel = channel
        self._progress = progress  # (outbox id, replies sent so far) → stored

    async def send(self, notification: Notification) -> None:
        if notification.contact_id is None or notification.external_id is None:
            raise SendError("a channel notification needs a contact", retryable=False)
        target = Target(notification.contact_id, notification.external_id)
        if notification.template != TURN_TEMPLATE:
            await self._channel.notify(target, notification.text, key=notification.key)
            return
        # a conversation turn: the bot's replies to one message, buttons and all
        replies = [Reply.from_rasa(r) for r in notification.params.get("replies") or []]
        done = int(notification.params.get("sent") or 0)
        if getattr(self._channel, "merges_turns", False) or self._progress is None:
            await self._channel.send(target, replies[done:])
            return
        for n in range(done, len(replies)):
            await self._channel.send(target, [replies[n]])
            await self._progress(notification.outbox_id, n + 1)


def backoff(attempts: int) -> timedelta:
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


class Dispatcher:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        max_attempts: int = MAX_ATTEMPTS,
        owner: str | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._owner = owner  # recorded on the rows it claims (see bot.cases.messages.do_release_leases)
        self._senders = senders
        self._max_attempts = max_attempts

    async def run_once(self, *, now: datetime, limit: int = 50, contact_id: int | None = None) -> int:
        """Deliver up to ``limit`` due rows (only ``contact_id``'s, when given); returns how
        many were sent.

        Rows are claimed in one short transaction (attempt counted, lease set), sent with no
        transaction open (a slow channel never holds the database), and each result is
        written in its own transaction. A crash mid-send leaves the row to be tried again
        when the lease ends: at least once, with the idempotency key for channels that
        drop repeats (WeChat's ``client_msg_id``). A worker's rows go out in the order they
        were written: only the oldest pending row of a contact is ever claimed, so a reply
        never overtakes the one before it, while different workers are served at once.
        """
        async with session_scope(self._sessionmaker) as session:
            heads = (select(func.min(OutboxMessage.id))
                     .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.contact_id.is_not(None))
                     .group_by(OutboxMessage.contact_id))
            stmt = (
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.next_attempt_at <= now,
                       # a channel this process does not run is left to one that does
                       OutboxMessage.channel.in_(list(self._senders)),
                       or_(OutboxMessage.contact_id.is_(None), OutboxMessage.id.in_(heads)))
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if contact_id is not None:
                stmt = stmt.where(OutboxMessage.contact_id == contact_id)
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            jobs: list[Notification] = []
            for row in list((await session.execute(stmt)).scalars()):
                row.attempts += 1
                row.next_attempt_at, row.lease_owner = now + LEASE, self._owner
                contact = await session.get(Contact, row.contact_id) if row.contact_id is not None else None
                jobs.append(Notification(
                    outbox_id=row.id, key=row.idempotency_key, channel=row.channel, contact_id=row.contact_id,
                    org_id=row.org_id, template=row.template, text=render(row.template, row.params),
                    external_id=contact.external_id if contact else None, case_id=row.case_id,
                    params=dict(row.params or {}),
                ))
        gate = asyncio.Semaphore(CONCURRENT_SENDS)

        async def one(job: Notification) -> int:
            async with gate:
                return await self._deliver(job, now)
        return sum(await asyncio.gather(*(one(job) for job in jobs)))

    async def deliver_contact(self, contact_id: int, *, now: datetime) -> int:
        """Send what is due for one worker now, oldest first (a turn just answered)."""
        sent = 0
        for _ in range(10):  # each round sends that worker's oldest row; a turn is a few
            delivered = await self.run_once(now=now, limit=1, contact_id=contact_id)
            if not delivered:
                break
            sent += delivered
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
        # What happened is recorded even through a database blip (a restart takes seconds):
        # a send that went out but was not recorded would go out again.
        return await _with_db_retry(lambda: self._record(job, now, error))

    async def _record(self, job: Notification, now: datetime, error: Exception | None) -> int:
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


def turn_progress(sessionmaker: async_sessionmaker[AsyncSession]) -> Callable[[int, int], Awaitable[None]]:
    """What :class:`ChannelSender` calls after each reply of a turn: the first ``sent``
    replies of outbox row ``outbox_id`` are out (a retry sends only the rest)."""
    async def record(outbox_id: int, sent: int) -> None:
        async def write() -> None:
            async with session_scope(sessionmaker) as session:
                row = await session.get_one(OutboxMessage, outbox_id)
                row.params = {**(row.params or {}), "sent": sent}
        await _with_db_retry(write)
    return record


DB_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries: rides out a database restart


async def _with_db_retry(work: Callable[[], Awaitable[Any]]) -> Any:
    for pause in (*DB_RETRIES, None):
        try:
            return await work()
        except (DBAPIError, OSError) as exc:
            if pause is None:
                raise
            logger.warning("database unavailable (%s); again in %.1f s", type(exc).__name__, pause)
            await asyncio.sleep(pause)
    return None
