"""The staff console's case queue: filters, sort and pages over the cases an actor may see.

Scope comes from :func:`bot.cases.access.case_scope`; no query here can reach a case of
another union body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.cases.access import Actor, case_scope
from bot.cases.models import OPEN_STATUSES, Case, CaseStatus, Category
from bot.cases.org_models import StaffUser
from bot.cases.queries import case_summary

SORTS = {
    "due": (Case.due_at.is_(None), Case.due_at.asc(), Case.id.desc()),
    "newest": (Case.id.desc(),),
    "oldest": (Case.id.asc(),),
    "updated": (Case.updated_at.desc(), Case.id.desc()),
    "amount": (Case.amount.is_(None), Case.amount.desc(), Case.id.desc()),
}
PER_PAGE = 25
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class QueueFilter:
    """What the queue is narrowed to; every field optional."""

    status: str | None = None  # a status, or "open" for every open one
    category: str | None = None
    urgent: bool = False
    overdue: bool = False
    collective: bool = False  # possible collective dispute
    org_id: int | None = None  # this org and the ones below it (within the actor's scope)
    mine: bool = False  # assigned to the actor
    q: str | None = None  # free text over employer, location, number
    sort: str = "due"
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class QueuePage:
    cases: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    per_page: int


def check_filter(raw: QueueFilter) -> QueueFilter:
    """Refuse values no union staffer could have meant, naming the field."""
    from bot.cases.errors import InvalidInput

    statuses = {s.value for s in CaseStatus} | {"open"}
    if raw.status and raw.status not in statuses:
        raise InvalidInput(f"status must be one of {', '.join(sorted(statuses))}")
    if raw.category and raw.category not in {c.value for c in Category}:
        raise InvalidInput(f"category must be one of {', '.join(c.value for c in Category)}")
    if raw.sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    if raw.page < 1 or not 1 <= raw.per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
    if raw.q is not None and len(raw.q) > 100:
        raise InvalidInput("q is longer than 100 characters")
    return raw


def _filtered(stmt: Select[Any], actor: Actor, f: QueueFilter, now: datetime, org_ids: set[int] | None) -> Select[Any]:
    stmt = stmt.where(case_scope(actor))
    if f.status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.category:
        # the main grievance or one of the further ones ("欠薪" finds 辞退 + 欠薪 too)
        stmt = stmt.where(or_(Case.category == f.category,
                              cast(Case.extra_categories, String).like(f'%"{f.category}"%')))
    if f.urgent:
        stmt = stmt.where(Case.urgent.is_(True))
    if f.collective:
        stmt = stmt.where(or_(Case.collective.is_(True), Case.group_dispute.is_(True)))
    if f.overdue:
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES), Case.due_at.is_not(None), Case.due_at < now)
    if org_ids is not None:
        stmt = stmt.where(Case.org_id.in_(org_ids))
    if f.mine:
        stmt = stmt.where(Case.assignee_id == actor.user_id)
    if f.q and f.q.strip():
        like = f"%{f.q.strip()}%"
        stmt = stmt.where(or_(Case.employer.ilike(like), Case.location.ilike(like), Case.number.ilike(like)))
    return stmt


async def list_queue(session: AsyncSession, *, actor: Actor, filters: QueueFilter, now: datetime) -> QueuePage:
    """One page of the actor's cases, each as ``case_summary`` plus ``overdue``,
    ``assignee`` (display name) and ``seconds_left`` until the next deadline."""
    from bot.cases.orgs import subtree_ids

    f = check_filter(filters)
    org_ids = None
    if f.org_id is not None:
        org_ids = await subtree_ids(session, root_id=f.org_id) & set(actor.org_ids)
    total = (await session.execute(_filtered(select(func.count(Case.id)), actor, f, now, org_ids))).scalar_one()
    stmt = (_filtered(select(Case), actor, f, now, org_ids).options(selectinload(Case.org))
            .order_by(*SORTS[f.sort]).offset((f.page - 1) * f.per_page).limit(f.per_page))
    cases = list((await session.execute(stmt)).scalars())
    names = await _assignee_names(session, {c.assignee_id for c in cases if c.assignee_id})
    rows = []
    for case in cases:
        row = case_summary(case)
        row["assignee"] = names.get(case.assignee_id) if case.assignee_id else None
        row["seconds_left"] = int((case.due_at - now).total_seconds()) if case.due_at else None
        row["overdue"] = bool(case.due_at and case.due_at < now and case.status in OPEN_STATUSES)
        rows.append(row)
    pages = max(1, -(-total // f.per_page))
    return QueuePage(cases=rows, total=total, page=f.page, pages=pages, per_page=f.per_page)


async def _assignee_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids)))
    return {row[0]: row[1] for row in rows.all()}
