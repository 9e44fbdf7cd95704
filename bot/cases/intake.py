"""Opening a case: validation, numbering, routing to the responsible union, first event.

Callers (the action server, later the console and the liaison relay) pass what the worker
told us; this module decides everything else (routing in ``routing.py``). The caller owns
the transaction.

A case from outside the region (routing's "outside" decision) is not lost and not given to
a union body here: the intake desk records it and refers it at once to the worker's local
union, by the state machine's own steps (accept, then refer), with the reason in the event
note and in what the worker is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.cases import deadlines
from bot.cases.deadlines import UNION_TZ
from bot.cases.errors import InvalidInput
from bot.cases.evidence import do_attach_pending_evidence
from bot.cases.models import (
    OPEN_STATUSES, Case, CaseCollaborator, CaseCounter, CaseStatus, Category, Contact,
    DeadlineKind, Org,
)
from bot.cases.orgs import load_jurisdiction
from bot.cases.routing import RoutingDecision, RoutingRequest, normalise_name, route_case
from bot.cases.workflow import Change, do_accept, do_refer, record_event
from bot.db import utcnow

INTAKE_ORG_CODE = "city-intake"
INTAKE_ACTOR = "system:intake"
COLLECTIVE_MIN_CASES = 3
COLLECTIVE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class CaseDraft:
    """What the worker told us, already normalised (amount in integer yuan)."""

    category: str
    # further grievances of the same dispute, main one first in ``category``
    extra_categories: tuple[str, ...] = ()
    employer: str | None = None
    location: str | None = None
    amount: int | None = None
    amount_text: str | None = None
    headcount: int | None = None
    description: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    consent_company_union: bool = False
    hometown: str | None = None
    incident_date: date | None = None


def check_case_draft(draft: CaseDraft) -> None:
    """Raise :class:`InvalidInput` naming the first field that cannot go on a case."""
    if draft.category not in {c.value for c in Category}:
        raise InvalidInput(f"unknown category {draft.category!r}")
    for extra in draft.extra_categories:
        if extra not in {c.value for c in Category} or extra == draft.category:
            raise InvalidInput(f"unknown or repeated further category {extra!r}")
    if len(set(draft.extra_categories)) != len(draft.extra_categories):
        raise InvalidInput("a further category is named twice")
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


async def get_case_by_source_key(session: AsyncSession, *, source_key: str) -> Case | None:
    stmt = select(Case).where(Case.source_key == source_key).options(selectinload(Case.org))
    return (await session.execute(stmt)).scalar_one_or_none()


def employer_key(decision: RoutingDecision, employer: str | None) -> str | None:
    if decision.employer is not None:
        return f"id:{decision.employer.id}"
    return f"name:{normalise_name(employer)}" if employer and normalise_name(employer) else None


async def do_open_case(
    session: AsyncSession,
    *,
    contact: Contact,
    draft: CaseDraft,
    actor: str,
    source_key: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Open a case for ``contact``: route it, schedule its deadlines, record ``opened``.

    ``source_key`` names the request that asked for the case; asking again with the same
    key returns the case already opened instead of a duplicate. ``case.org`` is loaded.

    Raises:
        InvalidInput: the draft cannot become a case.
        NotFound: the organisation is not set up (database not seeded).
    """
    check_case_draft(draft)
    if source_key is not None:
        existing = await get_case_by_source_key(session, source_key=source_key)
        if existing is not None:
            return existing
    now = now or utcnow()
    jurisdiction = await load_jurisdiction(session)
    decision = route_case(
        RoutingRequest(
            category=draft.category, employer=draft.employer, location=draft.location,
            headcount=draft.headcount, consent_company_union=draft.consent_company_union,
            hometown=draft.hometown,
        ),
        jurisdiction,
    )
    org = await session.get_one(Org, (decision.org or jurisdiction.intake).id)
    case = Case(
        number=await _next_case_number(session, year=now.astimezone(UNION_TZ).year),
        contact_id=contact.id,
        org=org,
        category=draft.category,
        extra_categories=list(draft.extra_categories),
        status=CaseStatus.SUBMITTED.value,
        channel=contact.channel,
        employer=draft.employer.strip() if draft.employer else None,
        employer_id=decision.employer.id if decision.employer else None,
        employer_key=employer_key(decision, draft.employer),
        amount=draft.amount,
        amount_text=draft.amount_text,
        headcount=draft.headcount,
        location=draft.location.strip() if draft.location else None,
        description=draft.description,
        facts=dict(draft.facts),
        urgent=decision.urgent,
        group_dispute=decision.group_dispute,
        consent_company_union=draft.consent_company_union,
        hometown=draft.hometown,
        province=decision.province,
        incident_date=draft.incident_date,
        routing_reason=decision.reason,
        created_at=now,
        updated_at=now,
        source_key=source_key,
    )
    session.add(case)
    await session.flush()
    for collaborator in decision.collaborators:
        session.add(CaseCollaborator(case_id=case.id, org_id=collaborator.id, role="liaison", created_at=now))
    await record_event(
        session, case=case, now=now,
        change=Change(
            "opened", actor, decision.reason,
            {"org": org.code, "channel": contact.channel, "urgent": decision.urgent,
             "categories": [case.category, *case.extra_categories]},
            (org.id, *(c.id for c in decision.collaborators)),
        ),
    )
    await deadlines.do_schedule_initial(session, case=case, now=now)
    await do_attach_pending_evidence(session, case=case, now=now)
    if decision.outside:
        await _refer_outside(session, case=case, decision=decision, now=now)
    await _flag_collective(session, case=case, now=now)
    return case


