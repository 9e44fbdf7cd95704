"""Staff log-in: sessions (browser cookies and API tokens), log-in attempts for rate
limiting and lock-out, one-time codes that link a staff member's own phone to the bot.

Secrets are never stored: a session token or link code is kept as its SHA-256.

Limits: a client address with 20 failed log-ins in 15 minutes, or a username with 10
(from any address), is refused outright; 5 wrong passwords in a row lock the account for
15 minutes. A browser session ends after 12 hours without use and 7 days after log-in at
the latest; an API token after 30 days.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Boolean, ForeignKey, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import DomainError, InvalidInput, LoginRefused
from bot.cases.models import BigId, Contact
from bot.cases.org_models import StaffUser
from bot.cases.staff import do_set_password, hash_password, needs_rehash, verify_password
from bot.db import Base, UTCDateTime, utcnow


class StaffSession(Base):
    """A logged-in browser (``kind`` cookie, with its CSRF token) or a script (``api``)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """Every log-in attempt, by username and client address (rate limits look back at these)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LinkCode(Base):
    """A one-time code a staff member sends to the bot to link their WeChat/Telegram."""

    __tablename__ = "staff_link_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


LOOKBACK = timedelta(minutes=15)
MAX_FAILURES_PER_IP = 20
MAX_FAILURES_PER_NAME = 10
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
COOKIE_IDLE = timedelta(hours=12)
COOKIE_MAX = timedelta(days=7)
API_LIFETIME = timedelta(days=30)
SESSION_KINDS = ("cookie", "api")
LINK_CODE_LIFETIME = timedelta(minutes=15)
LINK_CODE_RE = re.compile(r"^\s*GY\s*(\d{6})\s*$", re.IGNORECASE)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    """A hash nobody's password matches: checked for unknown names, so that a refusal takes
    as long whether or not the account exists."""
    return hash_password(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class LoginResult:
    """A new session: hand ``token`` to the client (cookie or bearer) once; it is not stored."""

    user: StaffUser
    token: str
    csrf_token: str
    session_id: int


async def do_login(
    session: AsyncSession, *, username: str, password: str, ip: str, now: datetime, kind: str = "cookie"
) -> LoginResult:
    """Check a name and password and open a session of ``kind`` ("cookie" or "api").

    Every attempt is recorded. A legacy scrypt hash is replaced by an argon2 one on success.

    Raises:
        LoginRefused: reason ``rate_limited``, ``locked`` or ``bad_credentials`` (unknown
            name, wrong password and inactive account alike). The attempt and the failure
            count are already flushed when it is raised: the caller must commit the
            transaction before answering, or lock-out and rate limits never see them.
        InvalidInput: ``kind`` is not a session kind.
    """
    if kind not in SESSION_KINDS:
        raise InvalidInput(f"unknown session kind {kind!r}; one of {', '.join(SESSION_KINDS)}")
    username, ip = username.strip()[:64], (ip or "")[:64]
    limited = await _rate_limited(session, username=username, ip=ip, now=now)
    attempt = LoginAttempt(username=username, ip=ip, ok=False, created_at=now)
    session.add(attempt)
    if limited:
        raise await _refusal(session, "rate_limited")
    user = await _user_for_login(session, username=username)
    matches = verify_password(password, user.password_hash if user and user.password_hash else _dummy_hash())
    if user is not None and user.locked_until is not None and user.locked_until > now:
        minutes = -(-(user.locked_until - now) // timedelta(minutes=1))
        raise await _refusal(session, "locked", f"账户已暂时锁定，请 {minutes} 分钟后再试或联系管理员")
    if user is None or not user.active or not matches:
        raise await _failure(session, user=user, now=now)
    attempt.ok = True
    return await _open_session(session, user=user, password=password, kind=kind, now=now)


async def _rate_limited(session: AsyncSession, *, username: str, ip: str, now: datetime) -> bool:
    recent_failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ok.is_(False), LoginAttempt.created_at > now - LOOKBACK
    )
    by_ip = await session.scalar(recent_failures.where(LoginAttempt.ip == ip))
    by_name = await session.scalar(recent_failures.where(LoginAttempt.username == username))
    return (by_ip or 0) >= MAX_FAILURES_PER_IP or (by_name or 0) >= MAX_FAILURES_PER_NAME


async def _user_for_login(session: AsyncSession, *, username: str) -> StaffUser | None:
    stmt = select(StaffUser).where(StaffUser.username == username)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # concurrent wrong passwords must each count
    return (await session.execute(stmt)).scalar_one_or_none()


async def _refusal(session: AsyncSession, reason: str, message: str | None = None) -> LoginRefused:
    await session.flush()
    return LoginRefused(reason, message)


async def _failure(session: AsyncSession, *, user: StaffUser | None, now: datetime) -> LoginRefused:
    """Count a wrong password against an existing account; the 5th in a row locks it."""
    if user is None or not user.active:
        return await _refusal(session, "bad_credentials")
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < LOCK_AFTER:
        return await _refusal(session, "bad_credentials")
    # the count starts afresh: after the lock ends the person has five tries again
    user.failed_logins, user.locked_until = 0, now + LOCK_FOR
    minutes = LOCK_FOR // timedelta(minutes=1)
    return await _refusal(session, "locked", f"密码连续输错 {LOCK_AFTER} 次，账户已锁定 {minutes} 分钟")


def _expires_at(kind: str, *, created_at: datetime, now: datetime) -> datetime:
    if kind == "api":
        return created_at + API_LIFETIME
    return min(now + COOKIE_IDLE, created_at + COOKIE_MAX)


async def _open_session(
    session: AsyncSession, *, user: StaffUser, password: str, kind: str, now: datetime
) -> LoginResult:
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=_sha256(token), user_id=user.id, kind=kind, csrf_token=csrf_token,
        created_at=now, last_seen_at=now, expires_at=_expires_at(kind, created_at=now, now=now),
    )
    session.add(row)
    await session.flush()
    return LoginResult(user=user, token=token, csrf_token=csrf_token, session_id=row.id)


async def get_session_user(
    session: AsyncSession, *, token: str, now: datetime, kind: str | None = None
) -> tuple[StaffSession, StaffUser] | None:
    """The live session behind ``token`` and its user, or None.

    None for an unknown, revoked or expired token, an inactive user, or a session of
    another ``kind`` when one is given. A cookie session's idle limit slides forward
    (never past 7 days after log-in).
    """
    if not token:
        return None
    stmt = (
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _sha256(token))
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.revoked_at is not None or staff_session.expires_at <= now or not user.active:
        return None
    if kind is not None and staff_session.kind != kind:
        return None
    staff_session.last_seen_at = now
    staff_session.expires_at = _expires_at(staff_session.kind, created_at=staff_session.created_at, now=now)
    return staff_session, user


async def do_logout(session: AsyncSession, *, token: str, now: datetime) -> None:
    """Revoke the session behind ``token`` (nothing happens for an unknown token)."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _sha256(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def do_revoke_sessions(
    session: AsyncSession, *, user_id: int, now: datetime, keep_session_id: int | None = None
) -> int:
    """Revoke every live session of the user except ``keep_session_id``; returns how many."""
    stmt = update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(StaffSession.id != keep_session_id)
    result = await session.execute(stmt.values(revoked_at=now))
    return result.rowcount


