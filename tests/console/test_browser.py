"""The staff console in a real browser, as a union staffer uses it on a phone.

Debian's Chromium driven by Playwright's *async* API: the gateway of the ``console`` fixture
runs in the test's own event loop, so the sync API of tests/e2e (whose stack is another
process) would block the server it talks to. Every test makes its own union bodies, staff
and cases, and waits for conditions (Playwright's ``expect``, :func:`eventually`), never
for fixed times.

Screenshots go to ``var/screenshots/`` from the SQLite run only (the PostgreSQL run checks
the same layout without writing the files twice).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import select

from bot.cases import workflow as wf
from bot.cases.alerts import list_alerts
from bot.cases.handoffs import do_open_handoff, do_send_staff_message
from bot.cases.models import Case, Contact
from bot.cases.org_models import Expert, StaffUser
from bot.cases.review import do_cast_vote_as, do_rate, do_request_review
from bot.db import session_scope, utcnow
from tests.cases.factories import Tree
from tests.console.conftest import PASSWORD, Console

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package; never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SUBRESOURCES = ("stylesheet", "script", "image", "fetch", "xhr")  # the page's own status is the test's business
WAIT_MS = 10_000  # the header polls every 5 s, the handoff list every 3 s, the dispatcher every 0.2 s

# Draws characters in the page's own font and returns each as a PNG data URL. A character
# with no glyph in any installed font is drawn as the same "tofu" box as any other.
GLYPHS_JS = """(chars) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const g = canvas.getContext('2d');
  g.font = getComputedStyle(document.body).font;
  g.textBaseline = 'top';
  return chars.map((ch) => { g.clearRect(0, 0, 48, 48); g.fillText(ch, 4, 4); return canvas.toDataURL(); });
}"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Pages:
    """Browser windows on the console, each its own cookie jar (one staffer each)."""

    def __init__(self, browser: Browser, console: Console) -> None:
        self.browser, self.console = browser, console
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def new(self, viewport: dict[str, int] = PHONE) -> Page:
        # Every log-in comes from 127.0.0.1 and the log-in rate limit counts failures per
        # address across the whole test session; the reverse proxy's X-Real-IP gives each
        # window its own address, as each staffer has in real life.
        address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
        context = await self.browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                                 extra_http_headers={"X-Real-IP": address})
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.request.resource_type in SUBRESOURCES else None)
        return page

    async def logged_in(self, username: str, viewport: dict[str, int] = PHONE) -> Page:
        page = await self.new(viewport)
        await log_in(page, self.console, username)
        await expect(page).to_have_url(re.compile(r"/console/cases$"))
        return page


async def log_in(page: Page, console: Console, username: str, password: str = PASSWORD) -> None:
    await page.goto(console.url + "/console/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(password)
    await page.get_by_role("button", name="登录").click()


@pytest.fixture
async def pages(browser: Browser, console: Console) -> AsyncIterator[Pages]:
    windows = Pages(browser, console)
    yield windows
    for context in windows.contexts:  # before the gateway stops: the pages poll it
        await context.close()
    assert not windows.errors, "errors in the browser:\n" + "\n".join(windows.errors)


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, what: str,
                     timeout: float = WAIT_MS / 1000) -> None:
    """Wait until ``check()`` is true (something done by the dispatcher, not by the page)."""
    deadline = asyncio.get_running_loop().time() + timeout

    async def holds() -> bool:
        result = check()
        return await result if inspect.isawaitable(result) else result
    while not await holds():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


def telegram_texts(console: Console, chat_id: int) -> list[str]:
    """What the bot sent to a worker's Telegram chat."""
    return [m.get("text", "") for m in console.fake.sent_messages(chat_id)]


async def telegram_case(console: Console, tree: Tree, **draft: Any) -> tuple[Case, int]:
    """A case opened by a Telegram worker, and the worker's chat id."""
    chat_id = uuid.uuid4().int % 10**9 + 10**9
    return await console.case(tree, channel="telegram", external_id=str(chat_id), **draft), chat_id


def mark_page(page: Page) -> Awaitable[Any]:
    """A flag in the page's JavaScript state: gone if the page is ever reloaded."""
    return page.evaluate("window.__notReloaded = true")


async def still_same_page(page: Page) -> None:
    assert await page.evaluate("window.__notReloaded === true"), "the page was reloaded"


# -- 1. log-in -------------------------------------------------------------------------------


async def test_a_staffer_logs_in_and_sees_the_cases_of_their_union(console: Console, pages: Pages) -> None:
    tree = await console.tree()
    username = await console.user(tree.pianqu)
    case, _ = await telegram_case(console, tree)

    page = await pages.new()
    await log_in(page, console, username)
    await expect(page).to_have_url(re.compile(r"/console/cases$"))
    await expect(page.locator("ul.cases")).to_contain_text(case.number)
    await expect(page.locator(".org-line")).to_contain_text(tree.pianqu.name)

    wrong = await pages.new()
    await log_in(wrong, console, username, password="not the password")
    await expect(wrong.get_by_role("alert")).to_have_text("用户名或密码错误")
    await expect(wrong).to_have_url(re.compile(r"/console/login"))
    await expect(wrong.get_by_role("heading", name="工会工作台登录")).to_be_visible()
    await expect(wrong.get_by_label("用户名")).to_have_value(username)  # kept, so only the password is retyped


