"""有评判 in the conversation: a poor rating offers a review, the worker picks up to three
experts with buttons, the review reaches the committee's console, the experts' votes
decide, and the worker is told. Driven through the real domain over a real session."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases import workflow as wf
from bot.cases.errors import NotFound
from bot.cases.models import Case, CaseEvent, Contact, InboundRecord, InboundStatus, Org
from bot.cases.org_models import Expert, OrgKind
from bot.cases.outbox import OutboxMessage
from bot.cases.review import Review, ReviewError, ReviewMember, do_cast_vote_as, list_reviews
from bot.cases.staff import do_create_staff_user
from bot.channels.base import InboundMessage, Reply
from bot.db import create_sessionmaker, session_scope
from bot.dialogue.pipeline import InboundPipeline
from bot.dialogue.rasa_client import RasaClient
from bot.dialogue.rating import do_take_rating
from bot.dialogue.review import do_take_review_step
from tests.cases.factories import T0, Tree, make_experts, make_tree, open_case
from tests.conftest import free_port

import pytest

H = timedelta(hours=1)
STAFF = "staff:tester"


async def resolved_case(session: AsyncSession, tree: Tree) -> tuple[Case, Contact]:
    case = await open_case(session, tree)
    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + H)
    await wf.do_start(session, case=case, actor=STAFF, now=T0 + 2 * H)
    await wf.do_resolve(session, case=case, actor=STAFF, now=T0 + 3 * H, outcome="not_substantiated")
    return case, await session.get_one(Contact, case.contact_id)


async def rated_case(session: AsyncSession, score: int = 2) -> tuple[Tree, Case, Contact]:
    tree = await make_tree(session)
    case, contact = await resolved_case(session, tree)
    assert await do_take_rating(session, contact=contact, text=str(score), now=T0 + 4 * H)
    return tree, case, contact


def pick(expert: Expert) -> str:
    return "/review_pick" + json.dumps({"expert": expert.id})


async def step(session: AsyncSession, contact: Contact, payload: str) -> Reply:
    replies = await do_take_review_step(session, contact=contact, payload=payload, text=None, now=T0 + 5 * H)
    assert replies is not None and len(replies) == 1
    return replies[0]


async def submitted(session: AsyncSession, n: int) -> tuple[Tree, Case, Contact, list[Expert], Review]:
    """A case rated 2 whose worker picked ``n`` new experts (in list order) and submitted."""
    tree, case, contact = await rated_case(session)
    experts = await make_experts(session, n)
    await step(session, contact, "/review_start")
    for expert in experts:
        await step(session, contact, pick(expert))
    await step(session, contact, "/review_submit")
    review = (await session.execute(select(Review).where(Review.case_id == case.id))).scalar_one()
    return tree, case, contact, experts, review


async def test_a_poor_rating_offers_a_review_and_a_good_one_does_not(session: AsyncSession) -> None:
    tree = await make_tree(session)
    poor, poor_contact = await resolved_case(session, tree)
    reply = await do_take_rating(session, contact=poor_contact, text="2", now=T0 + 4 * H)
    assert reply is not None and f"案件 {poor.number} 已结案" in (reply.text or "")
    assert [(b.title, b.payload) for b in reply.buttons] == [("申请专家评审", "/review_start"), ("不用了", "/review_skip")]

    good, good_contact = await resolved_case(session, tree)
    reply = await do_take_rating(session, contact=good_contact, text="4", now=T0 + 4 * H)
    assert reply is not None and reply.buttons == () and "专家评审" not in (reply.text or "")
    assert good.status == poor.status == "closed"


async def test_start_lists_the_active_experts_as_buttons(session: AsyncSession) -> None:
    _, case, contact = await rated_case(session)
    experts = await make_experts(session, 2)
    retired = Expert(name="退休专家", title="仲裁员", active=False)
    session.add(retired)
    await session.flush()

    reply = await step(session, contact, "/review_start")

    assert case.number in (reply.text or "") and "最多选 3 位，第一位担任主审；选好后点「提交评审」" in (reply.text or "")
    buttons = {b.payload: b.title for b in reply.buttons}
    for expert in experts:
        assert buttons[f'/review_pick{{"expert": {expert.id}}}'] == f"{expert.name} · {expert.title}"
    assert pick(retired) not in buttons
    assert reply.buttons[-1].title == "提交评审" and reply.buttons[-1].payload == "/review_submit"


async def test_picks_toggle_keep_their_order_and_a_fourth_is_refused(session: AsyncSession) -> None:
    _, case, contact = await rated_case(session)
    a, b, c, d = await make_experts(session, 4)
    contact.channel_state = {"window_at": 123.0, "buttons": {"1": "/x"}}  # what a channel keeps
    await step(session, contact, "/review_start")

    await step(session, contact, pick(b))
    await step(session, contact, pick(a))
    reply = await step(session, contact, pick(c))
    assert "1. 专家1（主审）、2. 专家0、3. 专家2" in (reply.text or "")
    assert contact.channel_state["review"] == {"case_id": case.id, "picked": [b.id, a.id, c.id]}

    reply = await step(session, contact, pick(d))
    assert "最多只能选 3 位" in (reply.text or "")
    assert contact.channel_state["review"]["picked"] == [b.id, a.id, c.id]

    reply = await step(session, contact, pick(b))  # un-pick: the next in line chairs
    assert "1. 专家0（主审）、2. 专家2" in (reply.text or "")
    ticked = [btn.title for btn in reply.buttons if btn.title.startswith("✓")]
    assert ticked == [f"✓ {a.name} · {a.title}", f"✓ {c.name} · {c.title}"]
    await step(session, contact, pick(d))
    await session.flush()
    await session.refresh(contact)  # what is stored, not only what the object holds
    assert contact.channel_state == {"window_at": 123.0, "buttons": {"1": "/x"},
                                     "review": {"case_id": case.id, "picked": [a.id, c.id, d.id]}}


async def test_submit_opens_the_review_and_tells_both_consoles(session: AsyncSession) -> None:
    tree, case, contact = await rated_case(session)
    a, b, c = await make_experts(session, 3)
    await step(session, contact, "/review_start")
    reply = await step(session, contact, "/review_submit")
    assert "还没有选专家" in (reply.text or "")
    for expert in (c, a, b):
        await step(session, contact, pick(expert))

    reply = await step(session, contact, "/review_submit")

    assert case.number in (reply.text or "") and "1. 专家2（主审）、2. 专家0、3. 专家1" in (reply.text or "")
    assert "结果" in (reply.text or "")
    review = (await session.execute(select(Review).where(Review.case_id == case.id))).scalar_one()
    assert review.chair_expert_id == c.id and review.status == "voting"
    members = (await session.execute(
        select(ReviewMember.expert_id).where(ReviewMember.review_id == review.id).order_by(ReviewMember.id))).scalars()
    assert list(members) == [c.id, a.id, b.id]
    rows = (await session.execute(select(OutboxMessage.org_id).where(
        OutboxMessage.case_id == case.id, OutboxMessage.channel == "console",
        OutboxMessage.template == "org_review_requested"))).scalars()
    assert set(rows) == {case.org_id, tree.city.id}
    assert tree.city.kind == OrgKind.CITY.value and case.org_id != tree.city.id
    assert "review" not in (contact.channel_state or {})
    # the button again: the case has its review now
    assert "失效" in ((await step(session, contact, "/review_submit")).text or "")


async def test_review_list_for_the_case_org_the_committee_and_the_expert(session: AsyncSession) -> None:
    tree, case, _, experts, review = await submitted(session, 2)
    other = Org(code=f"o-{uuid.uuid4().hex[:6]}", name="别处工会", kind="district", parent_id=tree.city.id)
    session.add(other)
    await session.flush()

    for org_ids in ({case.org_id}, {tree.city.id}):
        listed = {r["id"]: r for r in await list_reviews(session, org_ids=org_ids)}
        assert review.id in listed
    assert review.id not in {r["id"] for r in await list_reviews(session, org_ids={other.id})}
    mine = await list_reviews(session, org_ids=set(), member_expert_id=experts[1].id)
    assert [r["id"] for r in mine] == [review.id]

    entry = next(r for r in await list_reviews(session, org_ids={case.org_id}, status="voting") if r["id"] == review.id)
    assert entry["number"] == case.number and entry["status"] == "voting" and entry["outcome"] is None
    assert entry["chair"]["expert_id"] == experts[0].id
    assert [(m["name"], m["title"], m["vote"]) for m in entry["members"]] == [
        (e.name, e.title, None) for e in experts]
    assert entry["created_at"] == T0 + 5 * H
    assert review.id not in {r["id"] for r in await list_reviews(session, org_ids={case.org_id}, status="decided")}


async def test_the_majority_decides_and_redo_reopens_the_case(session: AsyncSession) -> None:
    tree, case, contact, (a, b, c), review = await submitted(session, 3)
    await do_cast_vote_as(session, review_id=review.id, expert_id=a.id, vote="uphold", actor=STAFF, now=T0 + 6 * H)
    await do_cast_vote_as(session, review_id=review.id, expert_id=b.id, vote="redo", actor=STAFF, now=T0 + 7 * H)
    assert review.status == "voting" and case.status == "closed"
    with pytest.raises(ReviewError, match="已经投过票"):
        await do_cast_vote_as(session, review_id=review.id, expert_id=b.id, vote="uphold", actor=STAFF, now=T0 + 7 * H)

    await do_cast_vote_as(session, review_id=review.id, expert_id=c.id, vote="redo", actor=STAFF, now=T0 + 8 * H)

    assert review.status == "decided" and review.outcome == "redo"  # 2 : 1 against the chair
    assert case.status == "in_progress"
    told = (await session.execute(select(OutboxMessage).where(
        OutboxMessage.contact_id == contact.id, OutboxMessage.template == "case_review_decided"))).scalar_one()
    assert told.channel == contact.channel and "重新处理" in told.params["note"]
    votes = (await session.execute(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "review_vote").order_by(CaseEvent.id))).scalars().all()
    assert [(e.actor, e.data["expert_id"], e.data["vote"]) for e in votes] == [
        (STAFF, a.id, "uphold"), (STAFF, b.id, "redo"), (STAFF, c.id, "redo")]
    assert not (await session.execute(select(OutboxMessage).where(
        OutboxMessage.event_id.in_([e.id for e in votes])))).first()  # votes notify nobody
    with pytest.raises(ReviewError, match="已经结束"):
        await do_cast_vote_as(session, review_id=review.id, expert_id=a.id, vote="redo", actor=STAFF, now=T0 + 9 * H)
    with pytest.raises(NotFound):
        await do_cast_vote_as(session, review_id=-1, expert_id=a.id, vote="redo", actor=STAFF, now=T0 + 9 * H)


async def test_a_tie_follows_the_chair_and_experts_vote_with_their_own_accounts(session: AsyncSession) -> None:
    tree, case, contact, (a, b), review = await submitted(session, 2)
    accounts = {}
    for expert in (a, b):
        accounts[expert.id] = user = await do_create_staff_user(
            session, username=f"ex-{uuid.uuid4().hex[:8]}", display_name=expert.name, org_code=tree.city.code,
            role="expert", password="long enough password")
        expert.staff_user_id = user.id
    await session.flush()
    as_a, as_b = f"staff:{accounts[a.id].username}", f"staff:{accounts[b.id].username}"
    with pytest.raises(ReviewError, match="只能投自己的票"):
        await do_cast_vote_as(session, review_id=review.id, expert_id=b.id, vote="redo", actor=as_a, now=T0 + 6 * H)

    await do_cast_vote_as(session, review_id=review.id, expert_id=b.id, vote="redo", actor=as_b, now=T0 + 6 * H)
    await do_cast_vote_as(session, review_id=review.id, expert_id=a.id, vote="uphold", actor=as_a, now=T0 + 7 * H)

    assert review.outcome == "uphold"  # 1 : 1, the chair (picked first) upheld
    assert case.status == "closed"
    votes = (await session.execute(select(CaseEvent.actor, CaseEvent.data).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "review_vote").order_by(CaseEvent.id))).all()
    assert [(actor, data["on_behalf"]) for actor, data in votes] == [(as_b, False), (as_a, False)]
    told = (await session.execute(select(OutboxMessage.params).where(
        OutboxMessage.contact_id == contact.id, OutboxMessage.template == "case_review_decided"))).scalar_one()
    assert "维持" in told["note"]


async def test_stale_buttons_get_an_explanation_and_other_messages_pass(session: AsyncSession) -> None:
    tree = await make_tree(session)
    (expert,) = await make_experts(session, 1)
    case, contact = await resolved_case(session, tree)  # resolved, not yet rated

    reply = await step(session, contact, pick(expert))
    assert "失效" in (reply.text or "")
    await do_take_rating(session, contact=contact, text="5", now=T0 + 4 * H)  # a good rating: no review
    assert "失效" in ((await step(session, contact, "/review_start")).text or "")
    assert "不申请" in ((await step(session, contact, "/review_skip")).text or "")

    for payload, text in ((None, "我的工资还没发"), ("/greet", None), (None, "2"), (None, None)):
        assert await do_take_review_step(session, contact=contact, payload=payload, text=text, now=T0) is None
    assert case.status == "closed"


async def test_skip_clears_the_selection(session: AsyncSession) -> None:
    _, _, contact = await rated_case(session)
    (expert,) = await make_experts(session, 1)
    contact.channel_state = {"chat_id": 42}
    await step(session, contact, "/review_start")
    await step(session, contact, pick(expert))
    assert "不申请" in ((await step(session, contact, "/review_skip")).text or "")
    assert contact.channel_state == {"chat_id": 42}


async def test_the_pipeline_answers_review_buttons_without_rasa(engine: AsyncEngine, tmp_path: Path) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with session_scope(sessionmaker) as session:
        case, contact = await resolved_case(session, await make_tree(session))
        await do_take_rating(session, contact=contact, text="1", now=T0 + 4 * H)
        pool = list((await session.execute(select(Expert).where(Expert.active.is_(True)))).scalars())
        case_id, external_id = case.id, contact.external_id

    def message(**kw: str) -> InboundMessage:
        return InboundMessage(channel="webchat", external_id=external_id, dedupe_key=f"t-{uuid.uuid4().hex}", **kw)

    async with aiohttp.ClientSession() as http:
        # nobody listens there: a message that reached Rasa would be kept for a retry
        pipeline = InboundPipeline(sessionmaker=sessionmaker, rasa=RasaClient(http, f"http://127.0.0.1:{free_port()}"),
                                   evidence_dir=tmp_path)
        started = await pipeline.handle(message(payload="/review_start", kind="button"))
        picked = await pipeline.handle(message(payload=pick(pool[0]), kind="button"))
        done = await pipeline.handle(message(payload="/review_submit", kind="button"))
        to_rasa = await pipeline.handle(message(text="你好"))

    assert started.answered and "第一位担任主审" in (started.replies[0].text or "")
    assert {b.payload for b in started.replies[0].buttons} >= {pick(e) for e in pool} | {"/review_submit"}
    assert picked.answered and f"1. {pool[0].name}（主审）" in (picked.replies[0].text or "")
    assert done.answered and "专家评审" in (done.replies[0].text or "")
    assert not to_rasa.answered and "保存" in (to_rasa.replies[0].text or "")  # Rasa is down indeed
    async with session_scope(sessionmaker) as session:
        statuses = (await session.execute(select(InboundRecord.status).where(
            InboundRecord.id.in_([started.inbound_id, picked.inbound_id, done.inbound_id])))).scalars()
        assert set(statuses) == {InboundStatus.ANSWERED.value}
        review = (await session.execute(select(Review).where(Review.case_id == case_id))).scalar_one()
        assert review.chair_expert_id == pool[0].id
