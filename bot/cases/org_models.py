"""Tables of the union organisation: who is responsible for what, and who works there.

city federation → district/county → town/street → 片区 (district working committee) →
company unions; hometown liaison offices (by home province); an expert pool; staff users.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.models import BigId, Org
from bot.db import Base, UTCDateTime, utcnow


class OrgKind(str, enum.Enum):
    CITY = "city_federation"
    INTAKE = "intake_desk"  # the city federation's intake desk: cases nobody else covers
    DISTRICT = "district"
    STREET = "street"  # town or street (乡镇/街道) union
    PIANQU = "pianqu"  # 片区工委: covers a set of streets and companies
    COMPANY = "company_union"
    LIAISON = "liaison_office"  # 老乡服务办公室, by home province


class Role(str, enum.Enum):
    ADMIN = "admin"  # system admin: every union body, accounts of all of them
    ORG_ADMIN = "org_admin"  # admin of one union body and the bodies below it; reads the access log
    STAFF = "staff"
    COMPANY_REP = "company_rep"
    LIAISON = "liaison"
    EXPERT = "expert"
    ANNOTATOR = "annotator"  # labels the NLU inbox (no case access)


class Employer(Base):
    """A company or contractor workers name; ``union_org_id`` set when it has a union."""

    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    union_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    street: Mapped[str | None] = mapped_column(String(64))


class EmployerAlias(Base):
    """Another way workers write an employer's name (鑫达电子厂 for 义乌市鑫达电子有限公司)."""

    __tablename__ = "employer_aliases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    alias: Mapped[str] = mapped_column(String(200), unique=True)


class Coverage(Base):
    """What a 片区 or street union covers: a place name (street/town) or a company."""

    __tablename__ = "org_coverage"
    __table_args__ = (UniqueConstraint("org_id", "place", "employer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    place: Mapped[str | None] = mapped_column(String(64))
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employers.id"), index=True)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Failed log-ins in a row; at the limit the account is locked until ``locked_until``.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The staff member's own WeChat/Telegram identity, linked with a one-time code sent to
    # the bot: alerts reach their phone too.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # Alerts up to this id have been seen (the header's unread count is what lies above).
    alerts_seen_id: Mapped[int] = mapped_column(Integer, default=0)


class Expert(Base):
    """A member of the review pool: lawyer, mediator, retired judge, union veteran."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DeadlinePolicy(Base):
    """Working days allowed per step; the most specific row (org + category) wins."""

    __tablename__ = "deadline_policies"
    __table_args__ = (UniqueConstraint("org_id", "category"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    category: Mapped[str | None] = mapped_column(String(32))
    accept_days: Mapped[int] = mapped_column(Integer)
    respond_days: Mapped[int] = mapped_column(Integer)
    resolve_days: Mapped[int] = mapped_column(Integer)


class CalendarDay(Base):
    """An exception to Monday–Friday: a public holiday, or a weekend made a working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64))


__all__ = [
    "Org", "OrgKind", "Role", "Employer", "EmployerAlias", "Coverage", "StaffUser", "Expert",
    "DeadlinePolicy", "CalendarDay",
]
