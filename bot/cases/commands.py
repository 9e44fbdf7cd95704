"""What staff do to a case from the command line (later the console): one entry point per
verb, mapping a wished-for status onto the state machine's action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import workflow as wf
from bot.cases.errors import InvalidInput
from bot.cases.models import CaseEvent, CaseStatus
from bot.cases.orgs import get_org_by_code_or_raise


async def do_update_status(
    session: AsyncSession, *, number: str, status: str, note: str | None, actor: str, now: datetime,
    outcome: str | None = None, amount_recovered: int | None = None, agency: str | None = None,
    reply_due: datetime | None = None,
) -> CaseEvent:
    """Move case ``number`` to ``status`` the way staff mean it.

    ``in_progress`` starts an accepted case, resumes a referred one and reopens a finished
    one; ``resolved`` needs an outcome; ``referred`` needs an agency and a reply date.

    Raises:
        InvalidTransition: the case cannot go there from where it is.
        InvalidInput: a required detail is missing or the status is unknown.
    """
    case = await wf.get_case_for_update_or_raise(session, number=number)
    kw: dict[str, Any] = {"session": session, "case": case, "actor": actor, "now": now}
    if status == CaseStatus.ACCEPTED.value:
        return await wf.do_accept(**kw, note=note)
    if status == CaseStatus.IN_PROGRESS.value:
        if case.status == CaseStatus.REFERRED.value:
            return await wf.do_resume(**kw, note=note)
        if case.status in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value, CaseStatus.WITHDRAWN.value):
            return await wf.do_reopen(**kw, note=note or "重新处理")
        return await wf.do_start(**kw, note=note)
    if status == CaseStatus.REFERRED.value:
        if not agency or reply_due is None:
            raise InvalidInput("referring needs --agency and --reply-due")
        return await wf.do_refer(**kw, agency=agency, reply_due=reply_due, note=note)
    if status == CaseStatus.RESOLVED.value:
        if not outcome:
            raise InvalidInput("resolving needs --outcome")
        return await wf.do_resolve(**kw, outcome=outcome, amount_recovered=amount_recovered, note=note)
    if status == CaseStatus.CLOSED.value:
        return await wf.do_close(**kw, note=note)
    if status == CaseStatus.WITHDRAWN.value:
        return await wf.do_withdraw(**kw, note=note)
    raise InvalidInput(
        f"unknown status {status!r}; one of accepted, in_progress, referred, resolved, closed, withdrawn"
    )


async def do_escalate_by_number(session: AsyncSession, *, number: str, reason: str, actor: str, now: datetime) -> CaseEvent:
    case = await wf.get_case_for_update_or_raise(session, number=number)
    event = await wf.do_escalate(session, case=case, actor=actor, now=now, reason=reason)
    if event is None:
        raise wf.InvalidTransition(f"案件 {case.number} 已在最高一级，无法再上报")
    return event


async def do_reassign_by_number(
    session: AsyncSession, *, number: str, org_code: str, note: str, actor: str, now: datetime
) -> CaseEvent:
    case = await wf.get_case_for_update_or_raise(session, number=number)
    org = await get_org_by_code_or_raise(session, code=org_code)
    return await wf.do_reassign(session, case=case, actor=actor, now=now, to_org_id=org.id, note=note)
