"""Staff log-in: argon2 hashes, scrypt upgrade, lock-out, rate limits, sessions, password
change, phone link codes. Time is injected; nothing sleeps."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.accounts import (
    LoginAttempt, StaffSession, do_change_password, do_create_link_code, do_link_contact, do_login,
    do_logout, do_unlink_contact, get_session_user,
)
from bot.cases.errors import InvalidInput, LoginRefused
from bot.cases.messages import get_or_create_contact
from bot.cases.org_models import StaffUser
from bot.cases.staff import do_create_staff_user, hash_password, needs_rehash, verify_password
from tests.cases.factories import T0, make_tree

PASSWORD = "correct horse battery"
IP = "203.0.113.5"
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


def scrypt_hash(password: str) -> str:
    """A hash in the format written before argon2 (scrypt, n=2**14, r=8, p=1)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def make_user(session: AsyncSession, *, username: str = "zhang", role: str = "staff") -> StaffUser:
    tree = await make_tree(session)
    return await do_create_staff_user(session, username=username, display_name="张三", org_code=tree.street.code,
                                      role=role, password=PASSWORD)


async def refusal(session: AsyncSession, *, username: str = "zhang", password: str = "wrong password",
                  ip: str = IP, now=T0) -> LoginRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(LoginRefused) as refused:
        await do_login(session, username=username, password=password, ip=ip, now=now)
    return refused.value


async def attempts(session: AsyncSession, **where: object) -> list[bool]:
    stmt = select(LoginAttempt.ok).filter_by(**where).order_by(LoginAttempt.id)
    return list((await session.execute(stmt)).scalars())


def test_passwords_are_hashed_with_argon2_and_weaker_hashes_need_a_rehash() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password("wrong password", stored)
    assert not needs_rehash(stored)
    assert needs_rehash(scrypt_hash(PASSWORD))
    assert needs_rehash(PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD))
    assert not needs_rehash(PasswordHasher(time_cost=4).hash(PASSWORD))  # stronger: kept
    assert not verify_password(PASSWORD, None) and not verify_password(PASSWORD, "scrypt$garbage")
    assert not verify_password(PASSWORD, "$argon2id$not-a-hash")


async def test_a_legacy_scrypt_hash_is_replaced_on_log_in(session: AsyncSession) -> None:
    user = await make_user(session)
    user.password_hash = legacy = scrypt_hash(PASSWORD)
    assert verify_password(PASSWORD, legacy)

    await refusal(session)
    assert user.password_hash == legacy  # a failed log-in changes nothing

    result = await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)
    assert result.user.id == user.id
    assert user.password_hash.startswith("$argon2id$") and verify_password(PASSWORD, user.password_hash)


async def test_log_in_opens_a_session_that_stores_only_the_token_hash(session: AsyncSession) -> None:
    user = await make_user(session)
    result = await do_login(session, username=" zhang ", password=PASSWORD, ip=IP, now=T0)

    row = await session.get_one(StaffSession, result.session_id)
    assert row.token_hash == hashlib.sha256(result.token.encode()).hexdigest() != result.token
    assert row.csrf_token == result.csrf_token and row.kind == "cookie" and row.user_id == user.id
    assert len(result.token) >= 43 and result.token != result.csrf_token
    assert user.last_login_at == T0 and user.failed_logins == 0
    assert await get_session_user(session, token=result.token, now=T0 + MIN) == (row, user)
    assert await attempts(session, username="zhang") == [True]


async def test_unknown_names_wrong_passwords_and_inactive_accounts_get_the_same_answer(session: AsyncSession) -> None:
    user = await make_user(session)
    unknown = await refusal(session, username="nobody", password=PASSWORD)
    wrong = await refusal(session, username="zhang", password="wrong password")
    user.active = False
    inactive = await refusal(session, username="zhang", password=PASSWORD)

    assert unknown.reason == wrong.reason == inactive.reason == "bad_credentials"
    assert str(unknown) == str(wrong) == str(inactive) == "用户名或密码错误"
    assert await attempts(session, ip=IP) == [False, False, False]  # recorded before raising


