"""转人工: the live list of the responsible union, staff replies on the worker's channel,
hand-back, office hours, and escalation of handoffs nobody takes."""

from __future__ import annotations

from bot.cases.words import beijing_words

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import handoffs as ho
from bot.cases import workflow as wf
from bot.cases.deadlines import UNION_TZ, Calendar
from bot.cases.errors import InvalidInput
from bot.cases.handoffs import Handoff
from bot.cases.messages import do_record_answer, do_record_inbound, get_or_create_contact
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.models import Contact
from bot.cases.org_models import StaffUser
from bot.cases.orgs import get_org_by_code_or_raise
from bot.cases.outbox import CONSOLE_CHANNEL, OutboxMessage
from tests.cases.factories import T0, make_tree, open_case

MIN = timedelta(minutes=1)
CALENDAR = Calendar()
STAFF = "staff:zhang"


async def new_contact(session: AsyncSession, channel: str = "webchat") -> Contact:
    return await get_or_create_contact(session, channel=channel, external_id=f"h-{uuid.uuid4().hex[:10]}")


async def outbox_rows(session: AsyncSession, **where: object) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
    return list((await session.execute(stmt)).scalars())


async def handoff_rows(session: AsyncSession, handoff: Handoff, template: str) -> list[OutboxMessage]:
    rows = await outbox_rows(session, template=template, channel=CONSOLE_CHANNEL)
    return [r for r in rows if r.params.get("handoff_id") == handoff.id]


async def staff_user(session: AsyncSession, org_id: int, name: str = "张敏") -> StaffUser:
    user = StaffUser(username=f"u-{uuid.uuid4().hex[:8]}", display_name=name, org_id=org_id, role="staff")
    session.add(user)
    await session.flush()
    return user


