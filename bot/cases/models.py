"""Tables of the case store: contacts, their messages, unions, cases and case timelines.

Relationships load with ``lazy="raise_on_sql"``: async code must say what it loads.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    REFERRED = "referred"  # waiting for an outside agency (arbitration, labour inspection …)
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = (
    CaseStatus.SUBMITTED.value,
    CaseStatus.ACCEPTED.value,
    CaseStatus.IN_PROGRESS.value,
    CaseStatus.REFERRED.value,
)


class Outcome(str, enum.Enum):
    PAID_IN_FULL = "paid_in_full"
    PAID_IN_PART = "paid_in_part"
    INSTALMENT_AGREEMENT = "instalment_agreement"
    REFERRED_TO_ARBITRATION = "referred_to_arbitration"
    REFERRED_TO_LABOUR_INSPECTION = "referred_to_labour_inspection"
    WITHDRAWN = "withdrawn"
    NOT_SUBSTANTIATED = "not_substantiated"


# Outcomes that count as the union having got the worker a result (success rate).
SUCCESSFUL_OUTCOMES = (
    Outcome.PAID_IN_FULL.value,
    Outcome.PAID_IN_PART.value,
    Outcome.INSTALMENT_AGREEMENT.value,
)


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
    # Set while a person, not the bot, answers this contact (转人工); cleared on hand-back.
    handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the channel says the worker cannot be reached (blocked the bot, unfollowed);
    # cleared by their next message.
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What a channel adapter keeps per contact: WeChat's 48-hour window and 5-message
    # quota, the digit → payload map of the last numbered buttons, Telegram's chat id.
    channel_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def rasa_sender_id(self) -> str:
        return f"{self.channel}:{self.external_id}"


class InboundStatus(str, enum.Enum):
    RECEIVED = "received"  # stored, not yet answered
    ANSWERED = "answered"
    PENDING_RETRY = "pending_retry"  # Rasa was down or answered nothing; to be retried
    FOR_STAFF = "for_staff"  # the contact is in human handoff: staff answer, not the bot
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
    # A gateway working on the message holds it until then (another leaves it alone; after
    # a crash it is free again); for a message kept for retry, the earliest next try.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the gateway (``settings.gateway_id``) holding the lease while it answers the message
    lease_owner: Mapped[str | None] = mapped_column(String(64))


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
    # Who said it when not the bot ("staff:<username>"); such a message travels as an
    # outbox row (``outbox_id``), so its delivery state is known.
    author: Mapped[str | None] = mapped_column(String(128))
    outbox_id: Mapped[int | None] = mapped_column(BigId)


class ChannelToken(Base):
    """A channel credential with one owner (WeChat's access token): fetched by one process,
    read by all, so a second fetch never invalidates the token another process uses."""

    __tablename__ = "channel_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Org(Base):
    """A union body: city federation, district, street, 片区, company union, liaison office."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    # Liaison offices serve workers from one home province (江西, 河南 …).
    province: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A city federation: the area it serves ("义乌市"; places outside every configured area
    # are referred, not routed) and the hotline workers are given (12351).
    region: Mapped[str | None] = mapped_column(String(64))
    hotline: Mapped[str | None] = mapped_column(String(32))


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
    # The other grievances the worker raised in the same dispute ("欠薪，社保也没交"): one
    # case, one employer, one union handling all of it; ``category`` is the main one.
    extra_categories: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
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
    group_dispute: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether the worker agreed that their own company's union may be told (drives routing).
    consent_company_union: Mapped[bool] = mapped_column(Boolean, default=False)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)
    hometown: Mapped[str | None] = mapped_column(String(64))
    province: Mapped[str | None] = mapped_column(String(16))
    incident_date: Mapped[date | None] = mapped_column(Date)
    routing_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    amount_recovered: Mapped[int | None] = mapped_column(BigInteger)
    # Same employer, however it was written (known employer id, else the normalised name):
    # open cases sharing it are flagged together as a possible collective dispute.
    employer_key: Mapped[str | None] = mapped_column(String(200), index=True)
    collective: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The nearest open deadline, denormalised for lists and the worker's status replies.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Identity of the request that opened the case (e.g. the Rasa sender + message id of the
    # worker's confirmation): a retried request finds the case instead of opening a second.
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The staff member of the responsible org working the case (None: the org as a whole).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)

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


class DeadlineKind(str, enum.Enum):
    ACCEPT = "accept"
    RESPOND = "respond"  # first substantive response
    RESOLVE = "resolve"
    INJURY_RECOGNITION = "injury_recognition"  # 工伤认定: 1 year from the incident
    REFERRAL_REPLY = "referral_reply"  # the outside agency's answer


class CaseDeadline(Base):
    """One deadline of a case. ``breached_at`` is set once, by whoever claims the breach."""

    __tablename__ = "case_deadlines"
    __table_args__ = (Index("ix_case_deadlines_open_due", "met_at", "breached_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseCollaborator(Base):
    """Another union body that follows a case (the worker's hometown liaison office)."""

    __tablename__ = "case_collaborators"
    __table_args__ = (UniqueConstraint("case_id", "org_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
