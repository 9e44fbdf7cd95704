"""A case file as a staff member sees it: facts, routing, deadlines, the whole timeline
(with each notification's delivery state), evidence, the worker's conversation channel,
and other cases against the same employer. Reading it is logged (``view_case``).

Personal data is masked here, once: the worker's phone and any ID number in the facts or
description are shown masked until the staff member presses "show" (logged too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.cases.access import Actor, access_case_or_raise, do_log_access, list_colleagues
from bot.cases.errors import InvalidInput, NotFound
from bot.cases.evidence import EvidenceItem
from bot.cases.handoffs import Handoff, HandoffStatus
from bot.cases.models import Case, CaseDeadline, CaseEvent, Contact, Org
from bot.cases.org_models import StaffUser
from bot.cases.outbox import OutboxMessage
from bot.cases.privacy import mask_personal, mask_phone
from bot.cases.queries import case_summary
from bot.cases.staff import staff_names
from bot.cases.workflow import TRANSITIONS

LINKED_LIMIT = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def allowed_actions(case: Case) -> list[str]:
    """The state machine's actions open to the case now (the console shows only these)."""
    allowed = [a for a, (sources, _) in TRANSITIONS.items() if case.status in sources and a != "withdraw"]
    extra = ["note"]
    if case.status in TRANSITIONS["reassign"][0]:
        extra += ["assign", "message"]
    return allowed + extra


async def get_case_file(
    session: AsyncSession, *, actor: Actor, number: str, now: datetime, ip: str | None = None,
) -> dict[str, Any]:
    """Everything about case ``number`` for ``actor``; the view is written to the access log.

    Raises:
        NotFound: no such case in the actor's scope.
    """
    case = await access_case_or_raise(session, actor=actor, number=number)
    case = (await session.execute(select(Case).where(Case.id == case.id)
                                  .options(selectinload(Case.org), selectinload(Case.events)))).scalar_one()
    await do_log_access(session, actor=actor, case_id=case.id, action="view_case", ip=ip, now=now)
    contact = await session.get_one(Contact, case.contact_id)
    detail = case_summary(case)
    detail.update(
        id=case.id,
        description=_masked(case.description),
        facts=_masked(case.facts),
        routing_reason=case.routing_reason,
        consent_company_union=case.consent_company_union,
        hometown=case.hometown,
        incident_date=_iso(case.incident_date),  # type: ignore[arg-type]
        outcome=case.outcome,
        amount_recovered=case.amount_recovered,
        updated_at=_iso(case.updated_at),
        org_id=case.org_id,
        assignee_id=case.assignee_id,
        worker={"channel": contact.channel, "name": contact.display_name,
                "phone_masked": mask_phone(contact.phone) if contact.phone else None,
                "has_phone": bool(contact.phone), "unreachable": contact.unreachable_at is not None,
                "contact_id": contact.id},
        deadlines=await _deadlines(session, case, now),
        timeline=await _timeline(session, case),
        evidence=await _evidence(session, case),
        linked=await _linked(session, actor, case),
        actions=allowed_actions(case),
        colleagues=[{"id": u.id, "name": u.display_name} for u in
                    await list_colleagues(session, actor=actor, org_id=case.org_id)],
        handoff=await _open_handoff(session, case),
    )
    if case.assignee_id:
        assignee = await session.get(StaffUser, case.assignee_id)
        detail["assignee"] = assignee.display_name if assignee else None
    return detail


async def _deadlines(session: AsyncSession, case: Case, now: datetime) -> list[dict[str, Any]]:
    rows = (await session.execute(select(CaseDeadline).where(CaseDeadline.case_id == case.id)
                                  .order_by(CaseDeadline.due_at))).scalars()
    out = []
    for d in rows:
        state = ("met" if d.met_at else "cancelled" if d.cancelled_at else "breached" if d.breached_at
                 else "overdue" if d.due_at < now else "open")
        out.append({"kind": d.kind, "due_at": _iso(d.due_at), "met_at": _iso(d.met_at), "state": state,
                    "seconds_left": int((d.due_at - now).total_seconds())})
    return out


