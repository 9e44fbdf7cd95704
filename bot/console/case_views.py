"""Console pages of the case queue and the case file: parse, call one domain function,
render. Access is decided in ``bot.cases.access``; every look at a file is logged there."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from bot.cases.case_file import access_evidence_or_raise, do_reveal, get_case_file, org_choices
from bot.cases.errors import DomainError, InvalidInput
from bot.cases.evidence import evidence_path
from bot.cases.models import OPEN_STATUSES, Org
from bot.cases.queue import QueueFilter, list_queue
from bot.cases.staff_actions import do_case_action
from bot.cases.access import do_log_access
from bot.console import words
from bot.console.auth import client_ip, staff_of
from bot.console.export import cases_csv, cases_xlsx
from bot.db import session_scope, utcnow
from bot.gateway import Gateway

SORT_WORDS = {"due": "按时限", "newest": "最新提交", "oldest": "最早提交", "updated": "最近更新", "amount": "按金额"}
EXPORT_LIMIT = 5000


def _flag(query: Any, name: str) -> bool:
    return query.get(name) in ("1", "true", "on", "yes")


def _int(query: Any, name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a number") from exc


def parse_filter(query: Any, *, per_page: int = 25) -> QueueFilter:
    """The queue's filters from a query string (the page's form and ``GET /api/cases``)."""
    return QueueFilter(
        status=query.get("status") or None, category=query.get("category") or None,
        urgent=_flag(query, "urgent"), overdue=_flag(query, "overdue"), collective=_flag(query, "collective"),
        org_id=_int(query, "org"), mine=_flag(query, "mine"), q=query.get("q") or None,
        sort=query.get("sort") or "due", page=_int(query, "page", 1) or 1,
        per_page=_int(query, "per_page", per_page) or per_page,
    )


def _query_without_page(query: Any) -> str:
    return urlencode([(k, v) for k, v in query.items() if k != "page" and v])


class CaseViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _orgs_in_scope(self, session: Any, actor: Any) -> list[Org]:
        return list((await session.execute(select(Org).where(Org.id.in_(actor.org_ids)).order_by(Org.id))).scalars())

    async def queue(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        filters = parse_filter(request.query)
        async with session_scope(self.gateway.sessionmaker) as session:
            page = await list_queue(session, actor=staff.actor, filters=filters, now=utcnow())
            orgs = await self._orgs_in_scope(session, staff.actor)
        return aiohttp_jinja2.render_template("cases.html", request, {
            "section": "cases", "page": page, "f": filters, "orgs": orgs, "query": _query_without_page(request.query),
            "status_words": words.STATUS_WORDS, "category_words": words.CATEGORY_WORDS, "sorts": SORT_WORDS,
            "open_statuses": OPEN_STATUSES,
        })

    async def export(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        fmt = request.match_info["fmt"]
        filters = parse_filter(request.query, per_page=200)
        rows: list[dict[str, Any]] = []
        now = utcnow()
        async with session_scope(self.gateway.sessionmaker) as session:
            page_no = 1
            while len(rows) < EXPORT_LIMIT:
                page = await list_queue(session, actor=staff.actor, now=now, filters=QueueFilter(
                    **{**filters.__dict__, "page": page_no, "per_page": 200}))
                rows += page.cases
                if page_no >= page.pages:
                    break
                page_no += 1
            await do_log_access(session, actor=staff.actor, case_id=None, action="export_cases",
                                detail=f"{fmt} {len(rows)} 件 {_query_without_page(request.query)}"[:500],
                                ip=client_ip(request), now=now)
        stamp = now.strftime("%Y%m%d-%H%M")
        if fmt == "csv":
            body, ctype = cases_csv(rows), "text/csv; charset=utf-8"
        else:
            body = cases_xlsx(rows)
            ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = f"案件-{stamp}.{fmt}"
        return web.Response(body=body, headers={
            "Content-Type": ctype,
            "Content-Disposition": f"attachment; filename=\"cases-{stamp}.{fmt}\"; filename*=UTF-8''{quote(name)}",
        })

    async def _render_case(self, request: web.Request, *, revealed_phone: str | None = None,
                           flash: str | None = None, flash_kind: str = "ok", status: int = 200) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            case = await get_case_file(session, actor=staff.actor, number=request.match_info["number"],
                                       now=utcnow(), ip=client_ip(request))
            all_orgs = await org_choices(session)
        response = aiohttp_jinja2.render_template("case.html", request, {
            "section": "cases", "c": case, "all_orgs": all_orgs, "revealed_phone": revealed_phone,
            "outcome_words": words.OUTCOME_WORDS, "flash": flash or request.query.get("msg"),
            "flash_kind": request.query.get("kind", flash_kind),
        })
        response.set_status(status)
        return response

    async def case(self, request: web.Request) -> web.Response:
        return await self._render_case(request)

    async def action(self, request: web.Request) -> web.Response:
        """A form on the case page: do it and come back to the page (POST → redirect → GET),
        or show the page again with the refusal in words."""
        staff = staff_of(request)
        number = request.match_info["number"]
        form = dict(await request.post())
        form.pop("csrf", None)
        action = str(form.pop("action", ""))
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                await do_case_action(session, actor=staff.actor, number=number, action=action,
                                     fields={k: str(v) for k, v in form.items()}, now=utcnow())
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            return await self._render_case(request, flash=str(exc), flash_kind="error", status=400)
        done = words.ACTION_LABELS.get(action, action)
        raise web.HTTPSeeOther(f"/console/cases/{quote(number)}?{urlencode({'msg': f'已{done}'})}")

    async def reveal(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        form = await request.post()
        async with session_scope(self.gateway.sessionmaker) as session:
            phone = await do_reveal(session, actor=staff.actor, number=request.match_info["number"],
                                    what=str(form.get("what", "")), now=utcnow(), ip=client_ip(request))
        return await self._render_case(request, revealed_phone=phone or "—", flash="已显示电话（已记录）")

    async def save_test(self, request: web.Request) -> web.StreamResponse:
        """"Save as test": the worker's conversation becomes a Rasa test story (downloaded, and
        kept in var/saved-tests/) and their typed messages NLU inbox candidates."""
        from bot.cases.access import access_case_or_raise
        from bot.cases.models import Contact
        from bot.dialogue.rasa_client import RasaError
        from bot.training.saved_tests import do_inbox_candidates, story_from_events

        staff = staff_of(request)
        number = request.match_info["number"]
        async with session_scope(self.gateway.sessionmaker) as session:
            case = await access_case_or_raise(session, actor=staff.actor, number=number)
            sender = (await session.get_one(Contact, case.contact_id)).rasa_sender_id
        try:
            events = await self.gateway.rasa.conversation_events(sender)
        except RasaError as exc:
            return await self._render_case(request, flash=f"读不到这段对话（{exc}）", flash_kind="error", status=502)
        story = story_from_events(events, title=f"{number} 的对话（{staff.actor.display_name} 保存）")
        async with session_scope(self.gateway.sessionmaker) as session:
            added = await do_inbox_candidates(session, sender=sender, events=events)
        folder = self.gateway.settings.var_dir / "saved-tests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{number}.yml").write_text(story, encoding="utf-8")
        return web.Response(body=story.encode("utf-8"), content_type="application/x-yaml", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{number}-test.yml"',
                                     "X-Inbox-Candidates": str(added)})

    async def evidence(self, request: web.Request) -> web.StreamResponse:
        staff = staff_of(request)
        try:
            evidence_id = int(request.match_info["evidence_id"])
        except ValueError as exc:
            raise web.HTTPNotFound() from exc
        async with session_scope(self.gateway.sessionmaker) as session:
            item = await access_evidence_or_raise(session, actor=staff.actor, number=request.match_info["number"],
                                                  evidence_id=evidence_id, now=utcnow(), ip=client_ip(request))
        path = evidence_path(self.gateway.settings.evidence_dir, item.sha256)
        if not path.exists():
            raise web.HTTPGone(text="证据文件不在存储中（请联系管理员）")
        inline = request.query.get("inline") == "1"
        name = item.original_filename or f"evidence-{item.id}"
        disposition = "inline" if inline else "attachment"
        return web.FileResponse(path, headers={
            "Content-Type": item.mime_type or "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename=\"evidence-{item.id}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            # an uploaded file must never run as a page of the console
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
        })
