"""Human handoff (转人工): a worker's conversation waits for a person of the responsible
union body, who takes it, answers on the worker's own channel, and hands it back.

    waiting → active (taken by a staff member) → closed (handed back to the bot)
    waiting past its deadline → escalated to the body above (still waiting)
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow


class HandoffStatus(str, enum.Enum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    # the worker's open case when they asked, if any (its org is the one responsible)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.WAITING.value, index=True)
    # what the worker last wrote before asking (shown in the live list)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a person must take it by then, else it escalates (working hours, like case deadlines)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
