"""Opening cases: numbers, stored facts, routing note, deadline, idempotency, integrity."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases.demo import do_seed_demo
from bot.cases.errors import InvalidInput
from bot.cases.intake import CaseDraft, do_open_case, referral_notice
from bot.cases.messages import get_or_create_contact
from bot.cases.models import CaseCollaborator, CaseDeadline, CaseEvent
from bot.cases.outbox import OutboxMessage
from bot.cases.queries import get_case_detail_or_raise
from bot.db import create_sessionmaker, session_scope

# Friday 2026-11-20 17:00 in Yiwu (09:00 UTC)
FRIDAY_EVENING = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

# An employer and a place the demo organisation does not know, but nowhere else either (城西
# is a street of Yiwu without a union body in the demo): the intake desk takes it.
WAGES = CaseDraft(
    category="unpaid_wages",
    employer="温州某某鞋厂",
    location="城西街道",
    amount=8000,
    amount_text="八千多块",
    description="老板欠我三个月工资一共八千多块",
)


@pytest.fixture
async def worker(session: AsyncSession):
    await do_seed_demo(session, history=False)
    return await get_or_create_contact(session, channel="webchat", external_id="w1")


async def test_a_case_gets_a_number_the_worker_can_quote(session: AsyncSession, worker) -> None:
    first = await do_open_case(session, contact=worker, draft=WAGES, actor="test", now=FRIDAY_EVENING)
    second = await do_open_case(session, contact=worker, draft=WAGES, actor="test", now=FRIDAY_EVENING)
    assert first.number.startswith("GY-2026-")
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


async def test_the_case_keeps_what_the_worker_said(session: AsyncSession, worker) -> None:
    case = await do_open_case(session, contact=worker, draft=WAGES, actor="test", now=FRIDAY_EVENING)
    detail = await get_case_detail_or_raise(session, number=case.number)
    assert detail["category"] == "unpaid_wages"
    assert detail["employer"] == "温州某某鞋厂"
    assert detail["amount"] == 8000
    assert detail["amount_text"] == "八千多块"
    assert detail["status"] == "submitted"
    assert detail["channel"] == "webchat"
    assert detail["org"] == "义乌市总工会职工服务受理中心"
    assert detail["description"] == "老板欠我三个月工资一共八千多块"
    assert [e["kind"] for e in detail["events"]] == ["opened"]
    assert detail["events"][0]["note"] == detail["routing_reason"] == (
        "雇主不在登记名录，工作地点「城西街道」不在辖区名录，由 义乌市总工会职工服务受理中心 受理"
    )


async def test_a_friday_evening_case_is_due_on_monday_evening(session: AsyncSession, worker) -> None:
    case = await do_open_case(session, contact=worker, draft=WAGES, actor="test", now=FRIDAY_EVENING)
    assert case.due_at == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


async def test_a_retried_request_does_not_open_a_second_case(session: AsyncSession, worker) -> None:
    first = await do_open_case(session, contact=worker, draft=WAGES, actor="t", source_key="rasa:w1:m1")
    again = await do_open_case(session, contact=worker, draft=WAGES, actor="t", source_key="rasa:w1:m1")
    assert again.id == first.id


async def test_group_disputes_and_injuries_are_urgent(session: AsyncSession, worker) -> None:
    group = CaseDraft(category="unpaid_wages", employer="某工地", headcount=12)
    single = CaseDraft(category="unpaid_wages", employer="某工地", headcount=3)
    injury = CaseDraft(category="injury", employer="某厂")
    assert (await do_open_case(session, contact=worker, draft=group, actor="t")).urgent
    assert not (await do_open_case(session, contact=worker, draft=single, actor="t")).urgent
    assert (await do_open_case(session, contact=worker, draft=injury, actor="t")).urgent


@pytest.mark.parametrize(
    "draft, field",
    [
        (CaseDraft(category="weather"), "category"),
        (CaseDraft(category="unpaid_wages", amount=-5), "amount"),
        (CaseDraft(category="unpaid_wages", headcount=0), "headcount"),
        (CaseDraft(category="unpaid_wages", employer="   "), "employer"),
    ],
)
async def test_a_draft_that_cannot_be_a_case_is_refused_with_the_field_named(
    session: AsyncSession, worker, draft: CaseDraft, field: str
) -> None:
    with pytest.raises(InvalidInput, match=field):
        await do_open_case(session, contact=worker, draft=draft, actor="t")


async def test_the_timeline_cannot_be_rewritten(session: AsyncSession, worker) -> None:
    case = await do_open_case(session, contact=worker, draft=WAGES, actor="t")
    event_id = (await session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case.id))).scalar_one()
    for statement in ("UPDATE case_events SET note = 'x' WHERE id = :id", "DELETE FROM case_events WHERE id = :id"):
        with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement), {"id": event_id})


async def test_concurrent_openings_never_share_a_number(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with session_scope(sessionmaker) as session:
        await do_seed_demo(session, history=False)
        contact = await get_or_create_contact(session, channel="webchat", external_id="concurrent")

    async def open_one() -> str:
        async with session_scope(sessionmaker) as session:
            case = await do_open_case(session, contact=contact, draft=WAGES, actor="t")
            return case.number

    numbers = await asyncio.gather(*(open_one() for _ in range(8)))
    assert len(set(numbers)) == 8


# --- a place outside Yiwu ----------------------------------------------------------------

NINGBO = CaseDraft(category="unpaid_wages", employer="某某模具厂", location="宁波", amount=6000,
                   hometown="江西赣州", description="老板欠了两个月工资")
OUTSIDE_REASON = "工作地点「宁波」不在义乌市总工会的服务范围内，请拨打当地职工维权热线 12351"


async def rows(session: AsyncSession, model, case_id: int):  # type: ignore[no-untyped-def]
    stmt = select(model).where(model.case_id == case_id).order_by(model.id)
    return list((await session.execute(stmt)).scalars())


@pytest.mark.parametrize("location", ["宁波", "郑州", "杭州 西湖区", "浙江东阳"])
async def test_a_case_from_outside_is_referred_not_given_to_a_union_here(
    session: AsyncSession, worker, location: str
) -> None:
    draft = CaseDraft(category="overtime", employer="某某厂", location=location)
    case = await do_open_case(session, contact=worker, draft=draft, actor="test", now=FRIDAY_EVENING)
    detail = await get_case_detail_or_raise(session, number=case.number)
    assert detail["org"] == "义乌市总工会职工服务受理中心" and detail["status"] == "referred"
    assert detail["routing_reason"] == f"工作地点「{location}」不在义乌市总工会的服务范围内，请拨打当地职工维权热线 12351"


async def test_the_referral_is_on_the_timeline_and_told_to_the_worker(session: AsyncSession, worker) -> None:
    from bot.notify.texts import render

    case = await do_open_case(session, contact=worker, draft=NINGBO, actor=f"worker:{worker.id}", now=FRIDAY_EVENING)
    events = await rows(session, CaseEvent, case.id)
    assert [(e.kind, e.actor) for e in events] == [
        ("opened", f"worker:{worker.id}"), ("accepted", "system:intake"), ("referred", "system:intake"),
    ]
    assert events[0].note == events[2].note == OUTSIDE_REASON
    assert events[2].data["agency"] == "宁波当地总工会（职工维权热线 12351）"
    told = [o for o in await rows(session, OutboxMessage, case.id) if o.contact_id == worker.id]
    referred = next(o for o in told if o.template == "case_referred")
    assert "宁波当地总工会（职工维权热线 12351）" in render(referred.template, referred.params)
    assert referred.params["note"] == OUTSIDE_REASON
    assert await rows(session, CaseCollaborator, case.id) == []  # Yiwu's liaison offices serve Yiwu
    assert referral_notice(case) == OUTSIDE_REASON + "。"


async def test_a_referred_case_owes_no_resolution_but_a_follow_up(session: AsyncSession, worker) -> None:
    case = await do_open_case(session, contact=worker, draft=NINGBO, actor="test", now=FRIDAY_EVENING)
    deadlines = {d.kind: d for d in await rows(session, CaseDeadline, case.id)}
    assert deadlines["accept"].met_at == deadlines["respond"].met_at == FRIDAY_EVENING
    assert deadlines["resolve"].cancelled_at == FRIDAY_EVENING
    # the desk checks the worker got help within its respond days: Friday evening + 3 working days
    assert deadlines["referral_reply"].due_at == datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    assert case.due_at is None  # nothing here can escalate it or tell the worker it is late


async def test_a_retried_request_from_outside_is_referred_once(session: AsyncSession, worker) -> None:
    first = await do_open_case(session, contact=worker, draft=NINGBO, actor="t", source_key="rasa:w1:nb")
    again = await do_open_case(session, contact=worker, draft=NINGBO, actor="t", source_key="rasa:w1:nb")
    assert again.id == first.id and len(await rows(session, CaseEvent, first.id)) == 3


async def test_an_ordinary_case_has_no_referral_notice(session: AsyncSession, worker) -> None:
    case = await do_open_case(session, contact=worker, draft=WAGES, actor="test", now=FRIDAY_EVENING)
    assert case.status == "submitted" and referral_notice(case) is None


async def test_several_grievances_are_one_case_that_carries_every_category(session: AsyncSession, worker) -> None:
    import dataclasses

    from bot.cases.access import Actor
    from bot.cases.models import Org
    from bot.cases.queue import QueueFilter, list_queue

    draft = dataclasses.replace(WAGES, employer=f"温州某某鞋厂{worker.id}", extra_categories=("social_insurance",))
    case = await do_open_case(session, contact=worker, draft=draft, actor="t", now=FRIDAY_EVENING)
    detail = await get_case_detail_or_raise(session, number=case.number)
    assert detail["categories"] == ["unpaid_wages", "social_insurance"]
    opened = (await session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id))).scalars().first()
    assert opened.data["categories"] == ["unpaid_wages", "social_insurance"]
    # staff looking for 社保 cases find it too
    city = (await session.execute(select(Org).where(Org.code == "city"))).scalar_one()
    every = frozenset((await session.execute(select(Org.id))).scalars())
    admin = Actor(user_id=0, username="t", display_name="t", org_id=city.id, role="system_admin", org_ids=every)
    page = await list_queue(session, actor=admin, filters=QueueFilter(category="social_insurance", q=draft.employer),
                            now=FRIDAY_EVENING)
    assert [c["number"] for c in page.cases] == [case.number]
    for bad in (("social_insurance", "social_insurance"), ("unpaid_wages",), ("tax",)):
        with pytest.raises(InvalidInput, match="categor"):
            await do_open_case(session, contact=worker, draft=dataclasses.replace(WAGES, extra_categories=bad), actor="t")
