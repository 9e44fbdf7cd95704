"""The worker asks for an expert review of a poorly rated case (有评判), before Rasa.

The rating reply (:mod:`bot.dialogue.rating`) offers "/review_start"; the worker then picks
up to three experts from the pool with "/review_pick{"expert": <id>}" buttons (a pick
toggles; the first picked chairs), and "/review_submit" opens the review through the case
domain. "/review_skip" drops it. The selection so far is kept per contact in
``Contact.channel_state["review"]`` (``{"case_id": …, "picked": [...]}``), next to what the
channel adapters keep there.

Only the worker's newest closed case rated 1–2 without a review can be reviewed; a button
pressed for anything else (an old list, a case already reviewed) gets a short explanation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Case, CaseStatus, Contact
from bot.cases.org_models import Expert
from bot.cases.review import MAX_REVIEWERS, REVIEW_OFFER_MAX_SCORE, Rating, Review, ReviewError, do_request_review
from bot.channels.base import Button, Reply

STATE_KEY = "review"
SUBMIT = Button("提交评审", "/review_submit")
HOW_TO_PICK = f"最多选 {MAX_REVIEWERS} 位，第一位担任主审；选好后点「提交评审」。"
STEP = re.compile(r"^/review_(start|pick|submit|skip)(\{.*\})?$", re.DOTALL)

STALE = Reply(text="这个按钮已经失效了：您目前没有可以申请专家评审的案件（已结案、评价 1–2 分、还没申请过评审）。"
                   "有问题可以回复「查进度」或「转人工」。")
SKIPPED = Reply(text="好的，不申请评审了。谢谢您的评价，以后有事随时找我。")
NO_EXPERTS = Reply(text="目前专家库里暂时没有可选的专家。请回复「转人工」，工作人员会帮您安排评审。")


async def do_take_review_step(
    session: AsyncSession, *, contact: Contact, payload: str | None, text: str | None, now: datetime
) -> tuple[Reply, ...] | None:
    """The answer to one step of the review conversation, or None when the message is not
    part of it (it goes to Rasa as usual). Writes the review when the worker submits."""
    match = STEP.match((payload or text or "").strip())
    if match is None:
        return None
    step, args = match.group(1), match.group(2)
    if step == "skip":
        await _save_picks(session, contact, None)
        return (SKIPPED,)
    case = await _reviewable_case(session, contact=contact)
    if case is None:
        await _save_picks(session, contact, None)
        return (STALE,)
    pool = await _expert_pool(session)
    if not pool:
        return (NO_EXPERTS,)
    state = (contact.channel_state or {}).get(STATE_KEY) or {}
    picked = [int(e) for e in state.get("picked") or []] if state.get("case_id") == case.id else []
    if step == "start":
        await _save_picks(session, contact, {"case_id": case.id, "picked": []})
        return (Reply(text=f"请为案件 {case.number} 选择评审专家：{HOW_TO_PICK}", buttons=_buttons(pool, [])),)
    if step == "pick":
        return (await _pick(session, contact=contact, case=case, pool=pool, picked=picked, expert_id=_expert_id(args)),)
    return (await _submit(session, contact=contact, case=case, pool=pool, picked=picked, now=now),)


async def _pick(
    session: AsyncSession, *, contact: Contact, case: Case, pool: dict[int, Expert], picked: list[int],
    expert_id: int | None,
) -> Reply:
    """Toggle one expert in the selection (pick order kept); a pick over the limit is refused."""
    if expert_id not in pool:
        return Reply(text=f"这位专家目前不在专家库中，请从下面的名单里选。{HOW_TO_PICK}", buttons=_buttons(pool, picked))
    if expert_id in picked:
        picked = [e for e in picked if e != expert_id]
    elif len(picked) >= MAX_REVIEWERS:
        return Reply(text=f"最多只能选 {MAX_REVIEWERS} 位专家。想换人的话，先点一下已选的专家取消，再选新的。\n"
                          f"已选：{_selection(pool, picked)}", buttons=_buttons(pool, picked))
    else:
        picked = [*picked, expert_id]
    await _save_picks(session, contact, {"case_id": case.id, "picked": picked})
    if not picked:
        return Reply(text=f"已取消，目前还没有选专家。{HOW_TO_PICK}", buttons=_buttons(pool, picked))
    left = MAX_REVIEWERS - len(picked)
    more = f"还可以再选 {left} 位；" if left else "已经选满；"
    return Reply(text=f"已选：{_selection(pool, picked)}。\n{more}选好后点「提交评审」。", buttons=_buttons(pool, picked))


async def _submit(
    session: AsyncSession, *, contact: Contact, case: Case, pool: dict[int, Expert], picked: list[int],
    now: datetime,
) -> Reply:
    if not picked:
        return Reply(text=f"还没有选专家：请先点选 1–{MAX_REVIEWERS} 位专家，再点「提交评审」。",
                     buttons=_buttons(pool, picked))
    if gone := [e for e in picked if e not in pool]:
        # an expert left the pool while the worker was choosing: let them choose again
        kept = [e for e in picked if e not in gone]
        await _save_picks(session, contact, {"case_id": case.id, "picked": kept})
        return Reply(text=f"您选的专家中有 {len(gone)} 位已不在专家库中，请重新确认后再点「提交评审」。",
                     buttons=_buttons(pool, kept))
    try:
        await do_request_review(session, case=case, expert_ids=picked, actor=f"worker:{contact.id}", now=now)
    except ReviewError as exc:
        await _save_picks(session, contact, None)
        return Reply(text=str(exc))
    await _save_picks(session, contact, None)
    return Reply(text=f"已为案件 {case.number} 申请专家评审，评审专家：{_selection(pool, picked)}。"
                      "专家投票后，结果会第一时间告诉您。")


async def _reviewable_case(session: AsyncSession, *, contact: Contact) -> Case | None:
    """The worker's newest closed case rated 1–2 that has no review yet."""
    return (await session.execute(
        select(Case).join(Rating, Rating.case_id == Case.id)
        .where(Case.contact_id == contact.id, Case.status == CaseStatus.CLOSED.value,
               Rating.score <= REVIEW_OFFER_MAX_SCORE, Case.id.not_in(select(Review.case_id)))
        .order_by(Case.id.desc()).limit(1))).scalar_one_or_none()


