"""`seed-demo`: the Yiwu organisation and a history of cases in every state (SQLite and
PostgreSQL).

Most tests read a database of their own, seeded once with a fixed reference time: the shared
test database may already hold demo data and cases committed by other tests, which would
make exact counts and "created on the first run" untrue (and keeps the history out). The
last tests seed the shared store through the ordinary ``session`` fixture.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases.deadlines import SLA_KINDS, UNION_TZ, load_calendar, policy_for
from bot.cases.demo import CITY_CODE, SOURCE_PREFIX, STORIES, do_seed_demo, plan_history
from bot.cases.intake import COLLECTIVE_WINDOW, INTAKE_ORG_CODE, CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import (
    OPEN_STATUSES, Case, CaseCollaborator, CaseDeadline, CaseEvent, CaseStatus, Category, Contact,
    Org, Outcome,
)
from bot.cases.org_models import (
    CalendarDay, Coverage, DeadlinePolicy, Employer, EmployerAlias, Expert, Role, StaffUser,
)
from bot.cases.orgs import load_jurisdiction
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.cases.review import Rating, Review, ReviewMember
from bot.cases.routing import RoutingRequest, route_case
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.migrate import upgrade
from tests.conftest import _create_pg_database, _drop_pg_database, pg_url

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)  # Monday 12:00 in Yiwu
CJK = re.compile(r"[\u4e00-\u9fff]")
TABLES = (Org, Employer, EmployerAlias, Coverage, StaffUser, Expert, DeadlinePolicy, CalendarDay,
          Contact, Case, CaseEvent, CaseDeadline, CaseCollaborator, OutboxMessage, Rating, Review,
          ReviewMember)


@dataclass
class Seeded:
    engine: AsyncEngine
    created: list[int]  # orgs created by each run
    cases_without_history: int


@pytest.fixture(scope="module")
async def seeded(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Seeded]:
    """A fresh database of the same kind as ``database_url``: the organisation alone first,
    then everything, at ``NOW``."""
    drop: Callable[[], Awaitable[None]] | None = None
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    else:
        name = await _create_pg_database()
        url, drop = pg_url(name), lambda: _drop_pg_database(name)
    engine = create_engine(url)
    await upgrade(engine)
    async with session_scope(create_sessionmaker(engine)) as session:
        created = [await do_seed_demo(session, now=NOW, history=False)]
        cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        created.append(await do_seed_demo(session, now=NOW))
    yield Seeded(engine, created, cases)
    await engine.dispose()
    if drop is not None:
        await drop()


@pytest.fixture
async def demo(seeded: Seeded) -> AsyncIterator[AsyncSession]:
    """A session on the seeded database, rolled back after the test."""
    async with seeded.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


async def all_rows(session: AsyncSession, model):  # type: ignore[no-untyped-def]
    return list((await session.execute(select(model))).scalars())


async def demo_cases(session: AsyncSession) -> list[Case]:
    stmt = select(Case).where(Case.source_key.like(f"{SOURCE_PREFIX}%")).order_by(Case.id)
    return list((await session.execute(stmt)).scalars())


async def case_events(session: AsyncSession, case: Case) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    return list((await session.execute(stmt)).scalars())


async def table_counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in TABLES:
        stmt = select(func.count()).select_from(model)
        counts[model.__tablename__] = (await session.execute(stmt)).scalar_one()
    return counts


# --- the organisation -------------------------------------------------------------------


async def test_the_organisation_has_every_level(demo: AsyncSession, seeded: Seeded) -> None:
    orgs = {o.code: o for o in await all_rows(demo, Org)}
    by_id = {o.id: o for o in orgs.values()}
    assert seeded.created == [len(orgs), 0] == [30, 0]
    assert Counter(o.kind for o in orgs.values()) == {
        "city_federation": 1, "intake_desk": 1, "district": 3, "street": 6, "pianqu": 8,
        "company_union": 8, "liaison_office": 3,
    }
    city, intake = orgs[CITY_CODE], orgs[INTAKE_ORG_CODE]
    assert (city.name, city.kind, city.parent_id) == ("义乌市总工会", "city_federation", None)
    assert (intake.name, intake.kind) == ("义乌市总工会职工服务受理中心", "intake_desk")
    assert intake.parent_id == city.id
    parent_kind = {"district": "city_federation", "street": "district", "pianqu": "street",
                   "liaison_office": "city_federation"}
    for org in orgs.values():
        if org.kind in parent_kind:
            assert by_id[org.parent_id].kind == parent_kind[org.kind], org.name
        if org.kind == "company_union":
            assert by_id[org.parent_id].kind in ("pianqu", "street"), org.name
    assert {o.province for o in orgs.values() if o.kind == "liaison_office"} == {"江西", "河南", "贵州"}


async def test_employers_are_known_by_the_names_workers_use(demo: AsyncSession) -> None:
    employers = await all_rows(demo, Employer)
    aliases = Counter(a.employer_id for a in await all_rows(demo, EmployerAlias))
    orgs = {o.id: o for o in await all_rows(demo, Org)}
    assert len(employers) == 20
    assert all(1 <= aliases[e.id] <= 3 for e in employers)
    unions = [orgs[e.union_org_id] for e in employers if e.union_org_id]
    assert len(unions) == 8 and {u.kind for u in unions} == {"company_union"}
    jurisdiction = await load_jurisdiction(demo)
    request = RoutingRequest(category="unpaid_wages", employer="鑫达电子厂", consent_company_union=True)
    assert route_case(request, jurisdiction).org.name == "义乌市鑫达电子有限公司工会"


async def test_streets_are_places_and_pianqu_cover_places_and_companies(demo: AsyncSession) -> None:
    jurisdiction = await load_jurisdiction(demo)
    places = {p.name: p for p in jurisdiction.places}
    for street in ("稠江街道", "稠城街道", "北苑街道", "江东街道", "佛堂镇", "苏溪镇"):
        assert places[street].street.name == f"{street}总工会"
    assert places["稠江街道"].pianqu.name == "稠江片区工委"
    coverage = await all_rows(demo, Coverage)
    assert any(c.place for c in coverage) and any(c.employer_id for c in coverage)
    pianqu = {o.id for o in await all_rows(demo, Org) if o.kind == "pianqu"}
    assert pianqu == {c.org_id for c in coverage if c.org_id in pianqu}  # every 片区 covers something


async def test_every_union_body_has_staff_and_the_pool_has_six_experts(demo: AsyncSession) -> None:
    users = await all_rows(demo, StaffUser)
    orgs = await all_rows(demo, Org)
    assert {o.id for o in orgs} <= {u.org_id for u in users}
    assert {u.role for u in users} == {r.value for r in Role}
    assert all(u.password_hash is None for u in users)
    experts = await all_rows(demo, Expert)
    roles = {u.id: u.role for u in users}
    assert len(experts) == 6 and all(roles[e.staff_user_id] == "expert" for e in experts)


async def test_deadline_policies_and_the_2026_calendar(demo: AsyncSession) -> None:
    city = (await demo.execute(select(Org).where(Org.code == CITY_CODE))).scalar_one()
    assert await policy_for(demo, org_id=city.id, category="unpaid_wages") == (1, 3, 15)
    assert await policy_for(demo, org_id=city.id, category="injury") == (1, 2, 10)
    calendar = await load_calendar(demo)
    assert not calendar.is_working_day(date(2026, 10, 1))
    assert not calendar.is_working_day(date(2026, 2, 17))
    assert calendar.is_working_day(date(2026, 10, 10))  # Saturday, 调休
    assert calendar.is_working_day(date(2026, 2, 28))
    eve_of_national_day = datetime(2026, 9, 30, 17, 0, tzinfo=UNION_TZ)
    assert calendar.add_working_days(eve_of_national_day, 1).date() == date(2026, 10, 8)


# --- the history ------------------------------------------------------------------------


async def test_the_history_covers_every_status_category_and_outcome(demo: AsyncSession) -> None:
    cases = await demo_cases(demo)
    assert len(cases) >= 36
    assert {c.status for c in cases} == {s.value for s in CaseStatus}
    assert {c.category for c in cases} == {c.value for c in Category}
    assert {c.outcome for c in cases if c.outcome} == {o.value for o in Outcome}
    assert {c.channel for c in cases} == {"webchat", "wechat", "telegram"}
    assert {c.consent_company_union for c in cases} == {True, False}
    assert any(c.amount_recovered for c in cases)
    city = (await demo.execute(select(Org).where(Org.code == CITY_CODE))).scalar_one()
    groups = [c for c in cases if c.group_dispute]
    assert groups and all(c.headcount >= 10 and c.urgent and c.org_id == city.id for c in groups)
    injuries = [c for c in cases if c.category == "injury"]
    assert injuries
    for case in injuries:
        opened_on = case.created_at.astimezone(UNION_TZ).date()
        assert case.incident_date and case.incident_date <= opened_on


async def test_company_unions_pianqu_and_liaison_offices_all_get_cases(demo: AsyncSession) -> None:
    cases = await demo_cases(demo)
    orgs = {o.id: o for o in await all_rows(demo, Org)}
    opened_at = {orgs[c.org_id].kind for c in cases if not await _moved(demo, c)}
    assert {"company_union", "pianqu", "street", "city_federation", "intake_desk"} <= opened_at
    collaborators = {orgs[c.org_id].province for c in await all_rows(demo, CaseCollaborator)}
    assert collaborators == {"江西", "河南", "贵州"}
    assert "四川" in {c.province for c in cases}  # a home province without an office


async def _moved(session: AsyncSession, case: Case) -> bool:
    return any(e.kind in ("escalated", "reassigned") for e in await case_events(session, case))


async def test_closed_cases_are_rated_and_a_poor_rating_was_reviewed(demo: AsyncSession) -> None:
    cases = {c.id: c for c in await demo_cases(demo)}
    ratings = [r for r in await all_rows(demo, Rating) if r.case_id in cases]
    assert {r.score for r in ratings} == {1, 2, 3, 4, 5}
    assert all(cases[r.case_id].status == "closed" for r in ratings)
    reviews = [r for r in await all_rows(demo, Review) if r.case_id in cases]
    assert all(r.status == "decided" for r in reviews)
    assert {r.outcome for r in reviews} == {"uphold", "redo"}
    redone = next(cases[r.case_id] for r in reviews if r.outcome == "redo")
    kinds = [e.kind for e in await case_events(demo, redone)]
    assert kinds[-4:] == ["review_decided", "reopened", "resolved", "closed"]


async def test_three_open_cases_against_one_employer_are_flagged(demo: AsyncSession) -> None:
    flagged = [c for c in await demo_cases(demo) if c.collective]
    by_employer = Counter(c.employer_key for c in flagged)
    key, count = by_employer.most_common(1)[0]
    assert count >= 3
    times = sorted(c.created_at for c in flagged if c.employer_key == key)
    assert times[-1] - times[0] <= COLLECTIVE_WINDOW


async def test_escalations_and_reassignments_say_why(demo: AsyncSession) -> None:
    moves = [e for c in await demo_cases(demo) for e in await case_events(demo, c)
             if e.kind in ("escalated", "reassigned")]
    assert sum(e.kind == "escalated" for e in moves) >= 3
    assert all(e.actor.startswith("staff:") and ("上报至" in e.note or "改派至" in e.note) for e in moves)


async def test_every_timeline_is_in_time_order_and_in_the_past(demo: AsyncSession) -> None:
    for case in await demo_cases(demo):
        events = await case_events(demo, case)
        times = [e.created_at for e in events]
        assert events[0].kind == "opened" and events[0].created_at == case.created_at
        assert times == sorted(times), case.number
        assert NOW - timedelta(days=90) <= times[0] and times[-1] < NOW, case.number


async def test_history_met_its_deadlines_and_open_cases_are_mixed(demo: AsyncSession) -> None:
    cases = await demo_cases(demo)
    ids = {c.id for c in cases}
    deadlines = [d for d in await all_rows(demo, CaseDeadline) if d.case_id in ids]
    met = [d for d in deadlines if d.met_at and d.kind in SLA_KINDS]
    assert met and all(d.met_at <= d.due_at for d in met)
    open_cases = [c for c in cases if c.status in OPEN_STATUSES]
    assert all(c.due_at is not None for c in open_cases)
    assert any(c.due_at < NOW for c in open_cases) and any(c.due_at > NOW for c in open_cases)
    for case in open_cases:  # a story meant to be late is overdue, any other is on time
        path = STORIES[int(case.source_key.removeprefix(SOURCE_PREFIX))].path
        late = path == "stale" or path.endswith("_late")
        assert (case.due_at < NOW) == late, (case.number, path)


async def test_routing_reasons_are_in_words(demo: AsyncSession) -> None:
    orgs = {o.code: o.name for o in await all_rows(demo, Org)}
    for case in await demo_cases(demo):
        opened = (await case_events(demo, case))[0]
        assert case.routing_reason and CJK.search(case.routing_reason), case.number
        assert orgs[opened.data["org"]] in case.routing_reason
        assert not re.search(r"None|[a-z]+-[a-z]+", case.routing_reason), case.routing_reason


async def test_the_history_sends_no_stale_notifications(demo: AsyncSession) -> None:
    ids = {c.id for c in await demo_cases(demo)}
    rows = [o for o in await all_rows(demo, OutboxMessage) if o.case_id in ids]
    assert rows
    assert all(o.status == OutboxStatus.SENT.value and o.sent_at == o.created_at for o in rows)


# --- idempotency ------------------------------------------------------------------------


@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=3)])
async def test_a_second_run_creates_nothing(demo: AsyncSession, later: timedelta) -> None:
    before = await table_counts(demo)
    assert await do_seed_demo(demo, now=NOW + later) == 0
    assert await table_counts(demo) == before


async def test_the_organisation_can_be_loaded_without_the_history(seeded: Seeded) -> None:
    assert seeded.cases_without_history == 0


def test_the_plan_is_the_same_every_time_and_before_now() -> None:
    plan = plan_history(NOW)
    assert plan == plan_history(NOW)
    assert all(step.at < NOW for step in plan)


async def test_seeding_the_shared_store_twice(session: AsyncSession) -> None:
    # The shared store may hold other tests' committed cases, and then gets no history.
    await do_seed_demo(session)
    before = await table_counts(session)
    assert await do_seed_demo(session) == 0
    assert await table_counts(session) == before
    for case in await demo_cases(session):
        times = [e.created_at for e in await case_events(session, case)]
        assert times == sorted(times) and times[-1] <= utcnow()


async def test_no_history_goes_into_a_store_with_real_cases(session: AsyncSession) -> None:
    await do_seed_demo(session, history=False)
    contact = await get_or_create_contact(session, channel="webchat", external_id="real-worker")
    draft = CaseDraft(category="overtime", employer="鑫达电子厂", location="稠江街道")
    await do_open_case(session, contact=contact, draft=draft, actor=f"worker:{contact.id}")
    before = await table_counts(session)
    await do_seed_demo(session)
    assert await table_counts(session) == before
