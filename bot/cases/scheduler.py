"""有时限: find deadlines that have passed, mark each breach once, escalate the case.

Safe with any number of schedulers at once (several gateways): on PostgreSQL each one
claims overdue deadlines with ``FOR UPDATE SKIP LOCKED``, and a breach is recorded with a
conditional ``UPDATE … WHERE breached_at IS NULL`` so even two schedulers that read the
same row escalate the case once. On SQLite writers are serialised by the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.deadlines import SLA_KINDS
from bot.cases.words import beijing_words
from bot.cases.models import OPEN_STATUSES, Case, CaseDeadline
from bot.cases.workflow import Change, do_escalate, record_event

logger = logging.getLogger(__name__)

SCHEDULER_ACTOR = "system:scheduler"
KIND_WORDS = {"accept": "受理", "respond": "首次答复", "resolve": "办结", "referral_reply": "外部机构答复",
              "injury_recognition": "工伤认定申请"}


@dataclass(frozen=True)
class Breach:
    case_number: str
    kind: str
    escalated: bool


async def _claim(session: AsyncSession, deadline_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(CaseDeadline)
        .where(
            CaseDeadline.id == deadline_id,
            CaseDeadline.breached_at.is_(None),
            # An escalation earlier in this batch may have cancelled it: then it is no breach.
            CaseDeadline.cancelled_at.is_(None),
            CaseDeadline.met_at.is_(None),
        )
        .values(breached_at=now)
    )
    return result.rowcount == 1


async def do_process_breaches(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[Breach]:
    """Mark up to ``limit`` overdue deadlines breached and act on each, in the caller's
    transaction. SLA deadlines escalate the case one level up; others notify the union."""
    stmt = (
        select(CaseDeadline)
        .where(
            CaseDeadline.met_at.is_(None),
            CaseDeadline.breached_at.is_(None),
            CaseDeadline.cancelled_at.is_(None),
            CaseDeadline.due_at <= now,
        )
        .order_by(CaseDeadline.due_at)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    breaches: list[Breach] = []
    for deadline in list((await session.execute(stmt)).scalars()):
        if not await _claim(session, deadline.id, now):
            continue  # another scheduler got there first
        case = await session.get_one(Case, deadline.case_id, with_for_update=session.bind.dialect.name == "postgresql")
        if case.status not in OPEN_STATUSES:
            continue
        breaches.append(await _act(session, case=case, deadline=deadline, now=now))
    return breaches


async def _act(session: AsyncSession, *, case: Case, deadline: CaseDeadline, now: datetime) -> Breach:
    due_words = f"{KIND_WORDS.get(deadline.kind, deadline.kind)}时限（{beijing_words(deadline.due_at)}）已过"
    if deadline.kind in SLA_KINDS and deadline.org_id == case.org_id:
        event = await do_escalate(
            session, case=case, actor=SCHEDULER_ACTOR, now=now, reason=due_words, deadline_id=deadline.id
        )
        if event is not None:
            logger.info("case %s escalated: %s", case.number, due_words)
            return Breach(case.number, deadline.kind, escalated=True)
    # At the top of the hierarchy, or a deadline that does not escalate: say so loudly.
    await record_event(session, case=case, now=now, change=Change(
        "deadline_breached", SCHEDULER_ACTOR, due_words,
        {"deadline": deadline.kind, "deadline_id": deadline.id}, (case.org_id,)))
    return Breach(case.number, deadline.kind, escalated=False)
