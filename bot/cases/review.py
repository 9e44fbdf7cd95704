"""有评判: the worker rates a resolved case; a poor rating can go to a review committee of
experts the worker picks from the pool, who vote (majority; a tie goes to the chair).

The committee sits with the city federation: a review request reaches its console as well
as that of the union body handling the case, and the city federation sees every review.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import DomainError, InvalidInput, NotFound
from bot.cases.models import BigId, Case, CaseStatus, Org
from bot.cases.org_models import Expert, OrgKind, Role, StaffUser
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
    committee = await _city_federation_id(session)
    notify = (case.org_id,) if committee is None else (case.org_id, committee)
    await record_event(session, case=case, now=now, change=Change(
        "review_requested", actor, None, {"experts": expert_ids, "chair": expert_ids[0]}, notify))
    return review


async def _city_federation_id(session: AsyncSession) -> int | None:
    return (await session.execute(
        select(Org.id).where(Org.kind == OrgKind.CITY.value).order_by(Org.id).limit(1))).scalar_one_or_none()


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
    _check_vote(vote)
    review = await _locked_review(session, Review.case_id == case.id)
    if review is None or review.status != "voting":
        raise ReviewError(f"案件 {case.number} 没有进行中的评审")
    return await _cast(session, review=review, case=case, expert_id=expert_id, vote=vote, vote_event=None, now=now)


async def do_cast_vote_as(
    session: AsyncSession, *, review_id: int, expert_id: int, vote: str, actor: str, now: datetime
) -> Review:
    """A member's vote cast by ``actor`` (the staff label: the expert's own account, or a
    staff member on the expert's behalf), recorded on the case as a ``review_vote`` event.

    Raises:
        NotFound: no review ``review_id``.
        ReviewError: the review is decided, the expert is not on it or has voted, or an
            expert's account votes for another expert.
        InvalidInput: ``vote`` is not a vote.
    """
    _check_vote(vote)
    review = await _locked_review(session, Review.id == review_id)
    if review is None:
        raise NotFound(f"no review with id {review_id}")
    case = await session.get_one(Case, review.case_id)
    if review.status != "voting":
        raise ReviewError(f"案件 {case.number} 的评审已经结束")
    on_behalf = await _on_behalf(session, expert_id=expert_id, actor=actor)
    return await _cast(session, review=review, case=case, expert_id=expert_id, vote=vote, now=now,
                       vote_event=Change("review_vote", actor, None,
                                    {"expert_id": expert_id, "vote": vote, "on_behalf": on_behalf}))


def _check_vote(vote: str) -> None:
    if vote not in {v.value for v in Vote}:
        raise InvalidInput(f"vote must be one of {[v.value for v in Vote]}")


async def _locked_review(session: AsyncSession, where: Any) -> Review | None:
    stmt = select(Review).where(where)
    if session.bind.dialect.name == "postgresql":
        # two last votes at once: each must see the other's, or neither would decide
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _on_behalf(session: AsyncSession, *, expert_id: int, actor: str) -> bool:
    """Whether ``actor`` votes for someone else; an expert's account votes only for itself."""
    expert = await session.get(Expert, expert_id)
    user = None
    if actor.startswith("staff:"):
        user = (await session.execute(
            select(StaffUser).where(StaffUser.username == actor.removeprefix("staff:")))).scalar_one_or_none()
    own = user is not None and expert is not None and expert.staff_user_id == user.id
    if user is not None and user.role == Role.EXPERT.value and not own:
        raise ReviewError("评审专家只能投自己的票")
    return not own


async def _cast(
    session: AsyncSession, *, review: Review, case: Case, expert_id: int, vote: str,
    vote_event: Change | None, now: datetime,
) -> Review:
    member = (await session.execute(select(ReviewMember).where(
        ReviewMember.review_id == review.id, ReviewMember.expert_id == expert_id))).scalar_one_or_none()
    if member is None:
        raise ReviewError("该专家不是本案评审委员")
    if member.vote is not None:
        raise ReviewError("该专家已经投过票")
    member.vote, member.voted_at = vote, now
    await session.flush()
    if vote_event is not None:
        await record_event(session, case=case, now=now, change=vote_event)
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


async def list_reviews(
    session: AsyncSession, *, org_ids: Iterable[int], status: str | None = None,
    member_expert_id: int | None = None,
) -> list[dict[str, Any]]:
    """Reviews for a console, newest first: those of cases handled by ``org_ids`` (every
    review when the city federation, where the committee sits, is among them), plus those
    ``member_expert_id`` sits on (an expert's own log-in). ``status``: voting | decided.

    Each is a dict: ``id``, ``case_id``, ``number``, ``org_id``, ``status``, ``outcome``,
    ``chair`` (the chair's member entry), ``members`` (in pick order: ``expert_id``,
    ``name``, ``title``, ``vote``, ``voted_at``, ``chair``), ``created_at``, ``decided_at``.
    """
    org_ids = set(org_ids)
    stmt = select(Review, Case.number, Case.org_id).join(Case, Case.id == Review.case_id)
    if await _city_federation_id(session) not in org_ids:
        scope = [Case.org_id.in_(org_ids)]
        if member_expert_id is not None:
            scope.append(Review.id.in_(
                select(ReviewMember.review_id).where(ReviewMember.expert_id == member_expert_id)))
        stmt = stmt.where(or_(*scope))
    if status is not None:
        stmt = stmt.where(Review.status == status)
    rows = (await session.execute(stmt.order_by(Review.created_at.desc(), Review.id.desc()))).all()
    members = await _members_by_review(session, [review.id for review, _, _ in rows])
    out = []
    for review, number, org_id in rows:
        panel = [{**m, "chair": m["expert_id"] == review.chair_expert_id} for m in members.get(review.id, [])]
        out.append({
            "id": review.id, "case_id": review.case_id, "number": number, "org_id": org_id,
            "status": review.status, "outcome": review.outcome,
            "chair": next((m for m in panel if m["chair"]), None), "members": panel,
            "created_at": review.created_at, "decided_at": review.decided_at,
        })
    return out


async def _members_by_review(session: AsyncSession, review_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not review_ids:
        return {}
    rows = (await session.execute(
        select(ReviewMember, Expert.name, Expert.title).join(Expert, Expert.id == ReviewMember.expert_id)
        .where(ReviewMember.review_id.in_(review_ids)).order_by(ReviewMember.id))).all()
    found: dict[int, list[dict[str, Any]]] = {}
    for member, name, title in rows:
        found.setdefault(member.review_id, []).append({
            "expert_id": member.expert_id, "name": name, "title": title, "vote": member.vote,
            "voted_at": member.voted_at})
    return found