# -- 2. a case from submitted to resolved ----------------------------------------------------------


async def act(page: Page, word: str, fill: Callable[[Any], Awaitable[None]] | None = None) -> None:
    """Open the 办理 action called ``word`` by its summary, fill its form, submit it."""
    action = page.locator("details.action").filter(has=page.locator("summary").get_by_text(word, exact=True))
    await action.locator("summary").click()
    submit = action.get_by_role("button", name=word, exact=True)
    await expect(submit).to_be_visible()
    if fill is not None:
        await fill(action)
    await submit.click()


async def test_a_case_is_worked_from_submitted_to_resolved_and_the_worker_hears_of_it(
    console: Console, pages: Pages
) -> None:
    tree = await console.tree()
    case, chat = await telegram_case(console, tree)
    page = await pages.logged_in(await console.user(tree.pianqu))

    await page.locator("ul.cases a").filter(has_text=case.number).click()
    await expect(page).to_have_url(re.compile(rf"/console/cases/{case.number}$"))
    status = page.locator("h1 .status")
    await expect(status).to_have_text("已提交")

    await act(page, "受理")
    await expect(status).to_have_text("已受理")
    await expect(page.locator(".flash")).to_have_text("已受理")
    await act(page, "开始处理")
    await expect(status).to_have_text("处理中")

    async def outcome(form: Any) -> None:
        await form.get_by_label("处理结果").select_option(label="已部分支付")
        await form.get_by_label("追回金额（元）").fill("3000")
        await form.get_by_label("说明（会告诉职工）").fill("老板已付一半")
    await act(page, "办结", outcome)
    await expect(status).to_have_text("已办结")
    facts = page.locator("section.card").filter(has=page.get_by_role("heading", name="案情"))
    await expect(facts).to_contain_text("已部分支付 · 追回 3,000 元")

    async def worker_told() -> bool:
        texts = telegram_texts(console, chat)
        return (any(case.number in t and "已被工会受理" in t for t in texts)
                and any(case.number in t and "已办结" in t for t in texts))
    await eventually(worker_told, what=f"the worker's Telegram chat told of acceptance and resolution of {case.number}")

    timeline = page.locator("ol.timeline")

    async def delivered_shown() -> bool:
        await page.reload()
        return (await timeline.locator("li.ev-accepted .delivery").inner_text() == "通知职工：已送达"
                and await timeline.locator("li.ev-resolved .delivery").inner_text() == "通知职工：已送达")
    await eventually(delivered_shown, what="the timeline shows 通知职工：已送达 for 受理 and 办结")


# -- 3. a handoff, live ----------------------------------------------------------------------------


async def test_a_handoff_appears_live_is_answered_and_handed_back(console: Console, pages: Pages) -> None:
    tree = await console.tree()
    case, chat = await telegram_case(console, tree)
    page = await pages.logged_in(await console.user(tree.pianqu))
    await page.get_by_role("link", name=re.compile("^转人工")).click()
    await expect(page.locator("#handoff-list")).to_contain_text("现在没有等待的职工")
    await mark_page(page)

    async with session_scope(console.sessionmaker) as s:
        contact = await s.get_one(Contact, case.contact_id)
        await do_open_handoff(s, contact=contact, reason="我想跟工会的人说", now=utcnow())

    item = page.locator("#handoff-list li.handoff")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(item).to_contain_text("我想跟工会的人说")
    await expect(item).to_contain_text("等待接入")
    await expect(item).to_contain_text(case.number)
    await still_same_page(page)

    await item.click()
    await expect(page).to_have_url(re.compile(r"/console/handoffs/\d+$"))
    await page.get_by_role("button", name="接入对话").click()
    await expect(page.locator(".flash")).to_have_text("已接入对话")
    await expect(page.locator("h1")).to_contain_text("对话中")

    reply = f"您好，我是工会的李娜，编号{uuid.uuid4().hex[:4]}，您的事我来跟进。"
    await page.get_by_label("回复").fill(reply)
    await page.get_by_role("button", name="发送").click()
    await expect(page.locator(".flash")).to_have_text("已发送")
    await expect(page.locator("#chat .msg.staff").last).to_contain_text(reply)
    await eventually(lambda: f"工会工作人员：{reply}" in telegram_texts(console, chat),
                     what="the reply reached the worker's Telegram chat")

    await page.get_by_role("button", name="交回机器人").click()
    await expect(page.locator("main")).to_contain_text("已交回机器人")
    await expect(page.get_by_role("button", name="发送")).to_have_count(0)