async def test_a_handoff_goes_to_the_org_of_the_open_case_once(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    contact = await session.get_one(Contact, case.contact_id)
    now = T0 + 2 * MIN
    handoff = await ho.do_open_handoff(session, contact=contact, reason=" 老板不接电话，我想找人 ", now=now)
    assert (handoff.org_id, handoff.case_id, handoff.status) == (tree.pianqu.id, case.id, "waiting")
    assert handoff.reason == "老板不接电话，我想找人"
    assert handoff.due_at == now + 30 * MIN and contact.handoff_at == now
    [row] = await handoff_rows(session, handoff, "org_handoff_requested")
    assert (row.org_id, row.case_id, row.idempotency_key) == (tree.pianqu.id, case.id, f"handoff:{handoff.id}:opened")
    assert row.params["number"] == case.number and row.params["reason"] == handoff.reason

    again = await ho.do_open_handoff(session, contact=contact, reason="人呢", now=now + 5 * MIN)
    assert again.id == handoff.id
    assert len(await handoff_rows(session, handoff, "org_handoff_requested")) == 1
    count = select(func.count()).select_from(Handoff).where(Handoff.contact_id == contact.id)
    assert (await session.execute(count)).scalar_one() == 1
    assert await ho.get_open_handoff(session, contact_id=contact.id) is handoff


async def test_without_an_open_case_the_intake_desk_is_responsible(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    await wf.do_withdraw(session, case=case, actor="worker", now=T0 + MIN)  # no longer open
    contact = await session.get_one(Contact, case.contact_id)
    desk = await get_org_by_code_or_raise(session, code="city-intake")
    for who in (contact, await new_contact(session)):
        handoff = await ho.do_open_handoff(session, contact=who, reason="转人工", now=T0 + 2 * MIN)
        assert (handoff.org_id, handoff.case_id) == (desk.id, None)
        [row] = await handoff_rows(session, handoff, "org_handoff_requested")
        assert row.org_id == desk.id and row.params["number"] is None


@pytest.mark.parametrize(("asked", "due"), [
    (T0 + timedelta(days=5), T0 + timedelta(days=7)),  # Saturday 09:00 → Monday 09:00
    (T0 + timedelta(hours=10), T0 + timedelta(days=1)),  # Monday 19:00 → Tuesday 09:00
    (T0 - timedelta(hours=1), T0),  # Monday 08:00 → Monday 09:00
    (T0 + timedelta(hours=8, minutes=29), T0 + timedelta(hours=8, minutes=59)),  # 17:29: still open
])
async def test_outside_office_hours_the_due_time_starts_at_the_next_opening(
    session: AsyncSession, asked: datetime, due: datetime
) -> None:
    assert ho.handoff_due(asked, CALENDAR) == due
    await make_tree(session)
    handoff = await ho.do_open_handoff(session, contact=await new_contact(session), reason="转人工", now=asked)
    assert handoff.due_at == due
    [row] = await handoff_rows(session, handoff, "org_handoff_requested")
    assert row.params["due"] == beijing_words(due)


def test_next_opening_is_none_while_the_office_is_open() -> None:
    assert ho.next_opening(T0, CALENDAR) is None
    saturday = T0 + timedelta(days=5)
    assert ho.next_opening(saturday, CALENDAR) == datetime.combine((T0 + timedelta(days=7)).date(), ho.OPENS, UNION_TZ)
    holiday = Calendar(holidays={(T0 + timedelta(days=7)).date()})
    assert ho.next_opening(saturday, holiday).date() == (T0 + timedelta(days=8)).date()


async def test_take_then_a_colleague_takes_over_and_a_closed_one_cannot_be_taken(session: AsyncSession) -> None:
    tree = await make_tree(session)
    contact = await new_contact(session)
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0)
    first, second = await staff_user(session, tree.pianqu.id), await staff_user(session, tree.pianqu.id, "李强")
    await ho.do_take_handoff(session, handoff=handoff, user_id=first.id, actor=STAFF, now=T0 + MIN)
    assert (handoff.status, handoff.taken_by_id, handoff.taken_at) == ("active", first.id, T0 + MIN)
    await ho.do_take_handoff(session, handoff=handoff, user_id=second.id, actor="staff:li", now=T0 + 2 * MIN)
    assert (handoff.status, handoff.taken_by_id) == ("active", second.id)
    await ho.do_close_handoff(session, handoff=handoff, actor="staff:li", now=T0 + 3 * MIN)
    with pytest.raises(ho.HandoffError, match="交还机器人") as raised:
        await ho.do_take_handoff(session, handoff=handoff, user_id=first.id, actor=STAFF, now=T0 + 4 * MIN)
    assert raised.value.code == "invalid_transition"


async def test_a_staff_message_is_stored_queued_for_the_worker_and_answers_the_handoff(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    contact = await session.get_one(Contact, case.contact_id)
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0)
    user = await staff_user(session, tree.pianqu.id)
    record = await ho.do_send_staff_message(
        session, contact=contact, text="  您好，我是片区工会的张敏。  ", author=STAFF, now=T0 + MIN,
        case_id=case.id, handoff=handoff, user_id=user.id,
    )
    assert (record.text, record.author, record.inbound_id, record.channel) == (
        "您好，我是片区工会的张敏。", STAFF, None, contact.channel)
    [row] = await outbox_rows(session, template="staff_message", contact_id=contact.id)
    assert record.outbox_id == row.id and row.idempotency_key == f"staff-message:{record.id}"
    assert (row.channel, row.case_id, row.status) == (contact.channel, case.id, "pending")
    assert row.params == {"text": "您好，我是片区工会的张敏。", "author": STAFF}
    assert (handoff.status, handoff.taken_by_id, handoff.taken_at) == ("active", user.id, T0 + MIN)


@pytest.mark.parametrize("text", ["", "   ", "字" * 2001])
async def test_an_empty_or_overlong_staff_message_is_refused(session: AsyncSession, text: str) -> None:
    contact = await new_contact(session)
    with pytest.raises(InvalidInput):
        await ho.do_send_staff_message(session, contact=contact, text=text, author=STAFF, now=T0)
    assert await outbox_rows(session, contact_id=contact.id) == []


async def test_closing_hands_back_to_the_bot_once(session: AsyncSession) -> None:
    await make_tree(session)
    contact = await new_contact(session)
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0)
    await ho.do_close_handoff(session, handoff=handoff, actor=STAFF, now=T0 + MIN)
    assert (handoff.status, handoff.closed_at, handoff.closed_by) == ("closed", T0 + MIN, STAFF)
    assert contact.handoff_at is None
    assert await ho.get_open_handoff(session, contact_id=contact.id) is None
    with pytest.raises(ho.HandoffError):
        await ho.do_close_handoff(session, handoff=handoff, actor=STAFF, now=T0 + 2 * MIN)
    # asking again later is a new handoff, with its own alert
    later = await ho.do_open_handoff(session, contact=contact, reason="还是要人工", now=T0 + 3 * MIN)
    assert later.id != handoff.id and len(await handoff_rows(session, later, "org_handoff_requested")) == 1


async def test_the_conversation_merges_both_directions_in_order(session: AsyncSession) -> None:
    await make_tree(session)
    contact = await new_contact(session)
    first = await do_record_inbound(session, contact=contact, dedupe_key=uuid.uuid4().hex, text="工资没发", now=T0)
    await do_record_answer(session, inbound=first, now=T0, replies=[
        {"text": "是哪家单位？", "buttons": [{"title": "跳过", "payload": "/skip"}]}])
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0 + MIN)
    await do_record_inbound(session, contact=contact, dedupe_key=uuid.uuid4().hex, text="在吗", now=T0 + 2 * MIN)
    await ho.do_send_staff_message(session, contact=contact, text="在的", author=STAFF, now=T0 + 3 * MIN,
                                   handoff=handoff)
    items = await ho.conversation(session, contact_id=contact.id)
    assert [(m["direction"], m["author"], m["text"]) for m in items] == [
        ("in", "worker", "工资没发"), ("out", "bot", "是哪家单位？"), ("in", "worker", "在吗"), ("out", STAFF, "在的"),
    ]
    assert items[1]["buttons"] == [{"title": "跳过", "payload": "/skip"}] and items[1]["delivery"] is None
    assert items[3]["delivery"] == "pending"
    assert [m["text"] for m in await ho.conversation(session, contact_id=contact.id, limit=2)] == ["在吗", "在的"]


