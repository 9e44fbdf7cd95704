"""Human handoff (转人工): a worker's conversation waits for a person of the responsible
union body, who takes it, answers on the worker's own channel, and hands it back.

    waiting → active (taken by a staff member) → closed (handed back to the bot)
    waiting past its deadline → escalated to the body above (still waiting)

Staff words reach the worker only through :func:`do_send_staff_message` (an outbox row on
the worker's channel); union bodies hear of handoffs through console outbox rows, which the
dispatcher turns into alerts (``bot.cases.alerts``). The caller owns the transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, and_, func, select
from sqlalchemy import case as sa_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.deadlines import UNION_TZ, Calendar, load_calendar
from bot.cases.words import beijing_words
from bot.cases.errors import DomainError, InvalidInput, NotFound
from bot.cases.messages import do_hand_back, do_request_handoff
from bot.cases.models import OPEN_STATUSES, BigId, Case, Contact, InboundRecord, Org, OutboundRecord
from bot.cases.org_models import OrgKind, StaffUser
from bot.cases.outbox import CONSOLE_CHANNEL, OutboxMessage, add_notification
from bot.db import Base, UTCDateTime, utcnow


class HandoffStatus(str, enum.Enum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    # the worker's open case when they asked, if any (its org is the one responsible)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.WAITING.value, index=True)
    # what the worker last wrote before asking (shown in the live list)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a person must take it by then, else it escalates (working hours, like case deadlines)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))


HANDOFF_MINUTES = 30  # a person should take a waiting conversation within this (office time)
OPENS, CLOSES = time(8, 30), time(17, 30)
OPEN_HANDOFF = (HandoffStatus.WAITING.value, HandoffStatus.ACTIVE.value)
MAX_TEXT = 2000  # the longest staff message (and stored reason)


class HandoffError(DomainError):
    code = "invalid_transition"


def next_opening(now: datetime, calendar: Calendar) -> datetime | None:
    """When the office opens next (union time); None while it is open."""
    local = now.astimezone(UNION_TZ)
    if calendar.is_working_day(local.date()) and OPENS <= local.time() < CLOSES:
        return None
    day = local.date() if local.time() < OPENS else local.date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, OPENS, UNION_TZ)


def handoff_due(now: datetime, calendar: Calendar) -> datetime:
    """By when a person must take a handoff asked for at ``now``: 30 minutes of office time
    (``now`` + 30 min while the office is open, else the next opening + 30 min)."""
    return (next_opening(now, calendar) or now) + timedelta(minutes=HANDOFF_MINUTES)


def _pg(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def _contact_words(contact: Contact) -> str:
    # Never the channel's external id (an openid / chat id): it identifies the person.
    return contact.display_name or f"#{contact.id}"


def _local(moment: datetime) -> str:
    return beijing_words(moment)


async def get_open_handoff(session: AsyncSession, *, contact_id: int) -> Handoff | None:
    """The contact's waiting or active handoff, if any."""
    stmt = (select(Handoff).where(Handoff.contact_id == contact_id, Handoff.status.in_(OPEN_HANDOFF))
            .order_by(Handoff.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_handoff_for_update_or_raise(session: AsyncSession, *, handoff_id: int) -> Handoff:
    """The handoff, row-locked on PostgreSQL so two staff acting on it serialise.

    Raises:
        NotFound: no handoff has this id.
    """
    stmt = select(Handoff).where(Handoff.id == handoff_id)
    if _pg(session):
        stmt = stmt.with_for_update()
    handoff = (await session.execute(stmt)).scalar_one_or_none()
    if handoff is None:
        raise NotFound(f"no handoff with id {handoff_id}")
    return handoff


async def _responsible(session: AsyncSession, contact_id: int) -> tuple[Org, Case | None]:
    """The org of the contact's newest open case, else the city federation's intake desk."""
    stmt = (select(Case).where(Case.contact_id == contact_id, Case.status.in_(OPEN_STATUSES))
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(1))
    case = (await session.execute(stmt)).scalar_one_or_none()
    if case is not None:
        return await session.get_one(Org, case.org_id), case
    stmt = select(Org).where(Org.kind == OrgKind.INTAKE.value).order_by(Org.id).limit(1)
    desk = (await session.execute(stmt)).scalar_one_or_none()
    if desk is None:
        raise NotFound("no intake desk (orgs.kind = 'intake_desk'): is the organisation seeded?")
    return desk, None


async def do_open_handoff(session: AsyncSession, *, contact: Contact, reason: str | None, now: datetime) -> Handoff:
    """Put ``contact``'s conversation in the live list of the responsible union body.

    The bot is paused for the contact (``contact.handoff_at``). The responsible body is
    the one of the contact's newest open case, else the intake desk; it gets a console
    notification (``org_handoff_requested``). Asking again while a handoff is waiting or
    active returns that handoff and notifies nobody.

    Raises:
        NotFound: there is no open case and no intake desk (organisation not seeded).
    """
    if _pg(session):  # two "转人工" at once from one worker: one handoff
        await session.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
    existing = await get_open_handoff(session, contact_id=contact.id)
    await do_request_handoff(session, contact=contact, now=now)
    if existing is not None:
        return existing
    org, case = await _responsible(session, contact.id)
    handoff = Handoff(
        contact_id=contact.id, org_id=org.id, case_id=case.id if case else None,
        status=HandoffStatus.WAITING.value, reason=(reason or "").strip()[:MAX_TEXT] or None,
        requested_at=now, due_at=handoff_due(now, await load_calendar(session)), escalations=0,
    )
    session.add(handoff)
    await session.flush()
    _notify_org(session, handoff=handoff, org_id=org.id, contact=contact, case=case, now=now,
                template="org_handoff_requested", key=f"handoff:{handoff.id}:opened")
    return handoff


def _notify_org(
    session: AsyncSession, *, handoff: Handoff, org_id: int, contact: Contact, case: Case | None,
    now: datetime, template: str, key: str, **extra: Any,
) -> None:
    params = {
        "handoff_id": handoff.id, "contact": _contact_words(contact), "channel": contact.channel,
        "reason": handoff.reason or "（未说明）", "number": case.number if case else None,
        "due": _local(handoff.due_at), "escalations": handoff.escalations, **extra,
    }
    add_notification(session, key=key, template=template, params=params, now=now, channel=CONSOLE_CHANNEL,
                     org_id=org_id, case_id=handoff.case_id)


async def do_take_handoff(
    session: AsyncSession, *, handoff: Handoff, user_id: int, actor: str, now: datetime
) -> Handoff:
    """``user_id`` takes the conversation: waiting → active. A colleague may take over an
    active one; taking one you already hold changes nothing.

    Raises:
        HandoffError: the handoff is closed (the conversation is back with the bot).
    """
    if handoff.status == HandoffStatus.CLOSED.value:
        raise HandoffError("该转人工会话已交还机器人，不能再接手；如职工再次请求人工，会出现在列表中")
    if handoff.status == HandoffStatus.ACTIVE.value and handoff.taken_by_id == user_id:
        return handoff
    handoff.status, handoff.taken_at, handoff.taken_by_id = HandoffStatus.ACTIVE.value, now, user_id
    return handoff


def check_staff_text(text: str) -> str:
    """The message as it will be sent (stripped); raises :class:`InvalidInput` if empty or too long."""
    text = (text or "").strip()
    if not 1 <= len(text) <= MAX_TEXT:
        raise InvalidInput(f"消息不能为空，且不超过 {MAX_TEXT} 字")
    return text


async def do_send_staff_message(
    session: AsyncSession, *, contact: Contact, text: str, author: str, now: datetime,
    case_id: int | None = None, handoff: Handoff | None = None, user_id: int | None = None,
) -> OutboundRecord:
    """Queue a staff member's words to a worker on the worker's own channel.

    This is the one path by which a person's words reach a worker: the conversation gets an
    :class:`OutboundRecord` (``author`` e.g. ``"staff:<username>"``) and the outbox a
    ``staff_message`` row, whose delivery state the record points to (``outbox_id``). A
    waiting ``handoff`` becomes active (taken by ``user_id`` when given): staff answered.

    Raises:
        InvalidInput: the text is empty or longer than 2000 characters, or ``handoff``
            belongs to another contact.
    """
    text = check_staff_text(text)
    if handoff is not None and handoff.contact_id != contact.id:
        raise InvalidInput("handoff belongs to another contact")
    record = OutboundRecord(contact_id=contact.id, inbound_id=None, channel=contact.channel, text=text,
                            buttons=[], author=author, created_at=now)
    session.add(record)
    await session.flush()
    row = add_notification(
        session, key=f"staff-message:{record.id}", template="staff_message", params={"text": text, "author": author},
        now=now, channel=contact.channel, contact_id=contact.id, case_id=case_id,
    )
    await session.flush()
    record.outbox_id = row.id
    if handoff is not None and handoff.status == HandoffStatus.WAITING.value:
        handoff.status, handoff.taken_at, handoff.taken_by_id = HandoffStatus.ACTIVE.value, now, user_id
    return record


async def do_close_handoff(session: AsyncSession, *, handoff: Handoff, actor: str, now: datetime) -> None:
    """Hand the conversation back to the bot: the handoff is closed, the bot answers again.

    Raises:
        HandoffError: it is already closed.
    """
    if handoff.status == HandoffStatus.CLOSED.value:
        raise HandoffError("该转人工会话已经交还机器人")
    handoff.status, handoff.closed_at, handoff.closed_by = HandoffStatus.CLOSED.value, now, actor
    await do_hand_back(session, contact=await session.get_one(Contact, handoff.contact_id))


async def list_handoffs(
    session: AsyncSession, *, org_ids: Collection[int], now: datetime,
    statuses: Collection[str] = OPEN_HANDOFF, limit: int = 100,
) -> list[dict[str, Any]]:
    """The live list of ``org_ids``' handoffs: waiting ones first, oldest first.

    Each item: ``id``, ``status``, ``org_id``, ``org``, ``contact_id``, ``contact``,
    ``channel``, ``case_id``, ``number``, ``reason``, ``requested_at``, ``due_at``,
    ``overdue`` (waiting past ``due_at`` at ``now``), ``escalations``, ``taken_by``,
    ``last_text`` / ``last_at`` (the worker's newest message) and ``new_messages`` (the
    worker's messages since the handoff was asked for).
    """
    waiting_first = sa_case((Handoff.status == HandoffStatus.WAITING.value, 0), else_=1)
    stmt = (
        select(Handoff, Org.name, Contact, Case.number, StaffUser.display_name)
        .join(Org, Org.id == Handoff.org_id).join(Contact, Contact.id == Handoff.contact_id)
        .outerjoin(Case, Case.id == Handoff.case_id).outerjoin(StaffUser, StaffUser.id == Handoff.taken_by_id)
        .where(Handoff.org_id.in_(list(org_ids)), Handoff.status.in_(list(statuses)))
        .order_by(waiting_first, Handoff.requested_at, Handoff.id).limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    counts, last = await _inbound_summary(session, [r[0] for r in rows])
    return [
        {
            "id": h.id, "status": h.status, "org_id": h.org_id, "org": org_name, "contact_id": contact.id,
            "contact": _contact_words(contact), "channel": contact.channel, "case_id": h.case_id, "number": number,
            "reason": h.reason, "requested_at": h.requested_at, "due_at": h.due_at,
            "overdue": h.status == HandoffStatus.WAITING.value and h.due_at <= now, "escalations": h.escalations,
            "taken_by": taken_by, "last_text": last.get(h.contact_id, (None, None))[0],
            "last_at": last.get(h.contact_id, (None, None))[1], "new_messages": counts.get(h.id, 0),
        }
        for h, org_name, contact, number, taken_by in rows
    ]


async def _inbound_summary(
    session: AsyncSession, handoffs: list[Handoff]
) -> tuple[dict[int, int], dict[int, tuple[str | None, datetime]]]:
    """(handoff id → worker messages since it was asked for, contact id → newest message)."""
    if not handoffs:
        return {}, {}
    ids, contact_ids = [h.id for h in handoffs], {h.contact_id for h in handoffs}
    since = (
        select(Handoff.id, func.count(InboundRecord.id))
        .join(InboundRecord, and_(InboundRecord.contact_id == Handoff.contact_id,
                                  InboundRecord.received_at >= Handoff.requested_at))
        .where(Handoff.id.in_(ids)).group_by(Handoff.id)
    )
    counts = {hid: n for hid, n in (await session.execute(since)).all()}
    newest = (select(func.max(InboundRecord.id)).where(InboundRecord.contact_id.in_(contact_ids))
              .group_by(InboundRecord.contact_id))
    stmt = select(InboundRecord).where(InboundRecord.id.in_(newest))
    last = {r.contact_id: (r.text or r.payload, r.received_at) for r in (await session.execute(stmt)).scalars()}
    return counts, last


async def conversation(session: AsyncSession, *, contact_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` messages with a contact, oldest first, both directions merged.

    Each item: ``id`` (unique per ``direction``), ``direction`` (``"in"``/``"out"``),
    ``text``, ``buttons``, ``image``, ``author`` (``"worker"``, ``"bot"`` or
    ``"staff:<username>"``), ``kind``, ``at`` and ``delivery``: for a staff message the
    state of its outbox row (pending/sent/held/dead), else None.
    """
    inbound = (await session.execute(
        select(InboundRecord).where(InboundRecord.contact_id == contact_id)
        .order_by(InboundRecord.received_at.desc(), InboundRecord.id.desc()).limit(limit))).scalars().all()
    outbound = (await session.execute(
        select(OutboundRecord).where(OutboundRecord.contact_id == contact_id)
        .order_by(OutboundRecord.created_at.desc(), OutboundRecord.id.desc()).limit(limit))).scalars().all()
    outbox_ids = [r.outbox_id for r in outbound if r.outbox_id is not None]
    states = dict((await session.execute(
        select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(outbox_ids)))).all()
    ) if outbox_ids else {}
    items = [_inbound_item(r) for r in inbound] + [_outbound_item(r, states) for r in outbound]
    # An answer is stored at the same instant as the message it answers: the message first.
    items.sort(key=lambda m: (m["at"], m["direction"] == "out", m["id"]))
    return items[-limit:]


def _inbound_item(r: InboundRecord) -> dict[str, Any]:
    return {"id": r.id, "direction": "in", "text": r.text if r.text is not None else r.payload, "buttons": [],
            "image": None, "author": "worker", "kind": r.kind, "at": r.received_at, "delivery": None}


def _outbound_item(r: OutboundRecord, states: dict[int, str]) -> dict[str, Any]:
    return {"id": r.id, "direction": "out", "text": r.text, "buttons": list(r.buttons or []), "image": r.image,
            "author": r.author or "bot", "kind": "image" if r.image and not r.text else "text",
            "at": r.created_at, "delivery": states.get(r.outbox_id) if r.outbox_id is not None else None}


async def do_process_handoff_breaches(
    session: AsyncSession, *, now: datetime, calendar: Calendar, limit: int = 100
) -> list[int]:
    """Escalate handoffs nobody took in time: each moves to the parent body, which gets a
    console notification (``org_handoff_escalated``) and a fresh 30 minutes of office time.

    At the top of the hierarchy the body is told once per escalation count
    (``org_handoff_overdue``) and ``due_at`` moves on, so it is not reported every minute.
    Safe with several schedulers: PostgreSQL rows are claimed ``FOR UPDATE SKIP LOCKED``
    (SQLite serialises writers). Returns the ids of the handoffs moved.
    """
    stmt = (select(Handoff).where(Handoff.status == HandoffStatus.WAITING.value, Handoff.due_at <= now)
            .order_by(Handoff.due_at, Handoff.id).limit(limit))
    if _pg(session):
        stmt = stmt.with_for_update(skip_locked=True)
    moved: list[int] = []
    for handoff in list((await session.execute(stmt)).scalars()):
        if await _escalate_handoff(session, handoff=handoff, now=now, calendar=calendar):
            moved.append(handoff.id)
    return moved


async def _escalate_handoff(session: AsyncSession, *, handoff: Handoff, now: datetime, calendar: Calendar) -> bool:
    current = await session.get_one(Org, handoff.org_id)
    contact = await session.get_one(Contact, handoff.contact_id)
    case = await session.get(Case, handoff.case_id) if handoff.case_id is not None else None
    handoff.due_at = handoff_due(now, calendar)
    if current.parent_id is None:
        key = f"handoff:{handoff.id}:overdue:{handoff.escalations}"
        if (await session.execute(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))).first():
            return False
        _notify_org(session, handoff=handoff, org_id=current.id, contact=contact, case=case, now=now,
                    template="org_handoff_overdue", key=key, org=current.name)
        return False
    parent = await session.get_one(Org, current.parent_id)
    handoff.org_id, handoff.escalations = parent.id, handoff.escalations + 1
    _notify_org(session, handoff=handoff, org_id=parent.id, contact=contact, case=case, now=now,
                template="org_handoff_escalated", key=f"handoff:{handoff.id}:escalated:{handoff.escalations}",
                org=parent.name, from_org=current.name)
    return True
