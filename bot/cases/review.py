"""有评判: the worker rates a resolved case; a poor rating can go to a review committee of
experts the worker picks from the pool, who vote (majority; a tie goes to the chair)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import DomainError, InvalidInput
from bot.cases.models import BigId, Case, CaseStatus
from bot.cases.org_models import Expert
from bot.cases.workflow import Change, do_close, do_reopen, record_event
from bot.db import Base, UTCDateTime, utcnow

MAX_REVIEWERS = 3
REVIEW_OFFER_MAX_SCORE = 2


class ReviewError(DomainError):
    code = "review_error"


class Vote(str, enum.Enum):
    UPHOLD = "uphold"  # the union's handling stands
    REDO = "redo"  # the case is reopened and handled again


class Rating(Base):
    __tablename__ = "case_ratings"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, autoincrement=False)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    chair_expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    status: Mapped[str] = mapped_column(String(16), default="voting")  # voting | decided
    outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewMember(Base):
    __tablename__ = "review_members"
    __table_args__ = (UniqueConstraint("review_id", "expert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"))
    vote: Mapped[str | None] = mapped_column(String(16))
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


async def do_rate(
    session: AsyncSession, *, case: Case, score: int, comment: str | None, actor: str, now: datetime
) -> Rating:
    """Record the worker's 1–5 rating once; a resolved case is then closed. A rating of 1–2
    tells the worker they may ask for a review."""
    if case.status not in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value):
        raise ReviewError(f"案件 {case.number} 还没有办结，暂时不能评价")
    if not 1 <= score <= 5:
        raise InvalidInput("score must be 1 to 5")
    if await session.get(Rating, case.id) is not None:
        raise ReviewError(f"案件 {case.number} 已经评价过了")
    rating = Rating(case_id=case.id, score=score, comment=(comment or "").strip() or None, created_at=now)
    session.add(rating)
    await record_event(session, case=case, now=now, change=Change(
        "rated", actor, rating.comment, {"score": score}, (case.org_id,)))
    if case.status == CaseStatus.RESOLVED.value:
        await do_close(session, case=case, actor=actor, now=now, note="职工已评价")
    if score <= REVIEW_OFFER_MAX_SCORE:
        await record_event(session, case=case, now=now, change=Change(
            "review_offered", "system:review", "评价较低，可申请专家评审", {"score": score}))
    return rating


async def do_request_review(
    session: AsyncSession, *, case: Case, expert_ids: list[int], actor: str, now: datetime
) -> Review:
    """Open a review with 1–3 experts the worker picked; the first picked chairs it."""
    rating = await session.get(Rating, case.id)
    if rating is None or rating.score > REVIEW_OFFER_MAX_SCORE:
        raise ReviewError("只有评价为 1–2 分的案件可以申请专家评审")
    if (await session.execute(select(Review).where(Review.case_id == case.id))).scalar_one_or_none():
        raise ReviewError(f"案件 {case.number} 已经申请过评审")
    if not 1 <= len(expert_ids) <= MAX_REVIEWERS or len(set(expert_ids)) != len(expert_ids):
        raise InvalidInput(f"pick 1 to {MAX_REVIEWERS} different experts")
    found = set((await session.execute(
        select(Expert.id).where(Expert.id.in_(expert_ids), Expert.active.is_(True))
    )).scalars())
    if missing := [e for e in expert_ids if e not in found]:
        raise InvalidInput(f"experts not in the pool: {missing}")
    review = Review(case_id=case.id, chair_expert_id=expert_ids[0], status="voting", created_at=now)
    session.add(review)
    await session.flush()
    session.add_all(ReviewMember(review_id=review.id, expert_id=e) for e in expert_ids)
    await record_event(session, case=case, now=now, change=Change(
        "review_requested", actor, None, {"experts": expert_ids, "chair": expert_ids[0]}, (case.org_id,)))
    return review


def decide(votes: dict[int, str], *, chair: int) -> str:
    """Majority of the votes; a tie goes to the chair's vote."""
    uphold = sum(1 for v in votes.values() if v == Vote.UPHOLD.value)
    redo = len(votes) - uphold
    if uphold != redo:
        return Vote.UPHOLD.value if uphold > redo else Vote.REDO.value
    return votes[chair]


async def do_cast_vote(
    session: AsyncSession, *, case: Case, expert_id: int, vote: str, now: datetime
) -> Review:
    """One member's vote; the last vote decides, records and tells the outcome."""
    if vote not in {v.value for v in Vote}:
        raise InvalidInput(f"vote must be one of {[v.value for v in Vote]}")
    review = (await session.execute(select(Review).where(Review.case_id == case.id))).scalar_one_or_none()
    if review is None or review.status != "voting":
        raise ReviewError(f"案件 {case.number} 没有进行中的评审")
    member = (await session.execute(select(ReviewMember).where(
        ReviewMember.review_id == review.id, ReviewMember.expert_id == expert_id))).scalar_one_or_none()
    if member is None:
        raise ReviewError("该专家不是本案评审委员")
    if member.vote is not None:
        raise ReviewError("该专家已经投过票")
    member.vote, member.voted_at = vote, now
    await session.flush()
    members = list((await session.execute(select(ReviewMember).where(ReviewMember.review_id == review.id))).scalars())
    if any(m.vote is None for m in members):
        return review
    review.outcome = decide({m.expert_id: m.vote for m in members}, chair=review.chair_expert_id)
    review.status, review.decided_at = "decided", now
    words = "维持原处理结果" if review.outcome == Vote.UPHOLD.value else "重新处理"
    await record_event(session, case=case, now=now, change=Change(
        "review_decided", "system:review", f"专家评审结果：{words}",
        {"outcome": review.outcome, "votes": {str(m.expert_id): m.vote for m in members}}, (case.org_id,)))
    if review.outcome == Vote.REDO.value:
        await do_reopen(session, case=case, actor="system:review", now=now, note="专家评审决定重新处理")
    return review