async def test_five_wrong_passwords_lock_the_account_for_15_minutes(session: AsyncSession) -> None:
    user = await make_user(session)
    for i in range(4):
        assert (await refusal(session, now=T0 + i * MIN)).reason == "bad_credentials"
    fifth = await refusal(session, now=T0 + 4 * MIN)
    assert fifth.reason == "locked" and "锁定" in str(fifth)
    assert user.locked_until == T0 + 19 * MIN

    still = await refusal(session, password=PASSWORD, now=T0 + 10 * MIN)  # the right one, too early
    assert still.reason == "locked" and "9 分钟" in str(still)

    result = await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0 + 19 * MIN)
    assert result.user is user and user.locked_until is None and user.failed_logins == 0


async def test_a_successful_log_in_resets_the_count_of_failures(session: AsyncSession) -> None:
    user = await make_user(session)
    for i in range(4):
        await refusal(session, now=T0 + i * MIN)
    await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0 + 5 * MIN)
    assert user.failed_logins == 0
    assert (await refusal(session, now=T0 + 6 * MIN)).reason == "bad_credentials"
    assert user.failed_logins == 1 and user.locked_until is None


async def test_a_client_address_is_refused_after_20_failures_in_15_minutes(session: AsyncSession) -> None:
    await make_user(session)
    for i in range(20):
        assert (await refusal(session, username=f"guess{i}", now=T0 + i * 10 * timedelta(seconds=1))).reason == "bad_credentials"

    limited = await refusal(session, password=PASSWORD, now=T0 + 5 * MIN)  # even the right password
    assert limited.reason == "rate_limited" and "频繁" in str(limited)
    assert (await do_login(session, username="zhang", password=PASSWORD, ip="198.51.100.7", now=T0 + 5 * MIN)).token
    # once the window has passed the first failures, the address may try again
    assert (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0 + 21 * MIN)).token


async def test_a_username_is_refused_after_10_failures_from_any_addresses(session: AsyncSession) -> None:
    for i in range(10):
        assert (await refusal(session, username="ghost", ip=f"192.0.2.{i}", now=T0 + i * MIN)).reason == "bad_credentials"
    assert (await refusal(session, username="ghost", ip="192.0.2.99", now=T0 + 10 * MIN)).reason == "rate_limited"
    assert (await refusal(session, username="ghost", ip="192.0.2.99", now=T0 + 30 * MIN)).reason == "bad_credentials"


async def test_a_cookie_session_slides_with_use_but_ends_7_days_after_log_in(session: AsyncSession) -> None:
    await make_user(session)
    token = (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)).token

    at = T0
    while at + 10 * H < T0 + timedelta(days=7):
        at += 10 * H  # used every ten hours: never idle for twelve
        found = await get_session_user(session, token=token, now=at)
        assert found is not None and found[0].last_seen_at == at
        assert found[0].expires_at == min(at + 12 * H, T0 + timedelta(days=7))
    assert await get_session_user(session, token=token, now=T0 + timedelta(days=7)) is None


async def test_a_cookie_session_ends_after_12_idle_hours(session: AsyncSession) -> None:
    await make_user(session)
    token = (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)).token
    assert await get_session_user(session, token=token, now=T0 + 11 * H) is not None
    assert await get_session_user(session, token=token, now=T0 + 22 * H) is not None
    assert await get_session_user(session, token=token, now=T0 + 34 * H) is None


async def test_an_api_token_lasts_30_days_and_is_only_good_as_its_kind(session: AsyncSession) -> None:
    await make_user(session)
    token = (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0, kind="api")).token
    assert await get_session_user(session, token=token, now=T0 + timedelta(days=29), kind="api") is not None
    assert await get_session_user(session, token=token, now=T0 + timedelta(days=29), kind="cookie") is None
    assert await get_session_user(session, token=token, now=T0 + timedelta(days=30)) is None
    with pytest.raises(InvalidInput):
        await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0, kind="forever")


async def test_unknown_revoked_and_inactive_sessions_are_refused(session: AsyncSession) -> None:
    user = await make_user(session)
    first = (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)).token
    second = (await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)).token
    assert await get_session_user(session, token="not-a-token", now=T0) is None
    assert await get_session_user(session, token="", now=T0) is None

    await do_logout(session, token=first, now=T0 + MIN)
    assert await get_session_user(session, token=first, now=T0 + 2 * MIN) is None
    assert await get_session_user(session, token=second, now=T0 + 2 * MIN) is not None
    user.active = False
    assert await get_session_user(session, token=second, now=T0 + 3 * MIN) is None


