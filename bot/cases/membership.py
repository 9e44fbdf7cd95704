"""Applications to join the union (入会), as workers send them; staff take them up in the
console. New forms of employment (couriers, riders, drivers) apply the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import InvalidInput
from bot.cases.models import BigId, Contact
from bot.cases.orgs import get_org_by_code_or_raise
from bot.cases.outbox import CONSOLE_CHANNEL, add_notification
from bot.db import Base, UTCDateTime, utcnow

RECEIVING_ORG = "city"


class MembershipApplication(Base):
    __tablename__ = "membership_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    name: Mapped[str] = mapped_column(String(64))
    employer: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | contacted | joined | declined
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def do_apply_for_membership(
    session: AsyncSession, *, contact: Contact, name: str, employer: str, city: str, phone: str,
    now: datetime | None = None,
) -> MembershipApplication:
    """Record an application with the city federation and tell it on the console."""
    if not (name.strip() and employer.strip() and city.strip() and phone.strip()):
        raise InvalidInput("name, employer, city and phone are all needed")
    now = now or utcnow()
    org = await get_org_by_code_or_raise(session, code=RECEIVING_ORG)
    application = MembershipApplication(
        contact_id=contact.id, org_id=org.id, name=name.strip(), employer=employer.strip(), city=city.strip(),
        phone=phone.strip(), status="new", created_at=now,
    )
    session.add(application)
    await session.flush()
    add_notification(
        session, key=f"membership:{application.id}", template="org_membership_application",
        params={"name": application.name, "employer": application.employer, "city": application.city},
        now=now, channel=CONSOLE_CHANNEL, org_id=org.id,
    )
    return application