async def do_change_password(
    session: AsyncSession, *, user: StaffUser, old_password: str, new_password: str, now: datetime,
    keep_session_id: int | None = None,
) -> None:
    """The user's own password change: every other session of theirs is ended.

    Raises:
        InvalidInput: the old password is wrong, or the new one is too short or the same.
    """
    if not verify_password(old_password, user.password_hash):
        raise InvalidInput("原密码不正确")
    if new_password == old_password:
        raise InvalidInput("新密码不能与原密码相同")
    await do_set_password(session, user=user, password=new_password, now=now)
    await do_revoke_sessions(session, user_id=user.id, now=now, keep_session_id=keep_session_id)


def parse_link_code(text: str) -> str | None:
    """The link code in a message ("GY482913", "gy 482913"), normalised; None if it is not one."""
    match = LINK_CODE_RE.match(text)
    return f"GY{match.group(1)}" if match else None


async def do_create_link_code(session: AsyncSession, *, user: StaffUser, now: datetime) -> str:
    """A new one-time code ("GY" + six digits) valid for 15 minutes; the user's earlier
    unused codes stop working.

    Raises:
        DomainError: no free code was found (practically impossible: a million codes).
    """
    await session.execute(
        update(LinkCode)
        .where(LinkCode.user_id == user.id, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(expires_at=now)
    )
    for _ in range(20):
        code = f"GY{secrets.randbelow(10**6):06d}"
        if await _claim_code_hash(session, code_hash=_sha256(code), now=now):
            session.add(LinkCode(user_id=user.id, code_hash=_sha256(code), created_at=now,
                                 expires_at=now + LINK_CODE_LIFETIME))
            await session.flush()
            return code
    raise DomainError("暂时无法生成绑定码，请稍后再试")


async def _claim_code_hash(session: AsyncSession, *, code_hash: str, now: datetime) -> bool:
    """Whether ``code_hash`` is free: a dead code holding it is deleted, since six digits
    are reused over time and the hash is unique; a live one means pick another code."""
    held = (await session.execute(select(LinkCode).where(LinkCode.code_hash == code_hash))).scalar_one_or_none()
    if held is None:
        return True
    if held.used_at is None and held.expires_at > now:
        return False
    await session.delete(held)
    await session.flush()
    return True


async def do_link_contact(session: AsyncSession, *, code: str, contact: Contact, now: datetime) -> StaffUser | None:
    """Use a link code: ``contact`` becomes the staff member's own phone. None when the code
    is unknown, used, expired or its user inactive.

    A contact belongs to one staff member at most: any earlier link to it is removed.
    """
    normalised = parse_link_code(code)
    if normalised is None:
        return None
    stmt = select(LinkCode).where(LinkCode.code_hash == _sha256(normalised))
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two messages with the same code: one wins
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    user = await session.get(StaffUser, link.user_id)
    if user is None or not user.active:
        return None
    link.used_at = now
    await session.execute(
        update(StaffUser).where(StaffUser.contact_id == contact.id, StaffUser.id != user.id).values(contact_id=None)
    )
    user.contact_id = contact.id
    await session.flush()
    return user


async def do_unlink_contact(session: AsyncSession, *, user: StaffUser) -> None:
    """Forget the staff member's own phone: alerts go to the console only."""
    user.contact_id = None
    await session.flush()
