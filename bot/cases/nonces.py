"""Callbacks seen recently, by their nonce: a logged callback URL replayed within the
freshness window is refused (WeChat signs timestamp + nonce, so a copy stays valid)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow


class CallbackNonce(Base):
    __tablename__ = "callback_nonces"
    __table_args__ = (UniqueConstraint("channel", "nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