async def test_the_live_list_shows_what_staff_need(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    contact = await session.get_one(Contact, case.contact_id)
    contact.display_name = "王小红"
    await do_record_inbound(session, contact=contact, dedupe_key=uuid.uuid4().hex, text="转人工", now=T0)
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0)
    await do_record_inbound(session, contact=contact, dedupe_key=uuid.uuid4().hex, text="有人吗", now=T0 + MIN)
    [item] = await ho.list_handoffs(session, org_ids=[tree.pianqu.id], now=T0 + 31 * MIN)
    assert item["id"] == handoff.id and item["overdue"] is True and item["number"] == case.number
    assert (item["org"], item["contact"], item["channel"], item["status"]) == (
        tree.pianqu.name, "王小红", "webchat", "waiting")
    assert (item["last_text"], item["last_at"], item["new_messages"]) == ("有人吗", T0 + MIN, 2)
    user = await staff_user(session, tree.pianqu.id, "李强")
    await ho.do_take_handoff(session, handoff=handoff, user_id=user.id, actor=STAFF, now=T0 + 32 * MIN)
    [item] = await ho.list_handoffs(session, org_ids=[tree.pianqu.id], now=T0 + 40 * MIN)
    assert (item["status"], item["taken_by"], item["overdue"]) == ("active", "李强", False)
    await ho.do_close_handoff(session, handoff=handoff, actor=STAFF, now=T0 + 41 * MIN)
    assert await ho.list_handoffs(session, org_ids=[tree.pianqu.id], now=T0 + 42 * MIN) == []


async def test_a_handoff_nobody_takes_escalates_one_level(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    contact = await session.get_one(Contact, case.contact_id)
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0)
    assert handoff.id not in await ho.do_process_handoff_breaches(session, now=T0 + 29 * MIN, calendar=CALENDAR)
    now = T0 + 31 * MIN
    assert handoff.id in await ho.do_process_handoff_breaches(session, now=now, calendar=CALENDAR)
    assert (handoff.org_id, handoff.escalations, handoff.due_at, handoff.status) == (
        tree.street.id, 1, now + 30 * MIN, "waiting")
    [row] = await handoff_rows(session, handoff, "org_handoff_escalated")
    assert (row.org_id, row.idempotency_key, row.case_id) == (tree.street.id, f"handoff:{handoff.id}:escalated:1", case.id)
    assert (row.params["org"], row.params["from_org"]) == (tree.street.name, tree.pianqu.name)
    # not again until the street's own half hour has passed
    assert handoff.id not in await ho.do_process_handoff_breaches(session, now=now + MIN, calendar=CALENDAR)
    assert handoff.id in await ho.do_process_handoff_breaches(session, now=now + 31 * MIN, calendar=CALENDAR)
    assert handoff.org_id == tree.district.id and handoff.escalations == 2


async def test_a_taken_handoff_never_escalates(session: AsyncSession) -> None:
    await make_tree(session)
    handoff = await ho.do_open_handoff(session, contact=await new_contact(session), reason="转人工", now=T0)
    user = await staff_user(session, handoff.org_id)
    await ho.do_take_handoff(session, handoff=handoff, user_id=user.id, actor=STAFF, now=T0 + MIN)
    assert handoff.id not in await ho.do_process_handoff_breaches(session, now=T0 + 2 * 60 * MIN, calendar=CALENDAR)
    assert (handoff.escalations, handoff.status, handoff.org_id) == (0, "active", user.org_id)


async def test_at_the_top_an_overdue_handoff_is_reported_once_per_escalation(session: AsyncSession) -> None:
    tree = await make_tree(session)
    handoff = await ho.do_open_handoff(session, contact=await new_contact(session), reason="转人工", now=T0)
    now = T0 + 31 * MIN
    assert handoff.id in await ho.do_process_handoff_breaches(session, now=now, calendar=CALENDAR)  # desk → city
    assert handoff.org_id == tree.city.id
    for minutes in (31, 62, 93, 24 * 60):
        assert handoff.id not in await ho.do_process_handoff_breaches(
            session, now=now + minutes * MIN, calendar=CALENDAR)
    [row] = await handoff_rows(session, handoff, "org_handoff_overdue")
    assert (row.org_id, row.idempotency_key) == (tree.city.id, f"handoff:{handoff.id}:overdue:1")
    assert handoff.escalations == 1 and handoff.due_at > now + 24 * 60 * MIN


async def test_the_newest_open_case_decides_who_answers(session: AsyncSession) -> None:
    tree = await make_tree(session)
    older = await open_case(session, tree)
    contact = await session.get_one(Contact, older.contact_id)
    newer = await do_open_case(session, contact=contact, actor="worker", now=T0 + MIN, draft=CaseDraft(
        category="unpaid_wages", employer=f"测试厂{uuid.uuid4().hex[:6]}", location=tree.place, headcount=15))
    assert newer.org_id != older.org_id  # a group dispute goes higher up
    handoff = await ho.do_open_handoff(session, contact=contact, reason="转人工", now=T0 + 2 * MIN)
    assert (handoff.case_id, handoff.org_id) == (newer.id, newer.org_id)
