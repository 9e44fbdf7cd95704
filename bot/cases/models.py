"""Tables of the case store: contacts, their messages, unions, cases and case timelines.

Relationships load with ``lazy="raise_on_sql"``: async code must say what it loads.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime, utcnow

# BIGINT on PostgreSQL, but INTEGER on SQLite, where only "INTEGER PRIMARY KEY" autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Category(str, enum.Enum):
    """Dispute topic of a case: the topic intent without ``report_``."""

    UNPAID_WAGES = "unpaid_wages"
    OVERTIME = "overtime"
    INJURY = "injury"
    DISMISSAL = "dismissal"
    SOCIAL_INSURANCE = "social_insurance"


class CaseStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Contact(Base):
    """A person who writes to us on one channel (one row per channel identity)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def rasa_sender_id(self) -> str:
        return f"{self.channel}:{self.external_id}"


class InboundStatus(str, enum.Enum):
    RECEIVED = "received"  # stored, not yet answered
    ANSWERED = "answered"
    PENDING_RETRY = "pending_retry"  # Rasa was down or answered nothing; to be retried
    FAILED = "failed"


class InboundRecord(Base):
    """Every message a worker sends, stored before anything else happens to it."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Channel-specific identity of the message (WeChat MsgId, Telegram update_id, web chat
    # client id): a retry of the same delivery hits the unique index and is dropped.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.RECEIVED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundRecord(Base):
    """What the bot (or staff) said to a contact, in the normalised reply shape."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    image: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Org(Base):
    """A union body: city federation, district, street, 片区, company union, liaison office."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseCounter(Base):
    """Per-year sequence behind case numbers (GY-2026-000123); portable across backends."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.SUBMITTED.value)
    channel: Mapped[str] = mapped_column(String(16))
    employer: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    amount_text: Mapped[str | None] = mapped_column(String(64))
    headcount: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Topic-specific facts (period owed, hours, injury date …) and secondary topics.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Identity of the request that opened the case (e.g. the Rasa sender + message id of the
    # worker's confirmation): a retried request finds the case instead of opening a second.
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    contact: Mapped[Contact] = relationship(lazy="raise_on_sql")
    org: Mapped[Org] = relationship(lazy="raise_on_sql")
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", lazy="raise_on_sql", order_by="CaseEvent.id"
    )


class CaseEvent(Base):
    """One entry of a case's timeline. Rows are only ever inserted, never updated."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events", lazy="raise_on_sql")