async def _refer_outside(
    session: AsyncSession, *, case: Case, decision: RoutingDecision, now: datetime
) -> None:
    """Accept at the intake desk and refer to the worker's local union in the same moment.

    The referral's reply date is the desk's reminder to check the worker got help (its
    respond days); the resolve deadline is cancelled, as no union body here owes a
    resolution for an area it does not serve — left open it would escalate the case and
    tell the worker their case is overdue with the city federation.
    """
    assert decision.referral is not None
    await do_accept(session, case=case, actor=INTAKE_ACTOR, now=now,
                    note="工作地点不在本会服务范围，登记后转介当地总工会")
    _, respond_days, _ = await deadlines.policy_for(session, org_id=case.org_id, category=case.category)
    calendar = await deadlines.load_calendar(session)
    await do_refer(session, case=case, actor=INTAKE_ACTOR, now=now, agency=decision.referral,
                   reply_due=calendar.add_working_days(now, respond_days), note=decision.reason)
    await deadlines.do_cancel_open(session, case=case, now=now, kinds=(DeadlineKind.RESOLVE.value,))


def referral_notice(case: Case) -> str | None:
    """What to tell the worker about a case referred as it was opened (its place is outside
    every configured area): the routing reason, which names their local hotline. None for
    any other case.

    Such a case is the only one accepted at the moment it was created: staff accept later.
    """
    referred = case.status == CaseStatus.REFERRED.value and case.accepted_at == case.created_at
    return f"{case.routing_reason}。" if referred and case.routing_reason else None


async def _flag_collective(session: AsyncSession, *, case: Case, now: datetime) -> None:
    """≥ 3 open cases against the same employer within 30 days: flag them all, once each,
    and tell each responsible union body."""
    if case.employer_key is None:
        return
    stmt = select(Case).where(
        Case.employer_key == case.employer_key,
        Case.status.in_(OPEN_STATUSES),
        Case.created_at >= now - COLLECTIVE_WINDOW,
        Case.created_at <= now,
    )
    related = list((await session.execute(stmt)).scalars())
    if len(related) < COLLECTIVE_MIN_CASES:
        return
    numbers = sorted(c.number for c in related)
    for other in related:
        if other.collective:
            continue
        other.collective = True
        await record_event(
            session, case=other, now=now,
            change=Change(
                "collective_flagged", "system:collective",
                f"30天内有{len(related)}起针对「{case.employer}」的案件，可能是群体性纠纷：{'、'.join(numbers)}",
                {"cases": numbers}, (other.org_id,),
            ),
        )
