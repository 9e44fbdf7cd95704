"""The case state machine: legal paths, refusals in words, events, outbox rows, deadlines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import workflow as wf
from bot.cases.errors import InvalidInput
from bot.cases.models import CaseDeadline, CaseEvent
from bot.cases.outbox import OutboxMessage
from bot.cases.review import ReviewError, do_cast_vote, do_rate, do_request_review
from tests.cases.factories import T0, make_experts, make_tree, open_case

H = timedelta(hours=1)
STAFF = "staff:zhang"


async def events(session: AsyncSession, case) -> list[str]:
    rows = await session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    return list(rows.scalars())


async def outbox(session: AsyncSession, case, *, worker: bool = True) -> list[str]:
    column = OutboxMessage.contact_id if worker else OutboxMessage.org_id
    rows = await session.execute(
        select(OutboxMessage.template).where(OutboxMessage.case_id == case.id, column.is_not(None)).order_by(OutboxMessage.id)
    )
    return list(rows.scalars())


async def deadlines(session: AsyncSession, case) -> dict[str, str]:
    rows = (await session.execute(select(CaseDeadline).where(CaseDeadline.case_id == case.id).order_by(CaseDeadline.id))).scalars()
    state = {}
    for d in rows:
        state[d.kind] = "met" if d.met_at else "breached" if d.breached_at else "cancelled" if d.cancelled_at else "open"
    return state


async def test_the_happy_path_is_recorded_and_told_to_the_worker(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    assert case.org_id == tree.pianqu.id and case.status == "submitted"
    assert await deadlines(session, case) == {"accept": "open", "respond": "open", "resolve": "open"}

    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + H)
    await wf.do_start(session, case=case, actor=STAFF, now=T0 + 2 * H, note="已联系雇主")
    await wf.do_resolve(session, case=case, actor=STAFF, now=T0 + 30 * H, outcome="paid_in_full", amount_recovered=8000)
    await wf.do_close(session, case=case, actor=STAFF, now=T0 + 40 * H)

    assert case.status == "closed" and case.amount_recovered == 8000
    assert await events(session, case) == ["opened", "accepted", "started", "resolved", "closed"]
    assert await outbox(session, case) == ["case_accepted", "case_started", "case_resolved", "case_closed"]
    assert await outbox(session, case, worker=False) == ["org_opened", "org_accepted", "org_started", "org_resolved", "org_closed"]
    assert await deadlines(session, case) == {"accept": "met", "respond": "met", "resolve": "met"}
    assert case.due_at is None


@pytest.mark.parametrize(
    "steps, refused, words",
    [
        ([], "start", "当前状态为「已提交」，不能开始处理"),
        ([], "close", "不能结案"),
        (["accept"], "accept", "当前状态为「已受理」，不能受理"),
        (["accept", "start", "resolve", "close"], "withdraw", "当前状态为「已结案」，不能撤回"),
        (["accept", "start", "resolve", "close"], "escalate", "不能上报"),
        (["withdraw"], "accept", "当前状态为「已撤回」"),
    ],
)
async def test_illegal_changes_are_refused_with_the_reason_in_words(
    session: AsyncSession, steps: list[str], refused: str, words: str
) -> None:
    case = await open_case(session, await make_tree(session))
    now = T0
    for step in steps:
        now += H
        kwargs = {"outcome": "paid_in_part", "amount_recovered": 100} if step == "resolve" else {}
        await getattr(wf, f"do_{step}")(session, case=case, actor=STAFF, now=now, **kwargs)
    before = await events(session, case)
    kwargs = {"reason": "测试"} if refused == "escalate" else {}
    with pytest.raises(wf.InvalidTransition, match=words):
        await getattr(wf, f"do_{refused}")(session, case=case, actor=STAFF, now=now + H, **kwargs)
    assert await events(session, case) == before


async def test_only_reopen_leads_out_of_closed(session: AsyncSession) -> None:
    case = await open_case(session, await make_tree(session))
    for i, step in enumerate(["accept", "start", "resolve", "close"], 1):
        kwargs = {"outcome": "not_substantiated"} if step == "resolve" else {}
        await getattr(wf, f"do_{step}")(session, case=case, actor=STAFF, now=T0 + i * H, **kwargs)
    allowed = [a for a, (sources, _) in wf.TRANSITIONS.items() if "closed" in sources]
    assert allowed == ["reopen"]
    await wf.do_reopen(session, case=case, actor=STAFF, now=T0 + 9 * H, note="雇主未按约付款")
    assert case.status == "in_progress" and case.outcome is None
    assert (await deadlines(session, case))["resolve"] == "open"


async def test_escalation_moves_the_case_up_and_tells_everyone(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    event = await wf.do_escalate(session, case=case, actor=STAFF, now=T0 + H, reason="雇主拒不配合")
    assert case.org_id == tree.street.id
    assert event.note == f"雇主拒不配合，由 {tree.pianqu.name} 上报至 {tree.street.name}"
    assert await outbox(session, case) == ["case_escalated"]
    orgs = (await session.execute(select(OutboxMessage.org_id).where(OutboxMessage.case_id == case.id, OutboxMessage.template == "org_escalated"))).scalars()
    assert set(orgs) == {tree.pianqu.id, tree.street.id}
    # the new org owes fresh deadlines; the old org's are cancelled
    rows = (await session.execute(select(CaseDeadline).where(CaseDeadline.case_id == case.id, CaseDeadline.cancelled_at.is_(None)))).scalars()
    assert {d.org_id for d in rows} == {tree.street.id}


async def test_the_city_cannot_escalate_further(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree, headcount=30)  # group dispute: the city itself
    assert case.org_id == tree.city.id and case.urgent and case.group_dispute
    assert await wf.do_escalate(session, case=case, actor=STAFF, now=T0 + H, reason="测试") is None


async def test_reassign_refer_and_evidence_requests(session: AsyncSession) -> None:
    tree = await make_tree(session)
    case = await open_case(session, tree)
    await wf.do_reassign(session, case=case, actor=STAFF, now=T0 + H, to_org_id=tree.street.id, note="片区人手不足")
    with pytest.raises(InvalidInput):
        await wf.do_reassign(session, case=case, actor=STAFF, now=T0 + H, to_org_id=tree.street.id, note="again")
    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + 2 * H)
    await wf.do_request_evidence(session, case=case, actor=STAFF, now=T0 + 3 * H, note="请补充工资条照片")
    assert case.first_response_at == T0 + 3 * H
    await wf.do_refer(session, case=case, actor=STAFF, now=T0 + 4 * H, agency="义乌市劳动人事争议仲裁院", reply_due=T0 + 200 * H)
    assert case.status == "referred" and (await deadlines(session, case))["referral_reply"] == "open"
    await wf.do_resume(session, case=case, actor=STAFF, now=T0 + 5 * H)
    assert (await deadlines(session, case))["referral_reply"] == "met"
    assert await outbox(session, case) == [
        "case_reassigned", "case_accepted", "case_evidence_requested", "case_referred", "case_resumed",
    ]


async def test_resolution_needs_a_known_outcome(session: AsyncSession) -> None:
    case = await open_case(session, await make_tree(session))
    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + H)
    await wf.do_start(session, case=case, actor=STAFF, now=T0 + 2 * H)
    with pytest.raises(InvalidInput, match="unknown outcome"):
        await wf.do_resolve(session, case=case, actor=STAFF, now=T0 + 3 * H, outcome="happy")


async def test_rating_and_review_by_experts_the_worker_picked(session: AsyncSession) -> None:
    tree = await make_tree(session)
    experts = await make_experts(session, 3)
    case = await open_case(session, tree)
    with pytest.raises(ReviewError, match="还没有办结"):
        await do_rate(session, case=case, score=1, comment=None, actor="worker", now=T0 + H)
    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + H)
    await wf.do_start(session, case=case, actor=STAFF, now=T0 + 2 * H)
    await wf.do_resolve(session, case=case, actor=STAFF, now=T0 + 3 * H, outcome="not_substantiated")
    await do_rate(session, case=case, score=2, comment="没帮上忙", actor="worker", now=T0 + 4 * H)
    assert case.status == "closed"
    with pytest.raises(ReviewError, match="已经评价过"):
        await do_rate(session, case=case, score=5, comment=None, actor="worker", now=T0 + 5 * H)
    ids = [e.id for e in experts]
    await do_request_review(session, case=case, expert_ids=ids, actor="worker", now=T0 + 5 * H)
    await do_cast_vote(session, case=case, expert_id=ids[1], vote="redo", now=T0 + 6 * H)
    await do_cast_vote(session, case=case, expert_id=ids[2], vote="redo", now=T0 + 7 * H)
    with pytest.raises(ReviewError, match="已经投过票"):
        await do_cast_vote(session, case=case, expert_id=ids[2], vote="uphold", now=T0 + 7 * H)
    review = await do_cast_vote(session, case=case, expert_id=ids[0], vote="uphold", now=T0 + 8 * H)
    assert review.outcome == "redo"  # 2 : 1
    assert case.status == "in_progress"  # the case is handled again
    assert (await events(session, case))[-2:] == ["review_decided", "reopened"]


def test_a_tie_goes_to_the_chair() -> None:
    from bot.cases.review import decide

    assert decide({1: "uphold", 2: "redo"}, chair=1) == "uphold"
    assert decide({1: "uphold", 2: "redo"}, chair=2) == "redo"
    assert decide({1: "redo", 2: "uphold", 3: "uphold"}, chair=1) == "uphold"


async def test_a_good_rating_cannot_ask_for_review(session: AsyncSession) -> None:
    tree = await make_tree(session)
    experts = await make_experts(session, 1)
    case = await open_case(session, tree)
    for i, step in enumerate(["accept", "start", "resolve"], 1):
        kwargs = {"outcome": "paid_in_full", "amount_recovered": 5000} if step == "resolve" else {}
        await getattr(wf, f"do_{step}")(session, case=case, actor=STAFF, now=T0 + i * H, **kwargs)
    await do_rate(session, case=case, score=4, comment=None, actor="worker", now=T0 + 5 * H)
    with pytest.raises(ReviewError, match="1–2 分"):
        await do_request_review(session, case=case, expert_ids=[experts[0].id], actor="worker", now=T0 + 6 * H)
