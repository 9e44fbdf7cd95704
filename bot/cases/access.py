"""Who may see and act on what, decided here and nowhere else; and the access log.

A staff member acts on the cases of their own union body and of every body below it; a
system admin on all. Every view of a case file and every "show phone" is logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
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
