"""Staff accounts: creating them and checking passwords (scrypt, never stored in clear)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.cases.org_models import Role, StaffUser
from bot.cases.orgs import get_org_by_code_or_raise

_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "scrypt${}${}${}${}${}".format(
        _N, _R, _P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


async def do_create_staff_user(
    session: AsyncSession, *, username: str, display_name: str, org_code: str, role: str, password: str
) -> StaffUser:
    """Create a staff account; the username must be new and the password long enough."""
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    if (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none():
        raise InvalidInput(f"username {username!r} is taken")
    org = await get_org_by_code_or_raise(session, code=org_code)
    user = StaffUser(username=username, display_name=display_name, org_id=org.id, role=role,
                     password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    return user