# -- 4. an alert, live -----------------------------------------------------------------------------


async def test_a_new_case_raises_an_alert_without_reload(console: Console, pages: Pages) -> None:
    tree = await console.tree()
    page = await pages.logged_in(await console.user(tree.pianqu))
    badge, toast = page.locator("#alert-badge"), page.locator("#toast")
    await expect(badge).to_be_hidden()
    await mark_page(page)

    await telegram_case(console, tree)

    await expect(badge).to_be_visible(timeout=WAIT_MS)
    await expect(badge).to_have_text(re.compile(r"^[1-9]\d*$"))
    await expect(toast).to_be_visible()
    await expect(toast).to_have_text(re.compile(r"^新提醒"))
    await still_same_page(page)


# -- 5. every page at phone and desktop width ------------------------------------------------------


async def check_fits_and_reads(page: Page, name: str) -> None:
    """Nothing wider than the screen, and Chinese drawn with real glyphs, not tofu."""
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: page is {widths[0]} px wide on a {widths[1]} px screen"
    cjk = await page.evaluate(GLYPHS_JS, ["工", "会", "案", "件", "\ue000"])
    *glyphs, tofu = cjk
    assert len(set(glyphs)) == len(glyphs) and tofu not in glyphs, f"{name}: Chinese is drawn as tofu boxes"


async def test_screenshots_at_phone_and_desktop_width(console: Console, pages: Pages, database_url: str) -> None:
    tree = await console.tree()
    username = await console.user(tree.pianqu, "org_admin", name="王建国")
    case, chat = await telegram_case(console, tree, amount=12_000, headcount=3, phone="13812345678",
                                     description="老板欠我们三个月工资，一共一万二，说下个月再给，已经拖了好几次。")
    await telegram_case(console, tree, category="injury", employer="义乌市某某服装辅料有限公司第二分厂")
    reviewed, _ = await telegram_case(console, tree, category="overtime", employer="义乌市某某袜业有限公司")
    async with session_scope(console.sessionmaker) as s:
        # a worker unhappy with the result asked three experts to review it; one has voted
        reviewed = await s.get_one(Case, reviewed.id)
        for step in (wf.do_accept, wf.do_start):
            await step(s, case=reviewed, actor=f"staff:{username}", now=utcnow())
        await wf.do_resolve(s, case=reviewed, actor=f"staff:{username}", now=utcnow(), outcome="not_substantiated")
        await do_rate(s, case=reviewed, score=1, comment=None, actor="worker", now=utcnow())
        experts = list((await s.execute(select(Expert.id).order_by(Expert.id).limit(3))).scalars())
        review = await do_request_review(s, case=reviewed, expert_ids=experts, actor="worker", now=utcnow())
        await do_cast_vote_as(s, review_id=review.id, expert_id=experts[1], vote="redo",
                              actor=f"staff:{username}", now=utcnow())
    async with session_scope(console.sessionmaker) as s:
        contact = await s.get_one(Contact, case.contact_id)
        user_id = (await s.execute(select(StaffUser.id).where(StaffUser.username == username))).scalar_one()
        handoff = await do_open_handoff(s, contact=contact, reason="老板说不给就是不给，怎么办？", now=utcnow())
        await do_send_staff_message(s, contact=contact, text="您好，我是工会的王建国，请说说现在的情况。",
                                    author=f"staff:{username}", now=utcnow(), case_id=case.id, handoff=handoff,
                                    user_id=user_id)
    handoff_id = handoff.id

    # the pages show what the dispatcher made of these rows: three alerts, a message 已送达
    async def dispatched() -> bool:
        async with session_scope(console.sessionmaker) as s:
            alerts = await list_alerts(s, org_id=tree.pianqu.id, limit=10)
        return len(alerts) >= 3 and any("王建国" in t for t in telegram_texts(console, chat))
    await eventually(dispatched, what="the dispatcher made the alerts and delivered the staff message")

    save = database_url.startswith("sqlite")
    if save:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [("cases", "/console/cases"), ("case", f"/console/cases/{case.number}"),
             ("handoffs", "/console/handoffs"), ("handoff", f"/console/handoffs/{handoff_id}"),
             ("alerts", "/console/alerts"), ("reviews", "/console/reviews"), ("dashboard", "/console/dashboard"),
             ("account", "/console/account"), ("access-log", "/console/access-log")]
    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        login = await pages.new(viewport)
        await login.goto(console.url + "/console/login")
        await check_layout(login, f"login-{width}", width, save)
        page = await pages.logged_in(username, viewport)
        for name, path in shots:
            await page.goto(console.url + path)
            await expect(page.locator("h1")).to_be_visible()
            await expect(page.locator(".top")).to_contain_text("工友助手")
            await check_layout(page, f"{name}-{width}", width, save)


async def check_layout(page: Page, name: str, width: str, save: bool) -> None:
    if width == "phone":
        await check_fits_and_reads(page, name)
    if save:
        await page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)
