"""The worker's 1–5 rating of a resolved case, answered as a bare digit.

The "case resolved" notification asks the worker to reply with a digit. That reply is
taken here, before Rasa (a bare "4" means nothing to the language model): when the worker
has a resolved case without a rating, the digit is its rating, recorded through the case
domain (which closes the case and offers a review at 1–2).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.models import Case, CaseStatus, Contact
from bot.cases.review import Rating, do_rate
from bot.channels.base import Reply

_DIGITS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "１": 1, "２": 2, "３": 3, "４": 4, "５": 5}
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
    if score <= 2:
        text_out += "对处理结果不满意的话，可以申请专家评审，工会会再看一遍您的案件；需要的话回复「转人工」告诉工作人员。"
    return Reply(text=text_out)
