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
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import CaseEvent
from bot.cases.queries import get_case_detail_or_raise
from bot.db import create_sessionmaker, session_scope

# Friday 2026-11-20 17:00 in Yiwu (09:00 UTC)
FRIDAY_EVENING = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

# An employer and a place the demo organisation does not know: the intake desk takes it.
WAGES = CaseDraft(
    category="unpaid_wages",
    employer="温州某某鞋厂",
    location="温州鹿城区",
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
        "雇主不在登记名录，工作地点「温州鹿城区」不在辖区名录，由 义乌市总工会职工服务受理中心 受理"
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
