"""Read side of the case store: lists and details in the shape the CLI and API print."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.cases.errors import NotFound
from bot.cases.models import Case, CaseDeadline, CaseEvent


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def case_summary(case: Case) -> dict[str, Any]:
    """The case as ``cases list --json`` prints it (``org`` must be loaded)."""
    return {
        "number": case.number,
        "category": case.category,
        "categories": [case.category, *(case.extra_categories or [])],
        "status": case.status,
        "employer": case.employer,
        "amount": case.amount,
        "amount_text": case.amount_text,
        "headcount": case.headcount,
        "location": case.location,
        "org": case.org.name,
        "org_code": case.org.code,
        "channel": case.channel,
        "created_at": _iso(case.created_at),
        "due_at": _iso(case.due_at),
        "urgent": case.urgent,
        "group_dispute": case.group_dispute,
        "collective": case.collective,
    }


def _event_dict(event: CaseEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "actor": event.actor,
        "note": event.note,
        "data": event.data,
        "created_at": _iso(event.created_at),
    }


async def list_cases(
    session: AsyncSession,
    *,
    status: str | None = None,
    category: str | None = None,
    contact_id: int | None = None,
    limit: int = 500,
) -> list[Case]:
    """Cases newest first, with their org loaded."""
    stmt = select(Case).options(selectinload(Case.org)).order_by(Case.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Case.status == status)
    if category:
        stmt = stmt.where(Case.category == category)
    if contact_id is not None:
        stmt = stmt.where(Case.contact_id == contact_id)
    return list((await session.execute(stmt)).scalars())


async def get_case_detail_or_raise(session: AsyncSession, *, number: str) -> dict[str, Any]:
    """Everything about one case: summary, facts, description and timeline."""
    stmt = (
        select(Case)
        .where(Case.number == number.strip().upper())
        .options(selectinload(Case.org), selectinload(Case.events))
    )
    case = (await session.execute(stmt)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case numbered {number!r}")
    detail = case_summary(case)
    deadlines = (
        await session.execute(select(CaseDeadline).where(CaseDeadline.case_id == case.id).order_by(CaseDeadline.id))
    ).scalars()
    detail.update(
        description=case.description,
        facts=case.facts,
        routing_reason=case.routing_reason,
        consent_company_union=case.consent_company_union,
        hometown=case.hometown,
        province=case.province,
        incident_date=_iso(case.incident_date),
        outcome=case.outcome,
        amount_recovered=case.amount_recovered,
        updated_at=_iso(case.updated_at),
        deadlines=[
            {"kind": d.kind, "due_at": _iso(d.due_at), "met_at": _iso(d.met_at),
             "breached_at": _iso(d.breached_at), "cancelled_at": _iso(d.cancelled_at)}
            for d in deadlines
        ],
        events=[_event_dict(e) for e in case.events],
    )
    return detail
