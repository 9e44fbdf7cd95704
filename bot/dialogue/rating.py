"""The worker's 1–5 rating of a resolved case, answered as a bare digit.

The "case resolved" notification asks the worker to reply with a digit. That reply is
taken here, before Rasa (a bare "4" means nothing to the language model): when the worker
has a resolved case without a rating, the digit is its rating, recorded through the case
domain (which closes the case and offers a review at 1–2). At 1–2 the reply offers the
review with buttons that :mod:`bot.dialogue.review` answers.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Case, CaseStatus, Contact
from bot.cases.review import REVIEW_OFFER_MAX_SCORE, Rating, do_rate
from bot.channels.base import Button, Reply

_DIGITS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "１": 1, "２": 2, "３": 3, "４": 4, "５": 5}
REVIEW_START, REVIEW_SKIP = "/review_start", "/review_skip"
OFFER_REVIEW = (Button("申请专家评审", REVIEW_START), Button("不用了", REVIEW_SKIP))
RATING = re.compile(r"^\s*(?:打|给)?\s*([1-5１-５一二两三四五])\s*(?:分|星)?\s*[。.!！~～]?\s*$")


def rating_score(text: str | None) -> int | None:
    match = RATING.match(text or "")
    return _DIGITS[match.group(1)] if match else None


async def do_take_rating(session: AsyncSession, *, contact: Contact, text: str | None, now: datetime) -> Reply | None:
    """The rating reply, or None when ``text`` is not a rating of a case awaiting one."""
    score = rating_score(text)
    if score is None:
        return None
    rated = select(Rating.case_id)
    case = (await session.execute(
        select(Case).where(Case.contact_id == contact.id, Case.status == CaseStatus.RESOLVED.value,
                           Case.id.not_in(rated))
        .order_by(Case.id.desc()).limit(1))).scalar_one_or_none()
    if case is None:
        return None
    await do_rate(session, case=case, score=score, comment=None, actor=f"worker:{contact.id}", now=now)
    text_out = f"谢谢您的评价（{score} 分）。案件 {case.number} 已结案。"
    if score <= REVIEW_OFFER_MAX_SCORE:
        text_out += "对处理结果不满意的话，可以申请专家评审：您从专家库里选 1–3 位专家，请他们再看一遍您的案件。"
        return Reply(text=text_out, buttons=OFFER_REVIEW)
    return Reply(text=text_out)