async def test_changing_the_password_ends_every_other_session(session: AsyncSession) -> None:
    user = await make_user(session)
    here = await do_login(session, username="zhang", password=PASSWORD, ip=IP, now=T0)
    elsewhere = await do_login(session, username="zhang", password=PASSWORD, ip="198.51.100.7", now=T0)

    with pytest.raises(InvalidInput, match="原密码不正确"):
        await do_change_password(session, user=user, old_password="wrong password", new_password="another horse battery",
                                 now=T0 + H, keep_session_id=here.session_id)
    with pytest.raises(InvalidInput, match="至少"):
        await do_change_password(session, user=user, old_password=PASSWORD, new_password="short",
                                 now=T0 + H, keep_session_id=here.session_id)
    assert await get_session_user(session, token=elsewhere.token, now=T0 + H) is not None

    await do_change_password(session, user=user, old_password=PASSWORD, new_password="another horse battery",
                             now=T0 + 2 * H, keep_session_id=here.session_id)
    assert user.password_changed_at == T0 + 2 * H
    assert await get_session_user(session, token=here.token, now=T0 + 3 * H) is not None
    assert await get_session_user(session, token=elsewhere.token, now=T0 + 3 * H) is None
    assert (await refusal(session, password=PASSWORD, now=T0 + 3 * H)).reason == "bad_credentials"
    await do_login(session, username="zhang", password="another horse battery", ip=IP, now=T0 + 3 * H)


async def test_a_link_code_links_a_phone_once_within_15_minutes(session: AsyncSession) -> None:
    user = await make_user(session)
    phone = await get_or_create_contact(session, channel="webchat", external_id=f"s-{uuid.uuid4().hex[:8]}")
    code = await do_create_link_code(session, user=user, now=T0)
    assert re.fullmatch(r"GY[0-9]{6}", code)

    assert await do_link_contact(session, code=code.lower().replace("gy", "gy "), contact=phone, now=T0 + 14 * MIN) is user
    assert user.contact_id == phone.id
    assert await do_link_contact(session, code=code, contact=phone, now=T0 + 14 * MIN) is None  # used

    late = await do_create_link_code(session, user=user, now=T0 + H)
    assert await do_link_contact(session, code=late, contact=phone, now=T0 + H + 16 * MIN) is None
    assert await do_link_contact(session, code="GY", contact=phone, now=T0 + H) is None

    await do_unlink_contact(session, user=user)
    assert user.contact_id is None


async def test_a_new_link_code_voids_the_earlier_one(session: AsyncSession) -> None:
    user = await make_user(session)
    phone = await get_or_create_contact(session, channel="webchat", external_id=f"s-{uuid.uuid4().hex[:8]}")
    first = await do_create_link_code(session, user=user, now=T0)
    second = await do_create_link_code(session, user=user, now=T0 + MIN)
    if first != second:  # one chance in a million they are the same six digits
        assert await do_link_contact(session, code=first, contact=phone, now=T0 + 2 * MIN) is None
    assert await do_link_contact(session, code=second, contact=phone, now=T0 + 2 * MIN) is user


async def test_a_phone_belongs_to_one_staff_member_at_most(session: AsyncSession) -> None:
    zhang = await make_user(session)
    li = await do_create_staff_user(session, username="li", display_name="李四", org_code="city", role="staff",
                                    password=PASSWORD)
    phone = await get_or_create_contact(session, channel="webchat", external_id=f"s-{uuid.uuid4().hex[:8]}")
    await do_link_contact(session, code=await do_create_link_code(session, user=zhang, now=T0), contact=phone, now=T0)
    await do_link_contact(session, code=await do_create_link_code(session, user=li, now=T0), contact=phone, now=T0)
    await session.refresh(zhang)
    assert (zhang.contact_id, li.contact_id) == (None, phone.id)
    linked = await session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.contact_id == phone.id))
    assert linked == 1
