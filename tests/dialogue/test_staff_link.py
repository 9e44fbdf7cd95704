"""A staff member links their own phone by sending the bot a one-time code."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.accounts import do_create_link_code
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Contact
from bot.cases.org_models import StaffUser
from bot.cases.staff import do_create_staff_user
from bot.dialogue.staff_link import do_take_link_code
from tests.cases.factories import T0, Tree, make_tree

INVALID = "绑定码无效或已过期，请在工作台重新获取。"


async def staff_user(session: AsyncSession, tree: Tree) -> StaffUser:
    return await do_create_staff_user(session, username=f"u-{uuid.uuid4().hex[:8]}", display_name="李丽娟",
                                      org_code=tree.street.code, role="staff", password="long enough password")


async def phone(session: AsyncSession) -> Contact:
    return await get_or_create_contact(session, channel="telegram", external_id=f"tg-{uuid.uuid4().hex[:8]}")


async def test_a_code_links_the_phone_once(session: AsyncSession) -> None:
    tree = await make_tree(session)
    user = await staff_user(session, tree)
    code = await do_create_link_code(session, user=user, now=T0)
    contact = await phone(session)

    reply = await do_take_link_code(session, contact=contact, text=f" {code.lower()} ", now=T0 + timedelta(minutes=1))

    assert reply is not None
    assert reply.text == f"已绑定：李丽娟（{tree.street.name}）。新案件、转人工、超时等提醒会发到这里。"
    assert user.contact_id == contact.id
    again = await do_take_link_code(session, contact=await phone(session), text=code, now=T0 + timedelta(minutes=2))
    assert again is not None and again.text == INVALID
    assert user.contact_id == contact.id  # the second use changed nothing


async def test_an_expired_or_unknown_code_is_refused(session: AsyncSession) -> None:
    user = await staff_user(session, await make_tree(session))
    code = await do_create_link_code(session, user=user, now=T0)
    contact = await phone(session)

    late = await do_take_link_code(session, contact=contact, text=code, now=T0 + timedelta(minutes=16))
    assert late is not None and late.text == INVALID
    assert user.contact_id is None


async def test_other_messages_are_not_codes(session: AsyncSession) -> None:
    contact = await phone(session)
    for text in ("你好", "我的工资还没发", "482913", "GY12345", "2", "", None):
        assert await do_take_link_code(session, contact=contact, text=text, now=T0) is None