async def _expert_pool(session: AsyncSession) -> dict[int, Expert]:
    experts = (await session.execute(select(Expert).where(Expert.active.is_(True)).order_by(Expert.id))).scalars()
    return {e.id: e for e in experts}


def _expert_id(args: str | None) -> int | None:
    try:
        value = json.loads(args or "{}").get("expert")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _buttons(pool: dict[int, Expert], picked: Sequence[int]) -> tuple[Button, ...]:
    """One button per expert (the picked ones ticked), then 提交评审."""
    # the field only, up to its first comma: WeChat shows buttons as a numbered list, and a
    # long list of full titles is skipped rather than read
    return (*(Button(f"{'✓ ' if e.id in picked else ''}{e.name} · {e.title.split('，')[0][:16]}",
                     "/review_pick" + json.dumps({"expert": e.id})) for e in pool.values()), SUBMIT)


def _selection(pool: dict[int, Expert], picked: Sequence[int]) -> str:
    return "、".join(f"{n}. {pool[e].name}{'（主审）' if n == 1 else ''}" for n, e in enumerate(picked, 1) if e in pool)


async def _save_picks(session: AsyncSession, contact: Contact, review: dict[str, Any] | None) -> None:
    """Keep (or drop, with None) the selection without touching what channels keep there."""
    stmt = select(Contact).where(Contact.id == contact.id)
    if session.bind.dialect.name == "postgresql":
        # adapters change channel_state concurrently (WeChat's quota): read it fresh, locked
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    contact = (await session.execute(stmt)).scalar_one()
    state = dict(contact.channel_state or {})
    if review is None and STATE_KEY not in state:
        return
    if review is None:
        state.pop(STATE_KEY)
    else:
        state[STATE_KEY] = review
    contact.channel_state = state  # a new dict: SQLAlchemy sees a JSON column change only on assignment
