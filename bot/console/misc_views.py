"""Log-in and account, the notification centre, the dashboard and the access log."""

from __future__ import annotations

import functools
import json
from datetime import datetime, time, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from bot.cases.access import check_org_in_scope, list_access_log
from bot.cases.accounts import do_change_password, do_create_link_code, do_unlink_contact
from bot.cases.alerts import do_mark_alerts_seen, list_alerts
from bot.cases.deadlines import UNION_TZ
from bot.cases.errors import InvalidInput
from bot.cases.models import Case, Org
from bot.cases.org_models import StaffUser
from bot.cases.stats import compute_dashboard
from bot.console import charts
from bot.console.auth import login, logout, set_session_cookie, staff_of, _safe_next, _same_origin
from bot.console.pages import live_counts
from bot.db import session_scope, utcnow
from bot.gateway import Gateway

DEFAULT_DAYS = 90
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class MiscViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    # -- log-in -------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.Response:
        return aiohttp_jinja2.render_template("login.html", request, {
            "next": _safe_next(request.query.get("next")), "error": None})

    async def login_post(self, request: web.Request) -> web.Response:
        form = await request.post()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        next_url = _safe_next(str(form.get("next", "")))
        if not _same_origin(request):
            return web.Response(status=403, text="跨站登录请求已拒绝")
        result, refused = await login(request, gateway=self.gateway, kind="cookie", username=username,
                                      password=password)
        if result is None:
            response = aiohttp_jinja2.render_template("login.html", request, {
                "next": next_url, "error": str(refused), "username": username})
            response.set_status(429 if refused and refused.reason == "rate_limited" else 401)
            return response
        response = web.HTTPSeeOther(next_url)
        set_session_cookie(response, request, result.token)
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        await logout(request, gateway=self.gateway)
        response = web.HTTPSeeOther("/console/login")
        response.del_cookie("gy_session", path="/")
        raise response

    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/console/cases")

    # -- account ------------------------------------------------------------------------

    async def account(self, request: web.Request, *, code: str | None = None, flash: str | None = None,
                      kind: str = "ok", status: int = 200) -> web.Response:
        response = aiohttp_jinja2.render_template("account.html", request, {
            "section": "account", "code": code, "flash": flash, "flash_kind": kind})
        response.set_status(status)
        return response

    async def account_page(self, request: web.Request) -> web.Response:
        return await self.account(request)

    async def change_password(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        form = await request.post()
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                user = await session.get_one(StaffUser, staff.actor.user_id)
                await do_change_password(session, user=user, old_password=str(form.get("old_password", "")),
                                         new_password=str(form.get("new_password", "")), now=utcnow(),
                                         keep_session_id=staff.session_id)
        except InvalidInput as exc:
            return await self.account(request, flash=str(exc), kind="error", status=400)
        return await self.account(request, flash="密码已修改，其他设备上的登录已退出")

    async def link_code(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            user = await session.get_one(StaffUser, staff.actor.user_id)
            code = await do_create_link_code(session, user=user, now=utcnow())
        return await self.account(request, code=code)

    async def unlink(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            await do_unlink_contact(session, user=await session.get_one(StaffUser, staff.actor.user_id))
        raise web.HTTPSeeOther("/console/account")

    # -- alerts -------------------------------------------------------------------------

    async def alerts(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            rows = await list_alerts(session, org_id=staff.actor.org_id, limit=100)
            numbers = dict((await session.execute(select(Case.id, Case.number).where(
                Case.id.in_([a.case_id for a in rows if a.case_id])))).all())
        alerts = [{"id": a.id, "text": a.text, "created_at": a.created_at, "handoff_id": a.handoff_id,
                   "case_number": numbers.get(a.case_id)} for a in rows]
        return aiohttp_jinja2.render_template("alerts.html", request, {
            "section": "alerts", "alerts": alerts, "seen": staff.alerts_seen_id,
            "newest": alerts[0]["id"] if alerts else 0})

    async def alerts_seen(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        form = await request.post()
        try:
            upto = int(str(form.get("upto", "0")))
        except ValueError as exc:
            raise InvalidInput("upto must be an alert id") from exc
        async with session_scope(self.gateway.sessionmaker) as session:
            await do_mark_alerts_seen(session, user=await session.get_one(StaffUser, staff.actor.user_id),
                                      upto_id=upto)
        raise web.HTTPSeeOther("/console/alerts")

    async def live(self, request: web.Request) -> web.Response:
        """The header's numbers, polled by every page (new alerts appear without reload)."""
        return web.json_response(await live_counts(self.gateway, staff_of(request)),
                                 dumps=_dumps)

    # -- dashboard ----------------------------------------------------------------------

    async def dashboard(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        since_day, until_day = _day(request.query.get("since")), _day(request.query.get("until"))
        now = utcnow()
        until = datetime.combine(until_day + timedelta(days=1), time(0), UNION_TZ) if until_day else now
        since = (datetime.combine(since_day, time(0), UNION_TZ) if since_day
                 else until - timedelta(days=DEFAULT_DAYS))
        if since >= until:
            raise InvalidInput("「从」须早于「到」")
        org_id = int(request.query["org"]) if request.query.get("org", "").isdigit() else None
        async with session_scope(self.gateway.sessionmaker) as session:
            from bot.cases.orgs import subtree_ids

            if org_id is not None:
                check_org_in_scope(staff.actor, org_id)
                scope = await subtree_ids(session, root_id=org_id) & set(staff.actor.org_ids)
                scope_name = (await session.get_one(Org, org_id)).name
            else:
                scope, scope_name = set(staff.actor.org_ids), staff.org_name
            d = await compute_dashboard(session, org_ids=scope, since=since, until=until, now=now)
            orgs = list((await session.execute(select(Org).where(Org.id.in_(staff.actor.org_ids))
                                               .order_by(Org.id))).scalars())
        chart_list = [("每周新案件（按类别）", charts.weekly_by_category_svg(d)),
                      ("受理与办结用时（小时）", charts.durations_svg(d)),
                      ("按时率、成功率、满意率", charts.rates_svg(d)),
                      ("当前超时案件（按工会）", charts.overdue_by_org_svg(d)),
                      ("案件最多的用人单位", charts.top_employers_svg(d))]
        local_until = (until - timedelta(seconds=1)).astimezone(UNION_TZ).date()
        return aiohttp_jinja2.render_template("dashboard.html", request, {
            "section": "dashboard", "d": d, "s": d.stats, "charts": chart_list, "orgs": orgs, "org_id": org_id,
            "scope_name": scope_name, "since": since_day.isoformat() if since_day else "",
            "until": until_day.isoformat() if until_day else "",
            "period_words": f"{since.astimezone(UNION_TZ):%Y-%m-%d} 至 {local_until:%Y-%m-%d}"})

    # -- access log ---------------------------------------------------------------------

    async def access_log(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            entries = await list_access_log(session, actor=staff.actor, limit=300)
        return aiohttp_jinja2.render_template("access_log.html", request, {"section": "access", "entries": entries})


def _day(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInput("日期格式应为 2026-12-01") from exc


