"""Every console page and API route, called as a staff member of a foreign union body,
answers 403/404 for the other body's objects and shows nothing of them in lists; called
with no log-in, it asks for one. A route added without an entry here fails the last test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.cases import workflow as wf
from bot.cases.access import AccessLogEntry
from bot.cases.org_models import Expert
from bot.cases.review import ReviewMember, do_rate, do_request_review
from bot.cases.evidence import do_add_evidence
from bot.cases.handoffs import Handoff, do_open_handoff
from bot.cases.models import Case, Contact
from bot.console.routes import console_routes
from bot.db import session_scope, utcnow
from bot.web.keys import GATEWAY
from tests.console.conftest import PASSWORD, Console, api_login

# How each route must answer a foreign user. "foreign": the path names the victim's object
# → 403/404. "own": the route shows the caller's own data → 2xx/3xx and none of the
# victim's. "public": log-in itself.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/console/login"): "public",
    ("POST", "/console/login"): "public",
    ("POST", "/console/logout"): "own",
    ("GET", "/console"): "own",
    ("GET", "/console/"): "own",
    ("GET", "/console/live"): "own",
    ("GET", "/console/cases"): "own",
    ("GET", "/console/cases/export.{fmt:(csv|xlsx)}"): "own",
    ("GET", "/console/cases/{number}"): "foreign",
    ("POST", "/console/cases/{number}/actions"): "foreign",
    ("POST", "/console/cases/{number}/reveal"): "foreign",
    ("POST", "/console/cases/{number}/save-test"): "foreign",
    ("GET", "/console/cases/{number}/evidence/{evidence_id}"): "foreign",
    ("GET", "/console/handoffs"): "own",
    ("GET", "/console/handoffs/feed"): "own",
    ("GET", "/console/handoffs/{handoff_id:\\d+}"): "foreign",
    ("GET", "/console/handoffs/{handoff_id:\\d+}/feed"): "foreign",
    ("POST", "/console/handoffs/{handoff_id:\\d+}/take"): "foreign",
    ("POST", "/console/handoffs/{handoff_id:\\d+}/reply"): "foreign",
    ("POST", "/console/handoffs/{handoff_id:\\d+}/handback"): "foreign",
    ("GET", "/console/alerts"): "own",
    ("POST", "/console/alerts/seen"): "own",
    ("GET", "/console/reviews"): "own",
    ("POST", "/console/reviews/{review_id:\\d+}/votes"): "foreign",
    ("GET", "/console/dashboard"): "foreign",  # called with ?org=<the victim's body>
    ("GET", "/console/account"): "own",
    ("POST", "/console/account/password"): "own",
    ("POST", "/console/account/link"): "own",
    ("POST", "/console/account/unlink"): "own",
    ("GET", "/console/access-log"): "foreign",  # plain staff: 403
    ("GET", "/console/nlu"): "foreign",  # plain staff: 403 (annotators and system admins only)
    ("POST", "/console/nlu/annotate"): "foreign",
    ("GET", "/console/models"): "foreign",  # system admins only
    ("POST", "/console/models/activate"): "foreign",
    ("POST", "/console/models/rollback"): "foreign",
    ("POST", "/console/models/train"): "foreign",
    ("POST", "/api/login"): "public",
    ("GET", "/api/cases"): "own",
    ("GET", "/api/cases/{number}"): "foreign",
    ("POST", "/api/cases/{number}/actions"): "foreign",
    ("GET", "/api/handoffs"): "own",
    ("GET", "/api/handoffs/{handoff_id:\\d+}"): "foreign",
    ("POST", "/api/handoffs/{handoff_id:\\d+}/take"): "foreign",
    ("POST", "/api/handoffs/{handoff_id:\\d+}/messages"): "foreign",
    ("POST", "/api/handoffs/{handoff_id:\\d+}/handback"): "foreign",
    ("GET", "/api/reviews"): "own",
    ("POST", "/api/reviews/{review_id:\\d+}/votes"): "foreign",
    ("GET", "/api/stats"): "own",
    ("GET", "/api/alerts"): "own",
}


@dataclass
class Victim:
    number: str
    evidence_id: int
    handoff_id: int
    org_id: int
    case_id: int
    review_id: int
    review_case: str
    expert_id: int


async def victim(console: Console) -> Victim:
    tree = await console.tree()
    case = await console.case(tree, phone="13812345678", employer="受害者专用测试厂")
    second = await console.case(tree)
    evidence_dir = console.app[GATEWAY].settings.evidence_dir
    async with session_scope(console.sessionmaker) as session:
        case = await session.get_one(Case, case.id)
        item = await do_add_evidence(session, evidence_dir=evidence_dir, contact_id=case.contact_id,
                                     data=b"\x89PNG payslip", kind="photo", source="test", case=case,
                                     original_filename="工资条.png", mime_type="image/png")
        handoff = await do_open_handoff(session, contact=await session.get_one(Contact, case.contact_id),
                                        reason="受害者的话", now=utcnow())
        # a second case of the victim's body, resolved, rated 2 and under expert review
        reviewed = await session.get_one(Case, second.id)
        now = utcnow()
        for step in (wf.do_accept, wf.do_start):
            await step(session, case=reviewed, actor="staff:x", now=now)
        await wf.do_resolve(session, case=reviewed, actor="staff:x", now=now, outcome="not_substantiated")
        await do_rate(session, case=reviewed, score=2, comment=None, actor="worker", now=now)
        experts = list((await session.execute(select(Expert.id).order_by(Expert.id).limit(2))).scalars())
        review = await do_request_review(session, case=reviewed, expert_ids=experts, actor="worker", now=now)
        return Victim(case.number, item.id, handoff.id, case.org_id, case.id, review.id, reviewed.number,
                      experts[0])


def concrete(path: str, v: Victim, method: str) -> str:
    path = (path.replace("{number}", v.number).replace("{evidence_id}", str(v.evidence_id))
            .replace("{handoff_id:\\d+}", str(v.handoff_id)).replace("{fmt:(csv|xlsx)}", "csv")
            .replace("{review_id:\\d+}", str(v.review_id)))
    if path == "/console/dashboard":
        path += f"?org={v.org_id}"
    return path


FORMS: dict[str, dict[str, str]] = {
    "/actions": {"action": "accept", "note": "越权受理"},
    "/reveal": {"what": "phone"},
    "/reply": {"text": "越权回复"},
    "/password": {"old_password": "wrong-wrong-wrong", "new_password": "another long pass"},
    "/seen": {"upto": "0"},
}
JSON_BODIES: dict[str, dict[str, Any]] = {
    "/actions": {"action": "accept"},
    "/messages": {"text": "越权回复"},
    "/api/login": {"username": "nobody", "password": "wrong"},
}


async def login_browser(http: aiohttp.ClientSession, base: str, username: str) -> str:
    """Log in through the form; returns the session's CSRF token (read off a page)."""
    async with http.post(base + "/console/login", data={"username": username, "password": PASSWORD,
                                                        "next": "/console/account"}) as response:
        assert response.status == 200, await response.text()
        page = await response.text()
    return re.search(r'data-csrf="([^"]+)"', page).group(1)  # type: ignore[union-attr]


