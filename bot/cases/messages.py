"""Contacts and the messages they exchange with us: stored before anything else happens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Contact, InboundRecord, InboundStatus, OutboundRecord
from bot.db import utcnow


async def get_or_create_contact(
    session: AsyncSession, *, channel: str, external_id: str, display_name: str | None = None
) -> Contact:
    """The contact for ``channel``/``external_id``, created on first sight.

    Safe under concurrency: a racing insert of the same identity is caught by the unique
    constraint inside a savepoint and the winner's row is returned.
    """
    stmt = select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
    contact = (await session.execute(stmt)).scalar_one_or_none()
    if contact is not None:
        return contact
    try:
        async with session.begin_nested():
            contact = Contact(channel=channel, external_id=external_id, display_name=display_name)
            session.add(contact)
    except IntegrityError:
        contact = (await session.execute(stmt)).scalar_one()
    return contact


async def get_contact_by_sender_id(session: AsyncSession, *, sender_id: str) -> Contact | None:
    """The contact behind a Rasa sender id ``<channel>:<external id>``, if any."""
    channel, sep, external_id = sender_id.partition(":")
    if not sep:
        return None
    stmt = select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def do_record_inbound(
    session: AsyncSession,
    *,
    contact: Contact,
    dedupe_key: str,
    text: str | None,
    payload: str | None = None,
    kind: str = "text",
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> InboundRecord | None:
    """Store an inbound message; ``None`` when this delivery was already stored (a retry)."""
    now = now or utcnow()
    message = InboundRecord(
        contact_id=contact.id,
        channel=contact.channel,
        dedupe_key=dedupe_key,
        kind=kind,
        text=text,
        payload=payload,
        meta=meta or {},
        status=InboundStatus.RECEIVED.value,
        received_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    contact.last_inbound_at = now
    return message


async def do_record_answer(
    session: AsyncSession,
    *,
    inbound: InboundRecord,
    replies: Sequence[dict[str, Any]],
    now: datetime | None = None,
) -> list[OutboundRecord]:
    """Mark ``inbound`` answered and store the replies sent for it."""
    now = now or utcnow()
    rows = [
        OutboundRecord(
            contact_id=inbound.contact_id,
            inbound_id=inbound.id,
            channel=inbound.channel,
            text=reply.get("text"),
            buttons=list(reply.get("buttons") or []),
            image=reply.get("image"),
            created_at=now,
        )
        for reply in replies
    ]
    session.add_all(rows)
    inbound.status = InboundStatus.ANSWERED.value
    inbound.answered_at = now
    inbound.attempts += 1
    inbound.error = None
    return rows


async def do_record_unanswered(
    session: AsyncSession, *, inbound: InboundRecord, error: str
) -> None:
    """Keep ``inbound`` for a retry: the dialogue engine failed or said nothing."""
    inbound.status = InboundStatus.PENDING_RETRY.value
    inbound.attempts += 1
    inbound.error = error[:2000]


async def do_request_handoff(session: AsyncSession, *, contact: Contact, now: datetime | None = None) -> bool:
    """Pause the bot for ``contact``: their messages go to staff. False if already paused."""
    if contact.handoff_at is not None:
        return False
    contact.handoff_at = now or utcnow()
    return True


async def do_hand_back(session: AsyncSession, *, contact: Contact) -> bool:
    """Give the conversation back to the bot. False if it was not with staff."""
    if contact.handoff_at is None:
        return False
    contact.handoff_at = None
    return True


UNANSWERED_STATUSES = (InboundStatus.PENDING_RETRY.value, InboundStatus.FAILED.value)


async def list_unanswered(
    session: AsyncSession, *, include_retrying: bool = True, limit: int = 200
) -> list[dict[str, Any]]:
    """Messages the bot could not answer, oldest first: those given up (``failed``, each
    handed to a person) and, unless ``include_retrying`` is false, those still waiting for
    a retry. Texts and errors are masked (phone and ID numbers); never the channel id."""
    from bot.cases.privacy import mask_personal

    statuses = UNANSWERED_STATUSES if include_retrying else (InboundStatus.FAILED.value,)
    rows = (await session.execute(
        select(InboundRecord, Contact).join(Contact, Contact.id == InboundRecord.contact_id)
        .where(InboundRecord.status.in_(statuses))
        .order_by(InboundRecord.received_at, InboundRecord.id).limit(limit))).all()
    return [{
        "id": record.id, "contact": contact.display_name or f"#{contact.id}", "contact_id": contact.id,
        "channel": record.channel, "status": record.status, "attempts": record.attempts,
        "received_at": record.received_at.isoformat(),
        "next_try_at": (record.lease_until.isoformat()
                        if record.status == InboundStatus.PENDING_RETRY.value and record.lease_until else None),
        "text": mask_personal(record.text or record.payload or "")[:200],
        "error": mask_personal(record.error or "")[:300] or None,
        "with_staff": contact.handoff_at is not None,
    } for record, contact in rows]


async def do_release_leases(session: AsyncSession, *, owner: str, now: datetime | None = None) -> tuple[int, int]:
    """A gateway starting again frees what its previous run (killed mid-turn or mid-send)
    still held, so those messages and sends are taken up at once, not when the lease ends.
    ``owner`` must be this gateway's stable id: no other live process holds leases under it.
    Returns (messages, outbox rows) freed."""
    from sqlalchemy import update

    from bot.cases.outbox import OutboxMessage, OutboxStatus

    now = now or utcnow()
    messages = await session.execute(
        update(InboundRecord)
        .where(InboundRecord.lease_owner == owner, InboundRecord.lease_until > now,
               InboundRecord.status.in_((InboundStatus.RECEIVED.value, InboundStatus.PENDING_RETRY.value)))
        .values(lease_until=None, lease_owner=None))
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.lease_owner == owner, OutboxMessage.next_attempt_at > now,
               OutboxMessage.status == OutboxStatus.PENDING.value)
        .values(next_attempt_at=now, lease_owner=None))
    return messages.rowcount or 0, rows.rowcount or 0
