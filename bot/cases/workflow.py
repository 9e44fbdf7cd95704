"""The case state machine: every change is an event with actor, time and note, and every
change the worker must hear about writes its outbox row in the same transaction.

    submitted → accepted → in_progress ⇄ referred → resolved → closed
    open (submitted/accepted/in_progress/referred) → withdrawn
    resolved / closed / withdrawn → reopen → in_progress
    escalate / reassign / request evidence: no status change

Illegal changes raise :class:`InvalidTransition` with the reason in words. The caller owns
the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import deadlines
from bot.cases.errors import DomainError, InvalidInput, NotFound
from bot.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseCollaborator,
    CaseEvent,
    CaseStatus,
    Contact,
    Org,
    Outcome,
)
from bot.cases.outbox import CONSOLE_CHANNEL, add_notification
from bot.cases.words import STATUS_WORDS

S = CaseStatus


class InvalidTransition(DomainError):
    code = "invalid_transition"



# action: (statuses it is allowed from, status it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({S.SUBMITTED.value}), S.ACCEPTED.value),
    "start": (frozenset({S.ACCEPTED.value}), S.IN_PROGRESS.value),
    "refer": (frozenset({S.ACCEPTED.value, S.IN_PROGRESS.value}), S.REFERRED.value),
    "resume": (frozenset({S.REFERRED.value}), S.IN_PROGRESS.value),
    "resolve": (frozenset({S.IN_PROGRESS.value, S.REFERRED.value}), S.RESOLVED.value),
    "close": (frozenset({S.RESOLVED.value}), S.CLOSED.value),
    "reopen": (frozenset({S.RESOLVED.value, S.CLOSED.value, S.WITHDRAWN.value}), S.IN_PROGRESS.value),
    "withdraw": (frozenset(OPEN_STATUSES), S.WITHDRAWN.value),
    "escalate": (frozenset(OPEN_STATUSES), None),
    "reassign": (frozenset(OPEN_STATUSES), None),
    "request_evidence": (frozenset({S.ACCEPTED.value, S.IN_PROGRESS.value, S.REFERRED.value}), None),
}

ACTION_WORDS = {
    "accept": "受理", "start": "开始处理", "refer": "转交外部机构", "resume": "恢复处理", "resolve": "办结",
    "close": "结案", "reopen": "重新打开", "withdraw": "撤回", "escalate": "上报", "reassign": "改派",
    "request_evidence": "要求补充证据",
}

# Event kinds the worker is told about; each writes an outbox row for the worker.
WORKER_VISIBLE = frozenset({
    "accepted", "started", "referred", "resumed", "resolved", "closed", "reopened", "withdrawn",
    "escalated", "reassigned", "evidence_requested", "deadline_breached", "review_decided",
})


def check_transition(case: Case, action: str) -> str | None:
    """The status ``action`` leads to (None: unchanged); raises if not allowed now."""
    allowed, target = TRANSITIONS[action]
    if case.status not in allowed:
        raise InvalidTransition(
            f"案件 {case.number} 当前状态为「{STATUS_WORDS[case.status]}」，不能{ACTION_WORDS[action]}"
        )
    return target


@dataclass(frozen=True)
class Change:
    """What a transition records: the event and who hears about it."""

    kind: str
    actor: str
    note: str | None = None
    data: dict[str, Any] | None = None
    notify_orgs: tuple[int, ...] = ()


async def record_event(session: AsyncSession, *, case: Case, change: Change, now: datetime) -> CaseEvent:
    """Append the event and queue its notifications (worker, and the listed union bodies)."""
    event = CaseEvent(
        case_id=case.id, kind=change.kind, actor=change.actor, note=change.note,
        data=change.data or {}, created_at=now,
    )
    session.add(event)
    await session.flush()
    params = {"number": case.number, "status": case.status, "note": change.note or "", **(change.data or {})}
    if change.kind in WORKER_VISIBLE:
        contact = await session.get_one(Contact, case.contact_id)
        add_notification(
            session, key=f"event:{event.id}:worker", template=f"case_{change.kind}", params=params,
            now=now, channel=contact.channel, contact_id=contact.id, case_id=case.id, event_id=event.id,
        )
    for org_id in dict.fromkeys(change.notify_orgs):
        add_notification(
            session, key=f"event:{event.id}:org:{org_id}", template=f"org_{change.kind}", params=params,
            now=now, channel=CONSOLE_CHANNEL, org_id=org_id, case_id=case.id, event_id=event.id,
        )
    case.updated_at = now
    return event


async def get_case_for_update_or_raise(session: AsyncSession, *, number: str) -> Case:
    """The case, row-locked on PostgreSQL so concurrent changes to it serialise."""
    stmt = select(Case).where(Case.number == number.strip().upper())
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = (await session.execute(stmt)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case numbered {number!r}")
    return case


async def _collaborator_ids(session: AsyncSession, case: Case) -> tuple[int, ...]:
    rows = await session.execute(select(CaseCollaborator.org_id).where(CaseCollaborator.case_id == case.id))
    return tuple(rows.scalars())


async def _transition(
    session: AsyncSession, *, case: Case, action: str, kind: str, actor: str, now: datetime,
    note: str | None = None, data: dict[str, Any] | None = None,
) -> CaseEvent:
    target = check_transition(case, action)
    if target is not None:
        case.status = target
    return await record_event(
        session, case=case, change=Change(kind, actor, note, data, (case.org_id,)), now=now
    )


async def do_accept(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    event = await _transition(session, case=case, action="accept", kind="accepted", actor=actor, now=now, note=note)
    case.accepted_at = now
    await deadlines.do_meet(session, case=case, kinds=("accept",), now=now)
    return event


async def do_start(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    event = await _transition(session, case=case, action="start", kind="started", actor=actor, now=now, note=note)
    await _first_response(session, case, now)
    return event


async def _first_response(session: AsyncSession, case: Case, now: datetime) -> None:
    if case.first_response_at is None:
        case.first_response_at = now
    await deadlines.do_meet(session, case=case, kinds=("respond",), now=now)


async def do_request_evidence(
    session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str
) -> CaseEvent:
    event = await _transition(
        session, case=case, action="request_evidence", kind="evidence_requested", actor=actor, now=now, note=note
    )
    await _first_response(session, case, now)
    return event


async def do_refer(
    session: AsyncSession, *, case: Case, actor: str, now: datetime, agency: str, reply_due: datetime, note: str | None = None
) -> CaseEvent:
    if reply_due <= now:
        raise InvalidInput("reply_due must be in the future")
    event = await _transition(
        session, case=case, action="refer", kind="referred", actor=actor, now=now,
        note=note or f"已转交 {agency}", data={"agency": agency, "reply_due": reply_due.isoformat()},
    )
    await _first_response(session, case, now)
    await deadlines.do_add(session, case=case, kind="referral_reply", due_at=reply_due, now=now)
    return event


async def do_resume(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    event = await _transition(session, case=case, action="resume", kind="resumed", actor=actor, now=now, note=note)
    await deadlines.do_meet(session, case=case, kinds=("referral_reply",), now=now)
    return event


async def do_resolve(
    session: AsyncSession, *, case: Case, actor: str, now: datetime, outcome: str,
    amount_recovered: int | None = None, note: str | None = None,
) -> CaseEvent:
    if outcome not in {o.value for o in Outcome}:
        raise InvalidInput(f"unknown outcome {outcome!r}; one of {', '.join(o.value for o in Outcome)}")
    if amount_recovered is not None and amount_recovered < 0:
        raise InvalidInput("amount_recovered must not be negative")
    event = await _transition(
        session, case=case, action="resolve", kind="resolved", actor=actor, now=now, note=note,
        data={"outcome": outcome, "amount_recovered": amount_recovered},
    )
    case.outcome, case.amount_recovered, case.resolved_at = outcome, amount_recovered, now
    await deadlines.do_meet(session, case=case, kinds=("respond", "resolve", "referral_reply"), now=now)
    return event


async def do_close(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    event = await _transition(session, case=case, action="close", kind="closed", actor=actor, now=now, note=note)
    case.closed_at = now
    await deadlines.do_cancel_open(session, case=case, now=now)
    return event


async def do_withdraw(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str | None = None) -> CaseEvent:
    event = await _transition(session, case=case, action="withdraw", kind="withdrawn", actor=actor, now=now, note=note)
    case.outcome = Outcome.WITHDRAWN.value
    await deadlines.do_cancel_open(session, case=case, now=now)
    return event


async def do_reopen(session: AsyncSession, *, case: Case, actor: str, now: datetime, note: str) -> CaseEvent:
    event = await _transition(session, case=case, action="reopen", kind="reopened", actor=actor, now=now, note=note)
    case.resolved_at = case.closed_at = case.outcome = case.amount_recovered = None
    await deadlines.do_schedule_pending(session, case=case, now=now)
    return event


async def do_escalate(
    session: AsyncSession, *, case: Case, actor: str, now: datetime, reason: str,
    deadline_id: int | None = None,
) -> CaseEvent | None:
    """Move the case to the parent of its responsible org; ``None`` at the top (city).

    ``deadline_id`` names the breached deadline when the scheduler escalates, so the
    timeline shows which breach caused which escalation.
    """
    check_transition(case, "escalate")
    current = await session.get_one(Org, case.org_id)
    if current.parent_id is None:
        return None
    parent = await session.get_one(Org, current.parent_id)
    return await _move(session, case=case, to=parent, kind="escalated", actor=actor, now=now,
                       note=f"{reason}，由 {current.name} 上报至 {parent.name}", previous=current,
                       extra={"deadline_id": deadline_id} if deadline_id else {})


async def do_reassign(session: AsyncSession, *, case: Case, actor: str, now: datetime, to_org_id: int, note: str) -> CaseEvent:
    check_transition(case, "reassign")
    current = await session.get_one(Org, case.org_id)
    target = await session.get(Org, to_org_id)
    if target is None:
        raise NotFound(f"no union body with id {to_org_id}")
    if target.id == current.id:
        raise InvalidInput(f"案件已由 {target.name} 负责")
    return await _move(session, case=case, to=target, kind="reassigned", actor=actor, now=now,
                       note=f"{note}：由 {current.name} 改派至 {target.name}", previous=current, extra={})


async def _move(
    session: AsyncSession, *, case: Case, to: Org, kind: str, actor: str, now: datetime, note: str,
    previous: Org, extra: dict[str, Any],
) -> CaseEvent:
    case.org_id = to.id
    notify = (previous.id, to.id, *await _collaborator_ids(session, case))
    data = {"from_org": previous.code, "to_org": to.code, "org": to.name, **extra}
    event = await record_event(session, case=case, now=now, change=Change(kind, actor, note, data, notify))
    await deadlines.do_schedule_pending(session, case=case, now=now)
    return event
