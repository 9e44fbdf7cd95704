"""The console's notification centre: alerts to a union body (new case, new handoff,
urgent or possible-collective case, deadline breached, escalation received).

An alert is the delivery of a ``console`` outbox row (one alert per row, however often the
dispatcher retries); staff members who linked their phone also get it there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
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
