"""The notification centre: one alert per console outbox row, copies to linked phones as
outbox rows of their own, unread counts and marking seen."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases import alerts
from bot.cases.handoffs import do_open_handoff
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Contact
from bot.cases.org_models import StaffUser
from bot.cases.outbox import CONSOLE_CHANNEL, OutboxMessage
from bot.db import create_sessionmaker, session_scope
from tests.cases.factories import T0, Tree, make_tree, open_case

MIN = timedelta(minutes=1)
FAR_FUTURE = datetime(2099, 3, 2, 1, 0, tzinfo=timezone.utc)


async def staff(session: AsyncSession, org_id: int, *, phone: str | None = None, active: bool = True) -> StaffUser:
    contact = None
    if phone is not None:
        contact = await get_or_create_contact(session, channel=phone, external_id=f"s-{uuid.uuid4().hex[:10]}")
    user = StaffUser(username=f"u-{uuid.uuid4().hex[:8]}", display_name="张敏", org_id=org_id, role="staff",
                     active=active, contact_id=contact.id if contact else None)
    session.add(user)
    await session.flush()
    return user


async def console_row(session: AsyncSession, tree: Tree, *, now: datetime = T0) -> OutboxMessage:
    """A real console row: a worker with an open case asks for a person."""
    case = await open_case(session, tree, now=now)
    handoff = await do_open_handoff(session, contact=await session.get_one(Contact, case.contact_id),
                                    reason="转人工", now=now)
    return (await session.execute(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"handoff:{handoff.id}:opened"))).scalar_one()


async def deliver(session: AsyncSession, row: OutboxMessage, text: str = "职工请求转人工") -> alerts.StaffAlert:
    return await alerts.do_deliver_console_alert(
        session, outbox_id=row.id, org_id=row.org_id, template=row.template, text=text, case_id=row.case_id,
        params=row.params, now=T0 + MIN,
    )


async def phone_rows(session: AsyncSession, alert: alerts.StaffAlert) -> list[OutboxMessage]:
    stmt = (select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"alert:{alert.id}:"))
            .order_by(OutboxMessage.id))
    return list((await session.execute(stmt)).scalars())


async def test_a_console_row_becomes_one_alert_however_often_it_is_delivered(session: AsyncSession) -> None:
    tree = await make_tree(session)
    row = await console_row(session, tree)
    await staff(session, tree.pianqu.id, phone="wechat")
    alert = await deliver(session, row)
    assert (alert.org_id, alert.kind, alert.case_id, alert.outbox_id) == (tree.pianqu.id, "handoff_requested",
                                                                           row.case_id, row.id)
    assert alert.handoff_id == row.params["handoff_id"] and alert.text == "职工请求转人工"
    again = await deliver(session, row)
    assert again.id == alert.id
    assert len(await phone_rows(session, alert)) == 1
    assert [a.id for a in await alerts.list_alerts(session, org_id=tree.pianqu.id)] == [alert.id]


async def test_each_staff_member_with_a_linked_phone_gets_one_row_on_their_channel(session: AsyncSession) -> None:
    tree = await make_tree(session)
    on_wechat = await staff(session, tree.pianqu.id, phone="wechat")
    on_telegram = await staff(session, tree.pianqu.id, phone="telegram")
    await staff(session, tree.pianqu.id)  # no phone linked
    await staff(session, tree.pianqu.id, phone="wechat", active=False)  # left the union
    await staff(session, tree.street.id, phone="wechat")  # another body
    alert = await deliver(session, await console_row(session, tree), text="【紧急】新案件")
    rows = await phone_rows(session, alert)
    assert [(r.contact_id, r.channel) for r in rows] == [
        (on_wechat.contact_id, "wechat"), (on_telegram.contact_id, "telegram")]
    for row, user in zip(rows, (on_wechat, on_telegram), strict=True):
        assert row.idempotency_key == f"alert:{alert.id}:user:{user.id}"
        assert (row.template, row.params, row.case_id, row.org_id, row.status) == (
            "staff_alert", {"text": "【紧急】新案件"}, None, None, "pending")
        assert row.channel != CONSOLE_CHANNEL


async def test_unread_count_and_marking_seen_never_go_backwards(session: AsyncSession) -> None:
    tree = await make_tree(session)
    user = await staff(session, tree.pianqu.id)
    other = await staff(session, tree.street.id)
    first = await deliver(session, await console_row(session, tree))
    second = await deliver(session, await console_row(session, tree))
    assert await alerts.unread_count(session, user=user) == 2
    assert await alerts.unread_count(session, user=other) == 0
    assert [a.id for a in await alerts.list_alerts(session, org_id=tree.pianqu.id)] == [second.id, first.id]
    assert [a.id for a in await alerts.list_alerts(session, org_id=tree.pianqu.id, limit=1)] == [second.id]

    await alerts.do_mark_alerts_seen(session, user=user, upto_id=first.id)
    assert (user.alerts_seen_id, await alerts.unread_count(session, user=user)) == (first.id, 1)
    await alerts.do_mark_alerts_seen(session, user=user, upto_id=first.id - 1)  # an older page
    assert (user.alerts_seen_id, await alerts.unread_count(session, user=user)) == (first.id, 1)
    await alerts.do_mark_alerts_seen(session, user=user, upto_id=second.id + 1000)  # a bogus id
    assert (user.alerts_seen_id, await alerts.unread_count(session, user=user)) == (second.id, 0)
    third = await deliver(session, await console_row(session, tree))
    assert await alerts.unread_count(session, user=user) == 1 and third.id > user.alerts_seen_id


async def test_two_dispatchers_delivering_one_row_at_once_make_one_alert(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with session_scope(sessionmaker) as session:
        tree = await make_tree(session)
        await staff(session, tree.pianqu.id, phone="telegram")
        # committed for real: opened far in the future, so its deadlines never show in the
        # scheduler tests that share this database
        row = await console_row(session, tree, now=FAR_FUTURE)

    async def second() -> int:
        async with session_scope(sessionmaker) as session:  # waits for the first (row lock / write lock)
            return (await deliver(session, row)).id

    async with sessionmaker() as first, first.begin():
        mine = (await deliver(first, row)).id
        racing = asyncio.create_task(second())
        await asyncio.sleep(0.2)
    assert await racing == mine
    async with session_scope(sessionmaker) as session:
        alert = await session.get_one(alerts.StaffAlert, mine)
        assert len(await phone_rows(session, alert)) == 1
        count = select(func.count()).select_from(alerts.StaffAlert).where(alerts.StaffAlert.outbox_id == row.id)
        assert (await session.execute(count)).scalar_one() == 1