async def _timeline(session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """Events oldest first; a worker-visible event carries its notification's delivery
    state (pending, sent, held, dead) and the last error."""
    rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.case_id == case.id,
                                                              OutboxMessage.contact_id.is_not(None)))).scalars()
    delivery = {r.event_id: r for r in rows if r.event_id is not None}
    events: list[CaseEvent] = list(case.events)
    names = await staff_names(session, actors=(e.actor for e in events))
    out = []
    for e in events:
        item = {"id": e.id, "kind": e.kind, "actor": e.actor, "actor_name": names.get(e.actor),
                "note": _masked(e.note), "data": e.data, "created_at": _iso(e.created_at)}
        if (row := delivery.get(e.id)) is not None:
            item["delivery"] = {"status": row.status, "attempts": row.attempts, "error": row.last_error,
                                "sent_at": _iso(row.sent_at), "channel": row.channel}
        out.append(item)
    return out


async def _evidence(session: AsyncSession, case: Case) -> list[dict[str, Any]]:
    rows = (await session.execute(select(EvidenceItem).where(EvidenceItem.case_id == case.id)
                                  .order_by(EvidenceItem.id))).scalars()
    return [{"id": r.id, "kind": r.kind, "name": r.original_filename, "mime": r.mime_type, "size": r.size,
             "sha256": r.sha256, "received_at": _iso(r.received_at), "note": r.note} for r in rows]


async def _linked(session: AsyncSession, actor: Actor, case: Case) -> list[dict[str, Any]]:
    """Other cases against the same employer that the actor may see."""
    if case.employer_key is None:
        return []
    rows = (await session.execute(
        select(Case).where(Case.employer_key == case.employer_key, Case.id != case.id,
                           Case.org_id.in_(actor.org_ids))
        .options(selectinload(Case.org)).order_by(Case.id.desc()).limit(LINKED_LIMIT))).scalars()
    return [case_summary(c) for c in rows]


async def _open_handoff(session: AsyncSession, case: Case) -> int | None:
    return (await session.execute(select(Handoff.id).where(
        Handoff.contact_id == case.contact_id,
        Handoff.status.in_((HandoffStatus.WAITING.value, HandoffStatus.ACTIVE.value))))).scalars().first()


async def do_reveal(
    session: AsyncSession, *, actor: Actor, number: str, what: str, now: datetime, ip: str | None = None,
) -> str | None:
    """The unmasked phone of the case's worker; the look is written to the access log."""
    if what != "phone":
        raise InvalidInput("what must be 'phone'")
    case = await access_case_or_raise(session, actor=actor, number=number)
    contact = await session.get_one(Contact, case.contact_id)
    await do_log_access(session, actor=actor, case_id=case.id, action="show_phone", ip=ip, now=now)
    return contact.phone


async def access_evidence_or_raise(
    session: AsyncSession, *, actor: Actor, number: str, evidence_id: int, now: datetime, ip: str | None = None,
) -> EvidenceItem:
    """An evidence item of a case the actor may see; the download is logged.

    Raises:
        NotFound: no such case in scope, or no such item on that case.
    """
    case = await access_case_or_raise(session, actor=actor, number=number)
    item = await session.get(EvidenceItem, evidence_id)
    if item is None or item.case_id != case.id:
        raise NotFound(f"no evidence {evidence_id} on case {case.number}")
    await do_log_access(session, actor=actor, case_id=case.id, action="download_evidence",
                        detail=f"{item.id} {item.original_filename or ''}".strip(), ip=ip, now=now)
    return item


async def org_choices(session: AsyncSession) -> list[dict[str, Any]]:
    """Every union body (for reassigning a case: any body may be the right one)."""
    rows = (await session.execute(select(Org).order_by(Org.id))).scalars()
    return [{"code": o.code, "name": o.name, "kind": o.kind} for o in rows]
