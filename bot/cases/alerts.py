"""The console's notification centre: alerts to a union body (new case, new handoff,
urgent or possible-collective case, deadline breached, escalation received).

An alert is the delivery of a ``console`` outbox row (one alert per row, however often the
dispatcher retries); staff members who linked their phone also get it there, through an
outbox row of their own (so it too is only marked sent once their channel delivered it).
The caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId, Contact
from bot.cases.org_models import StaffUser
from bot.cases.outbox import add_notification
from bot.db import Base, UTCDateTime, utcnow


class StaffAlert(Base):
    __tablename__ = "staff_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"))
    outbox_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


async def get_alert_by_outbox_id(session: AsyncSession, *, outbox_id: int) -> StaffAlert | None:
    stmt = select(StaffAlert).where(StaffAlert.outbox_id == outbox_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def do_deliver_console_alert(
    session: AsyncSession, *, outbox_id: int, org_id: int, template: str, text: str, case_id: int | None,
    params: dict[str, Any], now: datetime,
) -> StaffAlert:
    """Deliver a ``console`` outbox row: one alert in ``org_id``'s notification centre, and
    one ``staff_alert`` outbox row to the linked phone of each active staff member there.

    Idempotent on ``outbox_id``: a retried delivery (or two dispatchers racing on one row)
    returns the alert already stored and queues nothing more.
    """
    existing = await get_alert_by_outbox_id(session, outbox_id=outbox_id)
    if existing is not None:
        return existing
    handoff_id = params.get("handoff_id")
    alert = StaffAlert(
        org_id=org_id, kind=template.removeprefix("org_")[:32], text=text, case_id=case_id,
        handoff_id=int(handoff_id) if handoff_id is not None else None, outbox_id=outbox_id, created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(alert)
    except IntegrityError:  # another dispatcher delivered the same row first
        return await get_alert_by_outbox_id(session, outbox_id=outbox_id)  # type: ignore[return-value]
    await _to_linked_phones(session, alert=alert, now=now)
    return alert


async def _to_linked_phones(session: AsyncSession, *, alert: StaffAlert, now: datetime) -> None:
    stmt = (
        select(StaffUser.id, Contact.id, Contact.channel)
        .join(Contact, Contact.id == StaffUser.contact_id)
        .where(StaffUser.org_id == alert.org_id, StaffUser.active.is_(True))
        .order_by(StaffUser.id)
    )
    for user_id, contact_id, channel in (await session.execute(stmt)).all():
        # No case_id: a staff member's phone alert must not show on a worker's case timeline.
        add_notification(
            session, key=f"alert:{alert.id}:user:{user_id}", template="staff_alert", params={"text": alert.text},
            now=now, channel=channel, contact_id=contact_id,
        )


async def list_alerts(session: AsyncSession, *, org_id: int, limit: int = 50) -> list[StaffAlert]:
    """The newest ``limit`` alerts of ``org_id``, newest first."""
    stmt = select(StaffAlert).where(StaffAlert.org_id == org_id).order_by(StaffAlert.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def unread_count(session: AsyncSession, *, user: StaffUser) -> int:
    """How many alerts of the user's org lie above what the user has seen (the header's badge)."""
    stmt = select(func.count()).select_from(StaffAlert).where(
        StaffAlert.org_id == user.org_id, StaffAlert.id > user.alerts_seen_id)
    return (await session.execute(stmt)).scalar_one()


async def do_mark_alerts_seen(session: AsyncSession, *, user: StaffUser, upto_id: int) -> None:
    """The user has seen their org's alerts up to ``upto_id``.

    Never moves backwards (an older page loaded in a second tab cannot mark newer alerts
    unread again), and never past the org's newest alert (a bogus id cannot hide alerts
    that come later).
    """
    newest = (await session.execute(
        select(func.max(StaffAlert.id)).where(StaffAlert.org_id == user.org_id))).scalar_one() or 0
    upto = min(upto_id, newest)
    # A conditional UPDATE, so two tabs marking at once keep the larger value.
    await session.execute(
        update(StaffUser).where(StaffUser.id == user.id, StaffUser.alerts_seen_id < upto)
        .values(alerts_seen_id=upto).execution_options(synchronize_session=False)
    )
    await session.refresh(user, ["alerts_seen_id"])
