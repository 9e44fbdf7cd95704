"""The JSON API and the console's forms as a union staffer and a script use them."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.cases.access import AccessLogEntry
from bot.cases.handoffs import do_open_handoff
from bot.cases.models import Contact
from bot.db import session_scope, utcnow
from tests.console.conftest import PASSWORD, Console, api_login


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
    return result


def telegram_texts(console: Console, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in console.fake.sent_messages(chat_id)]


async def test_log_in_refuses_wrong_passwords_then_rate_limits(console: Console, http: aiohttp.ClientSession) -> None:
    username = await console.user("city")
    ip = f"10.9.{time.time_ns() % 250}.{time.time_ns() % 251}"

    async def attempt(name: str, address: str) -> tuple[int, dict]:
        async with http.post(console.url + "/api/login", json={"username": name, "password": "x"},
                             headers={"X-Real-IP": address}) as response:
            return response.status, await response.json()

    # one address trying many names: 20 refusals, then it is told to wait
    statuses = [(await attempt(f"nobody-{n}-{username}", ip))[0] for n in range(20)]
    status, body = await attempt(username, ip)
    assert statuses == [401] * 20 and status == 429, statuses
    assert body["error"] == "rate_limited" and "频繁" in body["message"]
    # one name tried from many addresses: 10 refusals, then it is told to wait
    statuses = [(await attempt(f"ghost-{username}", f"10.8.{n}.{n}"))[0] for n in range(11)]
    assert statuses == [401] * 10 + [429], statuses
    async with http.post(console.url + "/api/login", json={"username": username, "password": "wrong password"}) as r:
        assert r.status == 401 and (await r.json())["message"] == "用户名或密码错误"
    async with http.post(console.url + "/api/login", data="not json") as r:
        assert r.status == 400


async def test_a_case_worked_through_the_api_tells_the_worker_each_step(console: Console,
                                                                       http: aiohttp.ClientSession) -> None:
    tree = await console.tree()
    case = await console.case(tree, external_id="700000001" + str(time.time_ns() % 10))
    chat_id = int((await _contact(console, case.contact_id)).external_id)
    api = await api_login(http, console.url, await console.user(tree.street))
    status, refused = await api.call("POST", f"/api/cases/{case.number}/actions", {"action": "resolve",
                                                                                 "outcome": "paid_in_full"})
    assert status == 400 and "当前状态为「已提交」，不能办结" in refused["message"]
    for body in ({"action": "accept", "note": "已受理"}, {"action": "start"},
                 {"action": "message", "text": "请明天上午带上工资条来街道工会。"},
                 {"action": "refer", "agency": "义乌市劳动人事争议仲裁院", "reply_due": "2099-01-05"},
                 {"action": "resume", "note": "仲裁院已答复"},
                 {"action": "resolve", "outcome": "paid_in_part", "amount_recovered": "6,000", "note": "已追回六千"}):
        status, result = await api.call("POST", f"/api/cases/{case.number}/actions", body)
        assert status == 200, (body, result)
    assert result["case"]["status"] == "resolved"
    texts = await eventually(lambda: (t := telegram_texts(console, chat_id)) and len(t) >= 6 and t)
    joined = "\n".join(texts)
    assert "已被工会受理" in joined and "请明天上午带上工资条来街道工会" in joined
    assert "已转交 义乌市劳动人事争议仲裁院" in joined and "2099年1月5日 17:30" in joined  # union time, not ISO UTC
    assert "已办结" in joined
    status, detail = await api.call("GET", f"/api/cases/{case.number}")
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:2] == ["opened", "accepted"] and "worker_messaged" in kinds and detail["amount_recovered"] == 6000


async def test_without_its_csrf_token_a_form_changes_nothing(console: Console, http: aiohttp.ClientSession) -> None:
    tree = await console.tree()
    case = await console.case(tree)
    username = await console.user(tree.pianqu)
    async with http.post(console.url + "/console/login", data={"username": username, "password": PASSWORD}) as r:
        assert r.status == 200
    async with http.post(console.url + f"/console/cases/{case.number}/actions",
                         data={"action": "accept"}, allow_redirects=False) as r:
        assert r.status == 403
    status, detail = await (await api_login(http, console.url, username)).call("GET", f"/api/cases/{case.number}")
    assert detail["status"] == "submitted"


async def test_the_phone_is_masked_until_shown_and_every_look_is_logged(console: Console,
                                                                        http: aiohttp.ClientSession) -> None:
    tree = await console.tree()
    case = await console.case(tree, phone="13812345678")
    staff = await console.user(tree.pianqu, name="王芳")
    async with http.post(console.url + "/console/login", data={"username": staff, "password": PASSWORD,
                                                              "next": f"/console/cases/{case.number}"}) as r:
        page = await r.text()
    assert "138****5678" in page and "13812345678" not in page
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    async with http.post(console.url + f"/console/cases/{case.number}/reveal",
                         data={"csrf": csrf, "what": "phone"}) as r:
        assert "13812345678" in await r.text()
    async with session_scope(console.sessionmaker) as session:
        looks = list((await session.execute(select(AccessLogEntry.action).where(
            AccessLogEntry.case_id == case.id).order_by(AccessLogEntry.id))).scalars())
    assert looks[:2] == ["view_case", "show_phone"]
    admin = await api_login(http, console.url, await console.user(tree.district, "org_admin"))
    async with http.get(console.url + "/console/access-log") as r:
        assert r.status == 403  # plain staff (still the browser's session)
    http.cookie_jar.clear()
    async with http.post(console.url + "/console/login", data={"username": admin.token and (
            await _username_of(console, tree.district.id)), "password": PASSWORD,
            "next": "/console/access-log"}) as r:
        log = await r.text()
    assert "王芳" in log and "查看电话" in log and case.number in log


async def test_a_handoff_answered_through_the_api_reaches_the_worker(console: Console,
                                                                     http: aiohttp.ClientSession) -> None:
    tree = await console.tree()
    case = await console.case(tree)
    async with session_scope(console.sessionmaker) as session:
        contact = await session.get_one(Contact, case.contact_id)
        handoff = await do_open_handoff(session, contact=contact, reason="我要找人", now=utcnow())
        chat_id = int(contact.external_id)
    api = await api_login(http, console.url, await console.user(tree.pianqu))
    status, listing = await api.call("GET", "/api/handoffs")
    assert status == 200 and [h["id"] for h in listing] == [handoff.id] and listing[0]["status"] == "waiting"
    status, _ = await api.call("POST", f"/api/handoffs/{handoff.id}/messages", {"text": "您好，我是片区工会的小王。"})
    assert status == 201
    assert await eventually(lambda: any("我是片区工会的小王" in t for t in telegram_texts(console, chat_id)))
    status, _ = await api.call("POST", f"/api/handoffs/{handoff.id}/handback")
    assert status == 200
    status, refused = await api.call("POST", f"/api/handoffs/{handoff.id}/messages", {"text": "还在吗"})
    assert status == 400 and "交回机器人" in refused["message"]
    async with session_scope(console.sessionmaker) as session:
        assert (await session.get_one(Contact, case.contact_id)).handoff_at is None


async def _contact(console: Console, contact_id: int) -> Contact:
    async with session_scope(console.sessionmaker) as session:
        return await session.get_one(Contact, contact_id)


async def _username_of(console: Console, org_id: int) -> str:
    from bot.cases.org_models import StaffUser

    async with session_scope(console.sessionmaker) as session:
        return (await session.execute(select(StaffUser.username).where(
            StaffUser.org_id == org_id, StaffUser.role == "org_admin"))).scalars().first()
