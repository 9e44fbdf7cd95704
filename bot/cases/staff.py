"""Staff accounts: creating them and setting and checking passwords.

Passwords are hashed with argon2id (argon2-cffi's default parameters). Hashes written
before the switch (``scrypt$N$r$p$salt$digest``) still verify; :func:`needs_rehash` says
so, and log-in replaces them with an argon2 hash (:func:`bot.cases.accounts.do_login`).
"""

from __future__ import annotations

from collections.abc import Iterable

import base64
import hashlib
import hmac
from datetime import datetime

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.cases.org_models import Role, StaffUser
from bot.cases.orgs import get_org_by_code_or_raise

MIN_PASSWORD = 10
_HASHER = PasswordHasher()
_SCRYPT_PREFIX = "scrypt$"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; parameters kept in the string)."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (argon2, or the legacy scrypt format).

    A missing or malformed hash is a mismatch, never an error.
    """
    if not stored:
        return False
    if stored.startswith(_SCRYPT_PREFIX):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except ValueError:  # wrong field count, bad base64 or impossible scrypt parameters
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` should be replaced: legacy scrypt, or argon2 weaker than now.

    Only weaker parameters count: a hash made with stronger ones is left alone.
    """
    if stored.startswith(_SCRYPT_PREFIX):
        return True
    try:
        params = extract_parameters(stored)
    except InvalidHashError:
        return True
    return (
        params.type != _HASHER.type
        or params.time_cost < _HASHER.time_cost
        or params.memory_cost < _HASHER.memory_cost
        or params.parallelism < _HASHER.parallelism
        or params.hash_len < _HASHER.hash_len
    )


def check_password_rules(password: str) -> None:
    """Raises InvalidInput when ``password`` is too short to be accepted."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少需要 {MIN_PASSWORD} 个字符")


async def do_create_staff_user(
    session: AsyncSession, *, username: str, display_name: str, org_code: str, role: str, password: str
) -> StaffUser:
    """Create a staff account; the username must be new and the password long enough."""
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}")
    check_password_rules(password)
    if (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none():
        raise InvalidInput(f"username {username!r} is taken")
    org = await get_org_by_code_or_raise(session, code=org_code)
    user = StaffUser(username=username, display_name=display_name, org_id=org.id, role=role,
                     password_hash=hash_password(password), failed_logins=0, alerts_seen_id=0)
    session.add(user)
    await session.flush()
    return user


async def do_set_password(session: AsyncSession, *, user: StaffUser, password: str, now: datetime) -> None:
    """Give ``user`` a new password (length rule checked) and lift any lock-out.

    Sessions are left alone: :func:`bot.cases.accounts.do_change_password` and
    :func:`bot.cases.accounts.do_revoke_sessions` end them.
    """
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    # an admin setting a password is how a locked-out person gets back in
    user.failed_logins, user.locked_until = 0, None
    await session.flush()


async def staff_names(session: AsyncSession, *, actors: Iterable[str | None]) -> dict[str, str]:
    """``"staff:<username>"`` → the person's name, for the actors that are staff accounts."""
    usernames = {a.split(":", 1)[1] for a in actors if a and a.startswith("staff:")}
    if not usernames:
        return {}
    rows = await session.execute(select(StaffUser.username, StaffUser.display_name)
                                 .where(StaffUser.username.in_(usernames)))
    return {f"staff:{username}": name for username, name in rows.all()}
