"""Callbacks seen recently, by their nonce: a logged callback URL replayed within the
freshness window is refused (WeChat signs timestamp + nonce, so a copy stays valid)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
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


async def do_claim_nonce(
    session: AsyncSession, *, channel: str, nonce: str, now: datetime, window: timedelta
) -> bool:
    """Record ``nonce`` as seen on ``channel`` at ``now``; ``False`` if it was seen within
    ``window`` before (nothing is written then).

    Rows older than the window are deleted on the way: a nonce is only worth keeping while
    a callback carrying it could still pass the freshness check. The caller owns the
    transaction; the claim counts once it commits.
    """
    await session.execute(delete(CallbackNonce).where(CallbackNonce.seen_at < now - window))
    # A unique violation inside a savepoint, not a read first: two gateways taking the same
    # nonce at the same moment cannot both see it free.
    try:
        async with session.begin_nested():
            session.add(CallbackNonce(channel=channel, nonce=nonce, seen_at=now))
    except IntegrityError:
        return False
    return True


async def nonce_seen(
    session: AsyncSession, *, channel: str, nonce: str, now: datetime, window: timedelta
) -> bool:
    """Whether ``nonce`` was claimed on ``channel`` within ``window`` before ``now``."""
    stmt = select(CallbackNonce.id).where(
        CallbackNonce.channel == channel, CallbackNonce.nonce == nonce,
        CallbackNonce.seen_at >= now - window)
    return (await session.execute(stmt.limit(1))).first() is not None
