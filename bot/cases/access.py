"""Who may see and act on what, decided here and nowhere else; and the access log.

A staff member acts on the cases of their own union body and of every body below it; a
system admin on all. Every view of a case file and every "show phone" is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, String, Text, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import Forbidden, InvalidInput, NotFound
from bot.cases.handoffs import Handoff
from bot.cases.models import BigId, Case, Org
from bot.cases.org_models import Expert, OrgKind, Role, StaffUser
from bot.cases.review import Review, ReviewMember
from bot.cases.orgs import subtree_ids
from bot.db import Base, UTCDateTime, utcnow


class AccessLogEntry(Base):
    """One look at personal data: a case file viewed, a phone number shown, a file downloaded."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # the user's org when they looked (org admins read the log of their subtree)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


ACCESS_ACTIONS = frozenset({"view_case", "show_phone", "download_evidence", "export_cases", "view_conversation"})
MAX_LOG_ROWS = 1000


@dataclass(frozen=True)
class Actor:
    """A logged-in staff member and the union bodies they may act for (read once per request)."""

    user_id: int
    username: str
    display_name: str
    org_id: int
    role: str
    org_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def is_org_admin(self) -> bool:
        return self.role in (Role.ORG_ADMIN.value, Role.ADMIN.value)

    @property
    def can_annotate(self) -> bool:
        """Labels the NLU inbox: annotators and system admins (the messages are redacted)."""
        return self.role in (Role.ANNOTATOR.value, Role.ADMIN.value)

    @property
    def label(self) -> str:
        """The actor string written on case events."""
        return f"staff:{self.username}"


async def load_actor(session: AsyncSession, *, user: StaffUser) -> Actor:
    """The actor for ``user``: a system admin reaches every body, anyone else their own
    body and the bodies below it, except experts, who see cases only through a review, and
    annotators, who see no case (only the redacted NLU inbox)."""
    if user.role == Role.ADMIN.value:
        org_ids = frozenset((await session.execute(select(Org.id))).scalars())
    elif user.role in (Role.EXPERT.value, Role.ANNOTATOR.value):
        # experts belong to the city federation, whose subtree is every case in the city
        org_ids = frozenset()
    else:
        org_ids = frozenset(await subtree_ids(session, root_id=user.org_id))
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name,
                 org_id=user.org_id, role=user.role, org_ids=org_ids)


def case_scope(actor: Actor) -> ColumnElement[bool]:
    """The filter every case list applies: cases of the actor's bodies only."""
    return Case.org_id.in_(actor.org_ids)


