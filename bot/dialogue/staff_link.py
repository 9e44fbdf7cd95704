"""A staff member links their own WeChat/Telegram by sending the bot a one-time code
("GY" + six digits, shown in the console), before Rasa: the code means nothing to the
language model, and alerts for their union body then reach this phone too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.accounts import do_link_contact, parse_link_code
from bot.cases.models import Contact, Org
from bot.channels.base import Reply

INVALID = Reply(text="绑定码无效或已过期，请在工作台重新获取。")


async def do_take_link_code(session: AsyncSession, *, contact: Contact, text: str | None, now: datetime) -> Reply | None:
    """The answer to a link code, or None when ``text`` is not one (it goes on as usual)."""
    code = parse_link_code(text or "")
    if code is None:
        return None
    user = await do_link_contact(session, code=code, contact=contact, now=now)
    if user is None:
        return INVALID
    org = await session.get_one(Org, user.org_id)
    return Reply(text=f"已绑定：{user.display_name}（{org.name}）。新案件、转人工、超时等提醒会发到这里。")
