"""Recording what became of a notification: delivered, held for the worker's next
message, or given up. A worker's notification also shows on their case's timeline.

Kept apart from ``outbox`` (which the state machine imports to queue rows) so that queueing
and recording never import each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Case
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.cases.workflow import Change, record_event


async def _on_timeline(session: AsyncSession, row: OutboxMessage, kind: str, note: str, now: datetime) -> None:
    """Worker notifications show on their case's timeline: delivered, held, failed."""
    if row.case_id is None or row.contact_id is None:
        return
    case = await session.get_one(Case, row.case_id)
    await record_event(session, case=case, now=now, change=Change(
        kind, "system", note, {"outbox_id": row.id, "template": row.template, "channel": row.channel}))


async def do_mark_notification_sent(session: AsyncSession, *, row: OutboxMessage, now: datetime, how: str) -> None:
    row.status, row.sent_at, row.last_error = OutboxStatus.SENT.value, now, None
    await _on_timeline(session, row, "notification_sent", how, now)


async def do_mark_notification_held(session: AsyncSession, *, row: OutboxMessage, now: datetime, why: str) -> None:
    """Cannot be delivered now: kept, and delivered with the worker's next message."""
    first = row.status != OutboxStatus.HELD.value
    row.status, row.last_error = OutboxStatus.HELD.value, why[:2000]
    if first:
        await _on_timeline(session, row, "notification_held", why, now)


async def do_mark_notification_failed(
    session: AsyncSession, *, row: OutboxMessage, now: datetime, error: str, dead: bool, retry_at: datetime | None,
) -> None:
    row.last_error, row.lease_owner = error[:2000], None
    if dead:
        row.status = OutboxStatus.DEAD.value
        await _on_timeline(session, row, "notification_failed", error, now)
    else:
        row.status, row.next_attempt_at = OutboxStatus.PENDING.value, retry_at or now
