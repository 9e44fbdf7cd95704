"""有时限: breached deadlines escalate once, even with several schedulers at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases import workflow as wf
from bot.cases.models import Case, CaseEvent
from bot.cases.scheduler import do_process_breaches
from bot.db import create_sessionmaker, session_scope
from tests.cases.factories import T0, make_tree, open_case

DAY = timedelta(days=1)


async def escalations(session: AsyncSession, case: Case) -> int:
    stmt = select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "escalated")
    return (await session.execute(stmt)).scalar_one()


async def test_an_unaccepted_case_escalates_once_its_deadline_passes(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)  # Monday 09:00: accept by Tuesday 09:00
    assert await do_process_breaches(session, now=T0 + DAY - timedelta(minutes=1)) == []
    breaches = await do_process_breaches(session, now=T0 + DAY + timedelta(minutes=1))
    assert [(b.case_number, b.kind, b.escalated) for b in breaches] == [(case.number, "accept", True)]
    assert case.org_id == tree.street.id
    # Later runs do not escalate the same breach again …
    assert await do_process_breaches(session, now=T0 + DAY + timedelta(minutes=2)) == []
    assert await escalations(session, case) == 1
    # … but the street union now owes its own deadline; missing it escalates again.
    later = await do_process_breaches(session, now=T0 + 3 * DAY)
    assert [b.escalated for b in later] == [True] and case.org_id == tree.district.id


async def test_deadlines_met_in_time_never_escalate(session: AsyncSession) -> None:
    case = await open_case(session, await make_tree(session))
    await wf.do_accept(session, case=case, actor="staff", now=T0 + timedelta(hours=2))
    await wf.do_start(session, case=case, actor="staff", now=T0 + timedelta(hours=3))
    assert await do_process_breaches(session, now=T0 + 10 * DAY) == []


async def test_at_the_top_a_breach_is_recorded_and_told_without_escalation(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree, headcount=15)  # group dispute: city level
    breaches = await do_process_breaches(session, now=T0 + 2 * DAY)
    assert {(b.kind, b.escalated) for b in breaches} == {("accept", False)}
    kinds = (await session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id))).scalars()
    assert "deadline_breached" in list(kinds)


async def test_weekends_count_as_nothing(session: AsyncSession) -> None:
    friday = T0 + 4 * DAY
    await open_case(session, await make_tree(session), now=friday)
    assert await do_process_breaches(session, now=friday + 2 * DAY) == []  # Sunday
    assert len(await do_process_breaches(session, now=friday + 3 * DAY + timedelta(minutes=1))) == 1


async def test_two_schedulers_at_once_escalate_each_case_exactly_once(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with session_scope(sessionmaker) as session:
        tree = await make_tree(session)
        cases = [await open_case(session, tree) for _ in range(12)]
    numbers = {c.number for c in cases}

    async def scheduler() -> list[str]:
        escalated: list[str] = []
        for _ in range(5):
            async with session_scope(sessionmaker) as session:
                breaches = await do_process_breaches(session, now=T0 + DAY + timedelta(minutes=5), limit=3)
            escalated += [b.case_number for b in breaches if b.escalated]
            await asyncio.sleep(0)
        return escalated

    first, second = await asyncio.gather(scheduler(), scheduler())
    ours = [n for n in first + second if n in numbers]
    assert sorted(ours) == sorted(numbers)  # every case once, none twice
    async with session_scope(sessionmaker) as session:
        for case in cases:
            assert await escalations(session, case) == 1
