"""A gateway killed mid-turn or mid-send leaves leases behind; when it starts again it frees
its own (so the workers' messages are taken up at once) and nobody else's."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.messages import do_record_inbound, do_release_leases, get_or_create_contact
from bot.cases.outbox import OutboxStatus, add_notification
from tests.cases.factories import T0


async def _message(session: AsyncSession, *, owner: str | None, until, status: str = "received"):  # type: ignore[no-untyped-def]
    contact = await get_or_create_contact(session, channel="telegram", external_id=uuid.uuid4().hex[:10])
    record = await do_record_inbound(session, contact=contact, dedupe_key=uuid.uuid4().hex, text="老板欠我工资", now=T0)
    assert record is not None
    record.status, record.lease_owner, record.lease_until = status, owner, until
    row = add_notification(session, key=uuid.uuid4().hex, template="turn", params={"replies": []}, now=T0,
                           channel="telegram", contact_id=contact.id)
    row.lease_owner, row.next_attempt_at = owner, until
    await session.flush()
    return record, row


async def test_a_restarted_gateway_frees_only_its_own_leases(session: AsyncSession) -> None:
    me, other = f"host:{uuid.uuid4().hex[:6]}", f"host:{uuid.uuid4().hex[:6]}"
    later = T0 + timedelta(seconds=40)
    mine, mine_row = await _message(session, owner=me, until=later)
    theirs, theirs_row = await _message(session, owner=other, until=later)
    # kept for a retry: its lease is a back-off, not a turn in progress (no owner)
    backing_off, _ = await _message(session, owner=None, until=T0 + timedelta(minutes=5), status="pending_retry")

    assert await do_release_leases(session, owner=me, now=T0) == (1, 1)
    assert (mine.lease_until, mine.lease_owner) == (None, None)
    assert mine_row.next_attempt_at == T0 and mine_row.lease_owner is None
    assert mine_row.status == OutboxStatus.PENDING.value
    assert theirs.lease_until == later and theirs_row.next_attempt_at == later
    assert backing_off.lease_until == T0 + timedelta(minutes=5)
    assert await do_release_leases(session, owner=me, now=T0) == (0, 0)
