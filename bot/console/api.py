"""The JSON API: the console's actions for scripts and integrators (bearer tokens from
``POST /api/login``). Same domain functions, same access rules, same answers in words."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.cases.access import access_handoff_or_raise
from bot.cases.alerts import list_alerts
from bot.cases.case_file import get_case_file
from bot.cases.errors import InvalidInput
from bot.cases.handoffs import conversation, do_close_handoff, do_take_handoff, list_handoffs
from bot.cases.queries import case_summary
from bot.cases.queue import list_queue
from bot.cases.staff_actions import do_case_action
from bot.cases.stats import compute_dashboard, stats_as_dict
from bot.cases.workflow import get_case_for_update_or_raise
from bot.channels.base import BadRequest
from bot.console.auth import client_ip, login, staff_of
from bot.console.case_views import parse_filter
from bot.console.handoff_views import send_reply
from bot.console.review_views import cast_vote, reviews_for
from bot.db import session_scope, utcnow
from bot.gateway import Gateway

API_PAGE = 200


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


_dumps = functools.partial(json.dumps, ensure_ascii=False, default=_default)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=_dumps)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise BadRequest("send a JSON body with Content-Type: application/json")
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _handoff_id(request: web.Request) -> int:
    try:
        return int(request.match_info["handoff_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc


class Api:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def login(self, request: web.Request) -> web.Response:
        body = await _body(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise BadRequest("username and password are required strings")
        result, refused = await login(request, gateway=self.gateway, kind="api", username=username, password=password)
        if result is None:
            assert refused is not None
            status = 429 if refused.reason == "rate_limited" else 401
            return _json({"error": refused.reason, "message": str(refused)}, status)
        return _json({"token": result.token, "username": result.user.username, "role": result.user.role})

    async def cases(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            page = await list_queue(session, actor=staff.actor, filters=parse_filter(request.query, per_page=API_PAGE),
                                    now=utcnow())
        response = _json(page.cases)
        response.headers["X-Total-Count"] = str(page.total)
        response.headers["X-Page"], response.headers["X-Pages"] = str(page.page), str(page.pages)
        return response

    async def case(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            detail = await get_case_file(session, actor=staff.actor, number=request.match_info["number"],
                                         now=utcnow(), ip=client_ip(request))
        return _json(detail)

    async def case_action(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        body = await _body(request)
        action = body.pop("action", None)
        if not isinstance(action, str):
            raise BadRequest("action is required")
        number = request.match_info["number"]
        async with session_scope(self.gateway.sessionmaker) as session:
            event = await do_case_action(session, actor=staff.actor, number=number, action=action,
                                         fields=body, now=utcnow())
            case = await get_case_for_update_or_raise(session, number=number)
            await session.refresh(case, ["org"])
            result = {"event": {"kind": event.kind, "note": event.note, "actor": event.actor,
                                "created_at": event.created_at}, "case": case_summary(case)}
        return _json(result)

    async def handoffs(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        statuses = ("waiting", "active", "closed") if request.query.get("all") == "1" else ("waiting", "active")
        async with session_scope(self.gateway.sessionmaker) as session:
            rows = await list_handoffs(session, org_ids=staff.actor.org_ids, now=utcnow(), statuses=statuses)
        return _json(rows)

    async def handoff(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            handoff = await access_handoff_or_raise(session, actor=staff.actor, handoff_id=_handoff_id(request))
            messages = await conversation(session, contact_id=handoff.contact_id)
            return _json({"id": handoff.id, "status": handoff.status, "org_id": handoff.org_id,
                          "case_id": handoff.case_id, "messages": messages})

    async def handoff_take(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        async with session_scope(self.gateway.sessionmaker) as session:
            handoff = await access_handoff_or_raise(session, actor=actor, handoff_id=_handoff_id(request),
                                                    for_update=True)
            await do_take_handoff(session, handoff=handoff, user_id=actor.user_id, actor=actor.label, now=utcnow())
            return _json({"id": handoff.id, "status": handoff.status})

    async def handoff_message(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        body = await _body(request)
        if not isinstance(body.get("text"), str):
            raise BadRequest("text is required")
        async with session_scope(self.gateway.sessionmaker) as session:
            handoff = await access_handoff_or_raise(session, actor=actor, handoff_id=_handoff_id(request),
                                                    for_update=True)
            await send_reply(session, actor=actor, handoff=handoff, text=body["text"])
            return _json({"id": handoff.id, "status": handoff.status}, 201)

    async def handoff_handback(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        async with session_scope(self.gateway.sessionmaker) as session:
            handoff = await access_handoff_or_raise(session, actor=actor, handoff_id=_handoff_id(request),
                                                    for_update=True)
            await do_close_handoff(session, handoff=handoff, actor=actor.label, now=utcnow())
            contact_id = handoff.contact_id
        self.gateway.pipeline.schedule_resume(contact_id)
        return _json({"id": _handoff_id(request), "status": "closed"})

    async def reviews(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        async with session_scope(self.gateway.sessionmaker) as session:
            reviews, _ = await reviews_for(session, actor)
        return _json(reviews)

    async def review_vote(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        body = await _body(request)
        review_id = int(request.match_info["review_id"])
        async with session_scope(self.gateway.sessionmaker) as session:
            await cast_vote(session, actor=actor, review_id=review_id, fields=body)
            reviews, _ = await reviews_for(session, actor)
        return _json(next((r for r in reviews if r["id"] == review_id), {"id": review_id}))

    async def stats(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        now = utcnow()
        try:
            days = int(request.query.get("days", "365"))
        except ValueError as exc:
            raise InvalidInput("days must be a number") from exc
        if not 1 <= days <= 3660:
            raise InvalidInput("days must be 1..3660")
        async with session_scope(self.gateway.sessionmaker) as session:
            d = await compute_dashboard(session, org_ids=staff.actor.org_ids, since=now - timedelta(days=days),
                                        until=now, now=now)
        return _json({**stats_as_dict(d.stats), "on_time_rate": d.on_time_rate,
                      "overdue_by_org": d.overdue_by_org,
                      "top_employers": [dataclasses.asdict(e) for e in d.top_employers],
                      "weeks": [{"start": w.start, "by_category": w.by_category} for w in d.weeks]})

    async def alerts(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            rows = await list_alerts(session, org_id=staff.actor.org_id, limit=100)
        return _json([{"id": a.id, "kind": a.kind, "text": a.text, "case_id": a.case_id, "handoff_id": a.handoff_id,
                       "created_at": a.created_at, "unread": a.id > staff.alerts_seen_id} for a in rows])