async def access_case_or_raise(
    session: AsyncSession, *, actor: Actor, number: str, for_update: bool = False
) -> Case:
    """Case ``number`` if the actor may see it; row-locked on PostgreSQL when ``for_update``.

    Raises:
        NotFound: no such case, or one outside the actor's bodies (the same answer, so
            the reply never tells that a case exists elsewhere).
    """
    stmt = select(Case).where(Case.number == number.strip().upper(), case_scope(actor))
    if for_update and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = (await session.execute(stmt)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case numbered {number!r}")
    return case


def check_org_in_scope(actor: Actor, org_id: int) -> None:
    """Raises NotFound (as for a missing body) when ``org_id`` is outside the actor's bodies."""
    if org_id not in actor.org_ids:
        raise NotFound(f"no union body with id {org_id}")


def check_can_read_access_log(actor: Actor) -> None:
    """Raises Forbidden unless the actor is an org admin or a system admin."""
    if not actor.is_org_admin:
        raise Forbidden("只有工会管理员可以查看访问记录")


def check_can_annotate(actor: Actor) -> None:
    """Raises Forbidden unless the actor labels the NLU inbox (an annotator or a system admin)."""
    if not actor.can_annotate:
        raise Forbidden("只有标注员和系统管理员可以标注消息")


def check_can_manage_users(actor: Actor, org_id: int) -> None:
    """Raises Forbidden unless the actor may manage the accounts of body ``org_id``: a
    system admin any body's, an org admin those of their own subtree."""
    if actor.is_admin or (actor.is_org_admin and org_id in actor.org_ids):
        return
    raise Forbidden("无权管理该单位的账户")


async def do_log_access(
    session: AsyncSession, *, actor: Actor, case_id: int | None, action: str, now: datetime,
    detail: str | None = None, ip: str | None = None,
) -> AccessLogEntry:
    """Record one look at personal data, under the actor's body at the time.

    Raises:
        InvalidInput: ``action`` is not one of :data:`ACCESS_ACTIONS`.
    """
    if action not in ACCESS_ACTIONS:
        raise InvalidInput(f"unknown access action {action!r}; one of {', '.join(sorted(ACCESS_ACTIONS))}")
    entry = AccessLogEntry(user_id=actor.user_id, org_id=actor.org_id, case_id=case_id, action=action,
                           detail=detail, ip=ip[:64] if ip else None, created_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def list_access_log(
    session: AsyncSession, *, actor: Actor, limit: int = 200, case_id: int | None = None
) -> list[dict[str, Any]]:
    """The access log an org admin may read, newest first: looks taken by people of their
    bodies, and looks at cases of their bodies (by anyone).

    Raises:
        Forbidden: the actor is not an org admin.
    """
    check_can_read_access_log(actor)
    stmt = (
        select(AccessLogEntry, StaffUser.username, StaffUser.display_name, Case.number)
        .join(StaffUser, StaffUser.id == AccessLogEntry.user_id)
        .outerjoin(Case, Case.id == AccessLogEntry.case_id)
        .where(or_(AccessLogEntry.org_id.in_(actor.org_ids), case_scope(actor)))
        .order_by(AccessLogEntry.created_at.desc(), AccessLogEntry.id.desc())
        .limit(max(1, min(limit, MAX_LOG_ROWS)))
    )
    if case_id is not None:
        stmt = stmt.where(AccessLogEntry.case_id == case_id)
    return [
        {"id": entry.id, "username": username, "display_name": display_name, "case_number": number,
         "action": entry.action, "detail": entry.detail, "ip": entry.ip, "created_at": entry.created_at}
        for entry, username, display_name, number in (await session.execute(stmt)).all()
    ]


async def list_colleagues(session: AsyncSession, *, actor: Actor, org_id: int) -> list[StaffUser]:
    """Active accounts of body ``org_id`` a case can be assigned to (experts excluded).

    Raises:
        NotFound: ``org_id`` is outside the actor's bodies.
    """
    check_org_in_scope(actor, org_id)
    stmt = (
        select(StaffUser)
        .where(StaffUser.org_id == org_id, StaffUser.active.is_(True), StaffUser.role != Role.EXPERT.value)
        .order_by(StaffUser.display_name, StaffUser.username)
    )
    return list((await session.execute(stmt)).scalars())


async def access_handoff_or_raise(session: AsyncSession, *, actor: Actor, handoff_id: int,
                                  for_update: bool = False) -> Handoff:
    """Handoff ``handoff_id`` if it waits with (or was escalated to) one of the actor's bodies.

    Raises:
        NotFound: no such handoff, or one outside the actor's bodies (the same answer).
    """
    stmt = select(Handoff).where(Handoff.id == handoff_id, Handoff.org_id.in_(actor.org_ids))
    if for_update and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    handoff = (await session.execute(stmt)).scalar_one_or_none()
    if handoff is None:
        raise NotFound(f"no handoff with id {handoff_id}")
    return handoff


async def access_review_or_raise(session: AsyncSession, *, actor: Actor, review_id: int) -> Review:
    """Review ``review_id`` if the actor may act on it: staff of the case's body or of the
    city federation (where the review committee sits), or an expert sitting on it.

    Raises:
        NotFound: no such review, or one the actor has nothing to do with (the same answer).
    """
    review = await session.get(Review, review_id)
    if review is not None:
        case_org = (await session.execute(select(Case.org_id).where(Case.id == review.case_id))).scalar_one()
        city = (await session.execute(select(Org.id).where(Org.kind == OrgKind.CITY.value))).scalars().first()
        if case_org in actor.org_ids or city in actor.org_ids:
            return review
        expert = await expert_id_of(session, actor=actor)
        if expert is not None and (await session.execute(select(ReviewMember.id).where(
                ReviewMember.review_id == review.id, ReviewMember.expert_id == expert))).first():
            return review
    raise NotFound(f"no review with id {review_id}")


async def expert_id_of(session: AsyncSession, *, actor: Actor) -> int | None:
    """The pool member behind an expert's own log-in, if any."""
    return (await session.execute(select(Expert.id).where(Expert.staff_user_id == actor.user_id))).scalars().first()
