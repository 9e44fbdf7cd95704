"""Opening a case: validation, numbering, routing to the responsible union, first event.

Callers (the action server, later the console and the liaison relay) pass what the worker
told us; this module decides everything else. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.cases.deadlines import DEFAULT_ACCEPT_DAYS, add_working_days
from bot.cases.errors import InvalidInput, NotFound
from bot.cases.models import Case, CaseCounter, CaseEvent, CaseStatus, Category, Contact, Org
from bot.db import utcnow

INTAKE_ORG_CODE = "city-intake"
GROUP_DISPUTE_HEADCOUNT = 10


@dataclass(frozen=True)
class CaseDraft:
    """What the worker told us, already normalised (amount in integer yuan)."""

    category: str
    employer: str | None = None
    location: str | None = None
    amount: int | None = None
    amount_text: str | None = None
    headcount: int | None = None
    description: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def check_case_draft(draft: CaseDraft) -> None:
    """Raise :class:`InvalidInput` naming the first field that cannot go on a case."""
    if draft.category not in {c.value for c in Category}:
        raise InvalidInput(f"unknown category {draft.category!r}")
    if draft.amount is not None and draft.amount < 0:
        raise InvalidInput("amount must not be negative")
    if draft.headcount is not None and draft.headcount < 1:
        raise InvalidInput("headcount must be at least 1")
    if draft.employer is not None and not draft.employer.strip():
        raise InvalidInput("employer must not be blank")


async def _next_case_number(session: AsyncSession, *, year: int) -> str:
    # UPDATE … RETURNING takes a row lock on PostgreSQL and the write lock on SQLite, so two
    # concurrent openings can never get the same number.
    stmt = update(CaseCounter).where(CaseCounter.year == year).values(last=CaseCounter.last + 1)
    last = (await session.execute(stmt.returning(CaseCounter.last))).scalar_one_or_none()
    if last is None:
        dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            dialect_insert(CaseCounter).values(year=year, last=0).on_conflict_do_nothing()
        )
        last = (await session.execute(stmt.returning(CaseCounter.last))).scalar_one()
    return f"GY-{year}-{last:06d}"


async def get_org_by_code_or_raise(session: AsyncSession, *, code: str) -> Org:
    org = (await session.execute(select(Org).where(Org.code == code))).scalar_one_or_none()
    if org is None:
        raise NotFound(f"no union body with code {code!r}; run `python -m bot seed-demo`")
    return org


async def get_case_by_source_key(session: AsyncSession, *, source_key: str) -> Case | None:
    stmt = select(Case).where(Case.source_key == source_key).options(selectinload(Case.org))
    return (await session.execute(stmt)).scalar_one_or_none()


async def do_open_case(
    session: AsyncSession,
    *,
    contact: Contact,
    draft: CaseDraft,
    actor: str,
    source_key: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case for ``contact`` and record the ``opened`` event; ``case.org`` is loaded.

    ``source_key`` names the request that asked for the case; asking again with the same
    key returns the case already opened instead of a duplicate.

    Routing by jurisdiction is not configured yet, so every case goes to the city
    federation's intake desk; the event says so in words.

    Raises:
        InvalidInput: the draft cannot become a case.
        NotFound: the intake desk does not exist (database not seeded).
    """
    check_case_draft(draft)
    if source_key is not None:
        existing = await get_case_by_source_key(session, source_key=source_key)
        if existing is not None:
            return existing
    now = now or utcnow()
    org = await get_org_by_code_or_raise(session, code=INTAKE_ORG_CODE)
    group = draft.headcount is not None and draft.headcount >= GROUP_DISPUTE_HEADCOUNT
    case = Case(
        number=await _next_case_number(session, year=now.year),
        contact_id=contact.id,
        org=org,
        category=draft.category,
        status=CaseStatus.SUBMITTED.value,
        channel=contact.channel,
        employer=draft.employer.strip() if draft.employer else None,
        amount=draft.amount,
        amount_text=draft.amount_text,
        headcount=draft.headcount,
        location=draft.location.strip() if draft.location else None,
        description=draft.description,
        facts=dict(draft.facts),
        urgent=group or draft.category == Category.INJURY.value,
        created_at=now,
        updated_at=now,
        due_at=add_working_days(now, DEFAULT_ACCEPT_DAYS),
        source_key=source_key,
    )
    session.add(case)
    await session.flush()
    session.add(
        CaseEvent(
            case_id=case.id,
            kind="opened",
            actor=actor,
            note=f"案件已登记，分派至 {org.name}（按管辖地分派的规则尚未配置，统一由市总工会受理）",
            data={"org": org.code, "channel": contact.channel},
            created_at=now,
        )
    )
    await session.flush()
    return case