async def call(http: aiohttp.ClientSession, base: str, method: str, path: str, *, csrf: str,
               token: str, expert_id: int = 0) -> tuple[int, str]:
    FORMS["/votes"] = JSON_BODIES["/votes"] = {"expert_id": str(expert_id), "vote": "redo"}
    suffix = next((s for s in FORMS if path.endswith(s)), None)
    if path.startswith("/api/"):
        body = next((b for s, b in JSON_BODIES.items() if path.endswith(s)), {})
        headers = {"Authorization": f"Bearer {token}"}
        async with http.request(method, base + path, json=body if method == "POST" else None, headers=headers,
                                allow_redirects=False) as response:
            return response.status, await response.text()
    data = {**(FORMS.get(suffix, {}) if suffix else {}), "csrf": csrf} if method == "POST" else None
    async with http.request(method, base + path, data=data, allow_redirects=False) as response:
        return response.status, await response.text(errors="replace")


async def test_a_foreign_union_sees_and_touches_nothing_of_another(console: Console) -> None:
    v = await victim(console)
    own_tree = await console.tree()
    own_case = await console.case(own_tree)
    username = await console.user(own_tree.street, "staff")
    checked: list[str] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_browser(http, console.url, username)
        token = (await api_login(http, console.url, username)).token
        routes = sorted(console_routes(console.app[GATEWAY]), key=lambda r: r.path == "/console/logout")
        for route in routes:
            kind = EXPECTED[(route.method, route.path)]
            if kind == "public":
                continue
            path = concrete(route.path, v, route.method)
            status, body = await call(http, console.url, route.method, path, csrf=csrf, token=token,
                                      expert_id=v.expert_id)
            label = f"{route.method} {path} → {status}"
            if kind == "foreign":
                assert status in (403, 404), label
            else:
                assert status < 400 or (route.path.endswith("/password") and status == 400), label
            # a refusal may echo what the caller asked for, exactly as for a case that does not exist
            secrets = ("受害者的话", "受害者专用测试厂", "13812345678", "工资条", f"/handoffs/{v.handoff_id}\"",
                       v.review_case)
            for secret in secrets if kind == "foreign" else (v.number, *secrets):
                assert secret not in body, f"{label} shows {secret!r}"
            checked.append(label)
        status, stats = await call(http, console.url, "GET", "/api/stats", csrf=csrf, token=token)
        assert '"total": 1' in stats.replace(", ", ", ") or '"total":1' in stats, stats[:300]
    async with session_scope(console.sessionmaker) as session:
        case = await session.get_one(Case, v.case_id)
        handoff = await session.get_one(Handoff, v.handoff_id)
        looks = (await session.execute(select(func.count(AccessLogEntry.id)).where(
            AccessLogEntry.case_id == v.case_id))).scalar_one()
        assert (case.status, handoff.status, looks) == ("submitted", "waiting", 0)
        votes = (await session.execute(select(func.count(ReviewMember.id)).where(
            ReviewMember.review_id == v.review_id, ReviewMember.vote.is_not(None)))).scalar_one()
        assert votes == 0
        assert (await session.get_one(Case, own_case.id)).status == "submitted"
    print(f"\n{len(checked)} routes checked as a foreign union's staff member:\n  " + "\n  ".join(checked))
    assert len(checked) == len([k for k in EXPECTED.values() if k != "public"])


async def test_without_a_log_in_every_route_asks_for_one(console: Console) -> None:
    v = await victim(console)
    async with aiohttp.ClientSession() as http:
        for route in console_routes(console.app[GATEWAY]):
            if EXPECTED[(route.method, route.path)] == "public":
                continue
            path = concrete(route.path, v, route.method)
            async with http.request(route.method, console.url + path, allow_redirects=False) as response:
                if path.startswith("/api/"):
                    assert response.status == 401, path
                else:
                    assert response.status == 303 and "/console/login" in response.headers["Location"], path


async def test_every_console_and_api_route_is_in_the_access_list(console: Console) -> None:
    served = {(r.method, r.resource.canonical) for r in console.app.router.routes()
              if r.method != "HEAD" and r.resource is not None
              and (r.resource.canonical.startswith(("/console", "/api")))
              and not r.resource.canonical.startswith("/console/static")}
    listed = {(m, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", p)) for m, p in EXPECTED}
    assert served == listed, f"not in EXPECTED: {served - listed}; gone: {listed - served}"
    assert {(r.method, r.path) for r in console_routes(console.app[GATEWAY])} == set(EXPECTED)
