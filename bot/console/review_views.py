"""有评判 in the console: the reviews a staffer's bodies (or the committee at the city
federation) follow, and the experts' votes — cast by the expert's own log-in or by staff on
the expert's behalf. The majority decides in the domain (a tie follows the chair)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from bot.cases.access import Actor, access_review_or_raise, expert_id_of
from bot.cases.errors import DomainError, InvalidInput
from bot.cases.review import do_cast_vote_as, list_reviews
from bot.console.auth import staff_of
from bot.db import session_scope, utcnow
from bot.gateway import Gateway

VOTE_WORDS = {"uphold": "维持原处理结果", "redo": "重新处理"}


async def reviews_for(session: Any, actor: Actor) -> tuple[list[dict[str, Any]], int | None]:
    expert = await expert_id_of(session, actor=actor)
    return await list_reviews(session, org_ids=actor.org_ids, member_expert_id=expert), expert


async def cast_vote(session: Any, *, actor: Actor, review_id: int, fields: dict[str, Any]) -> None:
    await access_review_or_raise(session, actor=actor, review_id=review_id)
    try:
        expert_id = int(fields.get("expert_id") or 0)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("expert_id must be the number of a committee member") from exc
    await do_cast_vote_as(session, review_id=review_id, expert_id=expert_id, vote=str(fields.get("vote", "")),
                          actor=actor.label, now=utcnow())


class ReviewViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def index(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        async with session_scope(self.gateway.sessionmaker) as session:
            reviews, expert = await reviews_for(session, actor)
        return aiohttp_jinja2.render_template("reviews.html", request, {
            "section": "reviews", "reviews": reviews, "me_expert": expert, "vote_words": VOTE_WORDS,
            "flash": request.query.get("msg"), "flash_kind": request.query.get("kind", "ok")})

    async def vote(self, request: web.Request) -> web.Response:
        actor = staff_of(request).actor
        fields = dict(await request.post())
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                await cast_vote(session, actor=actor, review_id=int(request.match_info["review_id"]), fields=fields)
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            raise web.HTTPSeeOther(f"/console/reviews?msg={quote(str(exc))}&kind=error") from exc
        raise web.HTTPSeeOther(f"/console/reviews?msg={quote('已记录投票')}")
