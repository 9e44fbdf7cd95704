"""What a staff member does to a case from the console or the API: one entry point that
checks access, parses the action's fields, and calls the state machine.

Every action goes through the same ``do_*`` functions as the command line, so its event,
outbox rows and the worker's notification are exactly the same.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import workflow as wf
from bot.cases.access import Actor, access_case_or_raise, list_colleagues
from bot.cases.deadlines import UNION_TZ
from bot.cases.errors import InvalidInput
from bot.cases.handoffs import do_send_staff_message
from bot.cases.models import Case, CaseEvent, Contact, Org, Outcome
from bot.cases.orgs import get_org_by_code_or_raise

ACTIONS = ("accept", "start", "assign", "note", "message", "request_evidence", "escalate", "reassign",
           "refer", "resume", "resolve", "close", "reopen")
MAX_NOTE = 2000


def _text(fields: dict[str, Any], name: str, *, required: bool, label: str) -> str | None:
    raw = fields.get(name)
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput(f"{name} must be text")
    value = (raw or "").strip()
    if required and not value:
        raise InvalidInput(f"请填写{label}（{name}）")
    if len(value) > MAX_NOTE:
        raise InvalidInput(f"{label}不能超过 {MAX_NOTE} 字")
    return value or None


def _amount(fields: dict[str, Any]) -> int | None:
    raw = fields.get("amount_recovered")
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw).replace(",", "").strip())
    except ValueError as exc:
        raise InvalidInput("追回金额（amount_recovered）须为整数元") from exc
    if value < 0:
        raise InvalidInput("追回金额不能为负数")
    return value


def _reply_due(fields: dict[str, Any]) -> datetime:
    raw = fields.get("reply_due")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("请填写外部机构的答复期限（reply_due，日期）")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise InvalidInput("答复期限（reply_due）须为日期，如 2026-12-20") from exc
    if len(raw.strip()) == 10:  # a bare date: the end of that working day, union time
        value = datetime.combine(value.date(), time(17, 30))
    return value if value.tzinfo else value.replace(tzinfo=UNION_TZ)


async def do_case_action(
    session: AsyncSession, *, actor: Actor, number: str, action: str, fields: dict[str, Any], now: datetime,
) -> CaseEvent:
    """Do ``action`` on case ``number`` as ``actor``.

    Raises:
        NotFound: no such case in the actor's scope (the same answer as no case at all).
        InvalidTransition: the case cannot take this action now (reason in words).
        InvalidInput: a field is missing or wrong (named in the message).
    """
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    case = await access_case_or_raise(session, actor=actor, number=number, for_update=True)
    kw: dict[str, Any] = {"session": session, "case": case, "actor": actor.label, "now": now}
    note = _text(fields, "note", required=action in ("note", "reopen", "request_evidence", "reassign",
                                                         "escalate"), label="说明")
    if action == "accept":
        return await wf.do_accept(**kw, note=note)
    if action == "start":
        return await wf.do_start(**kw, note=note)
    if action == "resume":
        return await wf.do_resume(**kw, note=note)
    if action == "note":
        return await wf.record_event(session, case=case, now=now, change=wf.Change("note", actor.label, note))
    if action == "assign":
        return await _assign(session, actor=actor, case=case, fields=fields, now=now)
    if action == "message":
        return await _message(session, actor=actor, case=case, fields=fields, now=now)
    if action == "request_evidence":
        return await wf.do_request_evidence(**kw, note=note or "")
    if action == "escalate":
        event = await wf.do_escalate(**kw, reason=note or "")
        if event is None:
            raise wf.InvalidTransition(f"案件 {case.number} 已在最高一级，无法再上报")
        return event
    if action == "reassign":
        code = _text(fields, "org", required=True, label="改派到的工会（org）")
        target = await get_org_by_code_or_raise(session, code=code or "")
        return await wf.do_reassign(**kw, to_org_id=target.id, note=note or "")
    if action == "refer":
        agency = _text(fields, "agency", required=True, label="转交机构（agency）")
        return await wf.do_refer(**kw, agency=agency or "", reply_due=_reply_due(fields), note=note)
    if action == "resolve":
        outcome = _text(fields, "outcome", required=True, label="处理结果（outcome）")
        if outcome not in {o.value for o in Outcome}:
            raise InvalidInput(f"outcome must be one of {', '.join(o.value for o in Outcome)}")
        return await wf.do_resolve(**kw, outcome=outcome, amount_recovered=_amount(fields), note=note)
    if action == "close":
        return await wf.do_close(**kw, note=note)
    return await wf.do_reopen(**kw, note=note or "")


async def _assign(session: AsyncSession, *, actor: Actor, case: Case, fields: dict[str, Any],
                  now: datetime) -> CaseEvent:
    wf.check_transition(case, "reassign")  # only open cases are assigned
    raw = fields.get("user_id")
    try:
        user_id = int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise InvalidInput("user_id must be a number (a colleague of the responsible union)") from exc
    if user_id is None:
        user_id = actor.user_id  # "assign to me"
    colleagues = {u.id: u for u in await list_colleagues(session, actor=actor, org_id=case.org_id)}
    if user_id not in colleagues:
        raise InvalidInput("只能指派给负责该案件的工会的在职工作人员")
    case.assignee_id = user_id
    name = colleagues[user_id].display_name
    return await wf.record_event(session, case=case, now=now, change=wf.Change(
        "assigned", actor.label, f"指派给 {name}", {"user_id": user_id, "name": name}))


async def _message(session: AsyncSession, *, actor: Actor, case: Case, fields: dict[str, Any],
                   now: datetime) -> CaseEvent:
    text = _text(fields, "text", required=True, label="要发给职工的话（text）") or ""
    contact = await session.get_one(Contact, case.contact_id)
    org = await session.get_one(Org, case.org_id)
    record = await do_send_staff_message(session, contact=contact, text=text, author=actor.label, now=now,
                                         case_id=case.id)
    return await wf.record_event(session, case=case, now=now, change=wf.Change(
        "worker_messaged", actor.label, text, {"outbound_id": record.id, "org": org.name}))
