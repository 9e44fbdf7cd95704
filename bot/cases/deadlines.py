"""Case deadlines: working-day arithmetic on the union calendar, per-org and per-category
policies, and the deadlines stored on each case.

Defaults from conversations.md: accepted within 1 working day, first substantive response
within 3, resolved within 15. Holidays and make-up working days (调休) come from the
``calendar_days`` table; policies from ``deadline_policies``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Case, CaseDeadline, CaseStatus, DeadlineKind
from bot.cases.org_models import CalendarDay, DeadlinePolicy

# Working days are counted on the unions' calendar, not in UTC: a case opened at 07:00 in
# Yiwu is 23:00 the previous day in UTC.
UNION_TZ = ZoneInfo("Asia/Shanghai")

DEFAULT_ACCEPT_DAYS = 1
DEFAULT_RESPOND_DAYS = 3
DEFAULT_RESOLVE_DAYS = 15


def is_working_day(day: date, *, holidays: Collection[date] = ()) -> bool:
    return Calendar(set(holidays)).is_working_day(day)


def add_working_days(start: datetime, days: int, *, holidays: Collection[date] = ()) -> datetime:
    """``start`` plus ``days`` working days, keeping the local time of day.

    A deadline that falls on a weekend or holiday moves to the next working day, so a case
    opened on Friday evening with a 1-day deadline is due on Monday evening.
    """
    return Calendar(set(holidays)).add_working_days(start, days)




# Deadlines that bind the responsible union; breaching one escalates the case.
SLA_KINDS = (DeadlineKind.ACCEPT.value, DeadlineKind.RESPOND.value, DeadlineKind.RESOLVE.value)
INJURY_RECOGNITION_DAYS = 365


class Calendar:
    """Working days: Monday–Friday, minus holidays, plus weekend make-up days (调休)."""

    def __init__(self, holidays: set[date] | None = None, workdays: set[date] | None = None) -> None:
        self.holidays = holidays or set()
        self.workdays = workdays or set()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        if days < 0:
            raise ValueError("days must be >= 0")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        local = start.astimezone(UNION_TZ)
        remaining = days
        while remaining > 0:
            local += timedelta(days=1)
            if self.is_working_day(local.date()):
                remaining -= 1
        return local.astimezone(start.tzinfo)


async def load_calendar(session: AsyncSession) -> Calendar:
    rows = (await session.execute(select(CalendarDay))).scalars()
    calendar = Calendar()
    for row in rows:
        (calendar.workdays if row.working else calendar.holidays).add(row.day)
    return calendar


async def policy_for(session: AsyncSession, *, org_id: int, category: str) -> tuple[int, int, int]:
    """(accept, respond, resolve) working days: org+category, org, category, else defaults."""
    rows = (
        await session.execute(
            select(DeadlinePolicy).where(
                or_(DeadlinePolicy.org_id == org_id, DeadlinePolicy.org_id.is_(None)),
                or_(DeadlinePolicy.category == category, DeadlinePolicy.category.is_(None)),
            )
        )
    ).scalars()
    best = max(rows, key=lambda p: (p.org_id is not None, p.category is not None), default=None)
    if best is None:
        return DEFAULT_ACCEPT_DAYS, DEFAULT_RESPOND_DAYS, DEFAULT_RESOLVE_DAYS
    return best.accept_days, best.respond_days, best.resolve_days


async def do_add(session: AsyncSession, *, case: Case, kind: str, due_at: datetime, now: datetime) -> CaseDeadline:
    deadline = CaseDeadline(case_id=case.id, org_id=case.org_id, kind=kind, due_at=due_at, created_at=now)
    session.add(deadline)
    await session.flush()
    await refresh_due_at(session, case=case)
    return deadline


def _open(case: Case):  # type: ignore[no-untyped-def]
    return (
        CaseDeadline.case_id == case.id,
        CaseDeadline.met_at.is_(None),
        CaseDeadline.breached_at.is_(None),
        CaseDeadline.cancelled_at.is_(None),
    )


async def do_meet(session: AsyncSession, *, case: Case, kinds: tuple[str, ...], now: datetime) -> None:
    """Mark the case's open deadlines of ``kinds`` met (breached ones stay breached)."""
    await session.execute(update(CaseDeadline).where(*_open(case), CaseDeadline.kind.in_(kinds)).values(met_at=now))
    await refresh_due_at(session, case=case)


async def do_cancel_open(session: AsyncSession, *, case: Case, now: datetime, kinds: tuple[str, ...] | None = None) -> None:
    stmt = update(CaseDeadline).where(*_open(case))
    if kinds is not None:
        stmt = stmt.where(CaseDeadline.kind.in_(kinds))
    await session.execute(stmt.values(cancelled_at=now))
    await refresh_due_at(session, case=case)


async def do_schedule_pending(session: AsyncSession, *, case: Case, now: datetime) -> None:
    """Fresh SLA deadlines, from ``now``, for the steps the case still waits on, owed by its
    current org (after escalation, reassignment or reopening). Other open SLA deadlines are
    cancelled: the old org no longer owes them."""
    await do_cancel_open(session, case=case, now=now, kinds=SLA_KINDS)
    if case.status not in (CaseStatus.SUBMITTED.value, CaseStatus.ACCEPTED.value,
                           CaseStatus.IN_PROGRESS.value, CaseStatus.REFERRED.value):
        return
    accept, respond, resolve = await policy_for(session, org_id=case.org_id, category=case.category)
    calendar = await load_calendar(session)
    pending = [(DeadlineKind.RESOLVE.value, resolve)]
    if case.first_response_at is None:
        pending.append((DeadlineKind.RESPOND.value, respond))
    if case.status == CaseStatus.SUBMITTED.value:
        pending.append((DeadlineKind.ACCEPT.value, accept))
    for kind, days in pending:
        await do_add(session, case=case, kind=kind, due_at=calendar.add_working_days(now, days), now=now)


async def do_schedule_initial(session: AsyncSession, *, case: Case, now: datetime) -> None:
    """Deadlines of a new case: accept, respond, resolve; 工伤认定 for injuries with a date."""
    await do_schedule_pending(session, case=case, now=now)
    if case.incident_date is not None:
        incident = datetime.combine(case.incident_date, datetime.min.time(), UNION_TZ)
        await do_add(
            session, case=case, kind=DeadlineKind.INJURY_RECOGNITION.value,
            due_at=incident + timedelta(days=INJURY_RECOGNITION_DAYS), now=now,
        )


async def refresh_due_at(session: AsyncSession, *, case: Case) -> None:
    """Keep ``case.due_at`` the nearest open SLA deadline (None when there is none)."""
    stmt = select(CaseDeadline.due_at).where(*_open(case), CaseDeadline.kind.in_(SLA_KINDS))
    dues = list((await session.execute(stmt)).scalars())
    case.due_at = min(dues) if dues else None
