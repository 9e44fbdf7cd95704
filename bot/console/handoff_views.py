"""The live list of workers waiting for a person, and one conversation: take it, reply (the
worker receives it on their own channel), hand it back to the bot."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.access import Actor, access_handoff_or_raise, do_log_access
from bot.cases.errors import DomainError, InvalidInput
from bot.cases.handoffs import (
    Handoff, conversation, do_close_handoff, do_send_staff_message, do_take_handoff, list_handoffs,
)
from bot.cases.models import Case, Contact
from bot.cases.staff import staff_names
from bot.console.auth import client_ip, staff_of
from bot.db import session_scope, utcnow
from bot.gateway import Gateway


def _item(h: dict[str, Any]) -> dict[str, Any]:
    return {"id": h["id"], "status": h["status"], "overdue": h["overdue"] or h["escalations"] > 0,
            "contact_name": h["contact"], "channel": h["channel"], "case_number": h["number"],
            "reason": h["reason"], "last_text": h["last_text"], "org_name": h["org"],
            "requested_at": h["requested_at"], "taken_by": h["taken_by"], "unread": h["new_messages"]}


async def _messages(session: AsyncSession, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = await staff_names(session, actors=(m["author"] for m in items))
    return [{**m, "key": f"{m['direction']}-{m['id']}", "author_name": names.get(m["author"])} for m in items]


async def handoff_detail(session: AsyncSession, *, actor: Actor, handoff_id: int) -> dict[str, Any]:
    handoff = await access_handoff_or_raise(session, actor=actor, handoff_id=handoff_id)
    contact = await session.get_one(Contact, handoff.contact_id)
    case = await session.get(Case, handoff.case_id) if handoff.case_id else None
    return {"id": handoff.id, "status": handoff.status, "contact_id": contact.id,
            "contact_name": contact.display_name, "channel": contact.channel,
            "case_number": case.number if case else None, "taken_by_id": handoff.taken_by_id,
            "closed_at": handoff.closed_at, "requested_at": handoff.requested_at}


class HandoffViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _list(self, request: web.Request) -> list[dict[str, Any]]:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            return [_item(h) for h in await list_handoffs(session, org_ids=staff.actor.org_ids, now=utcnow())]

    async def index(self, request: web.Request) -> web.Response:
        return aiohttp_jinja2.render_template("handoffs.html", request,
                                              {"section": "handoffs", "handoffs": await self._list(request)})

    async def feed(self, request: web.Request) -> web.Response:
        """The list's items as HTML, for the page's polling (no reload)."""
        return aiohttp_jinja2.render_template("handoff_items.html", request, {"handoffs": await self._list(request)})

    async def _conversation(self, request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            h = await handoff_detail(session, actor=staff.actor, handoff_id=int(request.match_info["handoff_id"]))
            messages = await _messages(session, await conversation(session, contact_id=h["contact_id"]))
        return h, messages

    async def page(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        h, messages = await self._conversation(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            await do_log_access(session, actor=staff.actor, case_id=None, action="view_conversation",
                                detail=f"转人工对话 #{h['id']}", ip=client_ip(request), now=utcnow())
        return aiohttp_jinja2.render_template("handoff.html", request, {
            "section": "handoffs", "h": h, "messages": messages,
            "last_id": messages[-1]["at"].isoformat() if messages else "",
            "flash": request.query.get("msg"), "flash_kind": request.query.get("kind", "ok")})

    async def conversation_feed(self, request: web.Request) -> web.Response:
        """New messages since ``after`` (an ISO time), rendered, for the page's polling."""
        h, messages = await self._conversation(request)
        after = request.query.get("after") or ""
        fresh = [m for m in messages if m["at"].isoformat() > after] if after else messages
        html = aiohttp_jinja2.render_string("chat_items.html", request, {"messages": fresh}) if fresh else ""
        return web.json_response({"html": html, "after": messages[-1]["at"].isoformat() if messages else after,
                                  "status": h["status"]})

    async def _act(self, request: web.Request, work: Any, done: str) -> web.Response:
        handoff_id = int(request.match_info["handoff_id"])
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                handoff = await access_handoff_or_raise(session, actor=staff_of(request).actor,
                                                        handoff_id=handoff_id, for_update=True)
                await work(session, handoff)
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            raise web.HTTPSeeOther(f"/console/handoffs/{handoff_id}?msg={_q(str(exc))}&kind=error") from exc
        raise web.HTTPSeeOther(f"/console/handoffs/{handoff_id}?msg={_q(done)}")

    async def take(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        return await self._act(request, lambda s, h: do_take_handoff(
            s, handoff=h, user_id=actor.user_id, actor=actor.label, now=utcnow()), "已接入对话")

    async def reply(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        text = str((await request.post()).get("text", ""))

        async def work(session: AsyncSession, handoff: Handoff) -> None:
            await send_reply(session, actor=actor, handoff=handoff, text=text)
        return await self._act(request, work, "已发送")

    async def handback(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        contact_id: list[int] = []

        async def work(session: AsyncSession, handoff: Handoff) -> None:
            await do_close_handoff(session, handoff=handoff, actor=actor.label, now=utcnow())
            contact_id.append(handoff.contact_id)
        try:
            return await self._act(request, work, "已交回机器人")
        finally:
            if contact_id:  # committed: the bot says it is back and carries on
                self.gateway.pipeline.schedule_resume(contact_id[0])


async def send_reply(session: AsyncSession, *, actor: Actor, handoff: Handoff, text: str) -> None:
    """A staff member's reply in a handoff: taken by them if it was waiting, then sent.

    Raises:
        InvalidInput: the conversation is back with the bot (a stale page or script).
    """
    if handoff.status == "closed":
        raise InvalidInput("该对话已交回机器人；职工再次转人工后才能回复")
    contact = await session.get_one(Contact, handoff.contact_id)
    await do_send_staff_message(session, contact=contact, text=text, author=actor.label, now=utcnow(),
                                case_id=handoff.case_id, handoff=handoff, user_id=actor.user_id)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text)
