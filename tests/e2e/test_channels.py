"""Workers on WeChat (safe mode) and Telegram, end to end: the real stack (gateway, Rasa,
action server) started with ``FAKE_CHANNELS=1``, so the platforms' servers are the local
fakes of ``python -m bot.fakes`` — the same thing a person gets from `FAKE_CHANNELS=1 make
run`. Callbacks and updates are posted in the platforms' real formats; what the bot sends
is read back from the fakes. On PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.fakes.__main__ import DEV
from bot.fakes.wechat_callbacks import callback_request, image_xml, text_xml
from tests.conftest import free_port
from tests.e2e.conftest import Stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]
PHOTOS = [b"\xff\xd8\xff\xe0 payslip " + bytes([n]) * 300 for n in range(2)]


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ports = {"FAKE_WECHAT_PORT": str(free_port()), "FAKE_TELEGRAM_PORT": str(free_port())}
    saved = {k: os.environ.get(k) for k in (*ports, "FAKE_CHANNELS", "DISPATCH_INTERVAL")}
    os.environ.update(ports, FAKE_CHANNELS="1", DISPATCH_INTERVAL="1")
    try:
        stack = next(gen := start_stack(database_url, tmp_path_factory))
        stack.ports.update(wechat=int(ports["FAKE_WECHAT_PORT"]), telegram=int(ports["FAKE_TELEGRAM_PORT"]))
        yield stack
        next(gen, None)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_for(check, what: str, timeout: float = 30.0, settle: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it finds something, then until that stops growing for ``settle``
    seconds (a turn may arrive as several messages)."""
    deadline = time.monotonic() + timeout
    found, stable_since = None, 0.0
    while time.monotonic() < deadline:
        now_found = check()
        if now_found and now_found == found:
            if time.monotonic() - stable_since >= settle:
                return found
        elif now_found:
            found, stable_since = now_found, time.monotonic()
        time.sleep(0.2)
    if found:
        return found
    raise AssertionError(f"timed out waiting for {what}")


class WeChatWorker:
    """A worker following the account, writing in safe (AES) mode."""

    def __init__(self, stack: Stack, openid: str) -> None:
        self.stack, self.openid, self.msg_id = stack, openid, 7_000_000_000 + int(time.time())
        self.fake = f"http://127.0.0.1:{stack.ports['wechat']}"
        requests.post(f"{self.fake}/_fake/add_follower", json={"openid": openid}, timeout=5).raise_for_status()

    def received(self) -> list[str]:
        messages = requests.get(f"{self.fake}/_fake/messages", timeout=5).json()["messages"]
        return [m["body"]["text"]["content"] for m in messages if m["touser"] == self.openid and m["msgtype"] == "text"]

    def post(self, xml: str) -> requests.Response:
        query, body = callback_request("safe", DEV["WECHAT_TOKEN"], DEV["WECHAT_AES_KEY"], DEV["WECHAT_APP_ID"], xml)
        return requests.post(f"{self.stack.gateway}/wechat", params=query, data=body, timeout=10)

    def deliver(self, xml: str, times: int = 1) -> str:
        """Post a callback (``times`` times, as WeChat retries) and return the bot's answer."""
        before = len(self.received())
        requests.post(f"{self.fake}/_fake/note_inbound", json={"openid": self.openid}, timeout=5).raise_for_status()
        for _ in range(times):
            response = self.post(xml)
            assert response.status_code == 200 and response.text == "success", response.text
        texts = wait_for(lambda: self.received()[before:], "the bot's answer on WeChat")
        return "\n".join(texts)

    def say(self, text: str, times: int = 1) -> str:
        self.msg_id += 1
        return self.deliver(text_xml(self.openid, text, msg_id=self.msg_id), times)

    def photo(self, data: bytes, name: str) -> str:
        media_id = requests.post(f"{self.fake}/_fake/media", params={"kind": "image", "filename": name}, data=data,
                                 headers={"Content-Type": "image/jpeg"}, timeout=5).json()["media_id"]
        self.msg_id += 1
        return self.deliver(image_xml(self.openid, media_id, msg_id=self.msg_id))


def inbound_count(stack: Stack, dedupe_prefix: str) -> int:
    import asyncio

    from sqlalchemy import func, select

    from bot.cases.models import InboundRecord
    from bot.db import create_engine

    async def count() -> int:
        engine = create_engine(stack.env["DATABASE_URL"])
        try:
            async with engine.connect() as connection:
                return (await connection.execute(select(func.count()).select_from(InboundRecord).where(
                    InboundRecord.dedupe_key.like(f"{dedupe_prefix}%")))).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_a_wechat_worker_opens_a_wage_case_with_two_photos_and_hears_of_its_progress(stack: Stack) -> None:
    worker = WeChatWorker(stack, "o-e2e-wage-1")
    assert "在哪里干活" in worker.say("鑫达电子厂欠我三个月工资八千多块")
    assert "1. 只有我" in worker.say("义乌稠江街道")          # buttons as a numbered list
    assert "工程项目" in worker.say("1")                      # answered with a digit
    assert "手机号" in worker.say("2")
    assert "单位工会" in worker.say("跳过")
    evidence = worker.say("2")
    assert "证据" in evidence and "/upload/" in evidence      # documents: a signed upload link
    assert "收到第 1 份证据" in worker.photo(PHOTOS[0], "工资条.jpg")
    assert "收到第 2 份证据" in worker.photo(PHOTOS[1], "欠条.jpg")
    summary = worker.say("发完了")
    assert "证据：已收到 2 份（照片 2）" in summary and "8,000元" in summary

    # WeChat delivers the confirmation three times (its retries): one message, one reply, one case
    existing = {c["number"] for c in json.loads(stack.cli("cases", "list", "--json"))}
    confirmation = worker.say("确认", times=3)
    assert confirmation.count("案件编号") == 1, confirmation
    number = confirmation.split("案件编号 ")[1].split("。")[0]
    assert inbound_count(stack, f"wechat:{worker.msg_id}") == 1
    opened = [c for c in json.loads(stack.cli("cases", "list", "--json")) if c["number"] not in existing]
    assert [(c["number"], c["channel"], c["amount"]) for c in opened] == [(number, "wechat", 8000)]
    timeline = json.loads(stack.cli("cases", "show", number, "--json"))["events"]
    assert [e["note"] for e in timeline if e["kind"] == "evidence_added"] == ["工资条.jpg", "欠条.jpg"]

    # staff accept the case: the worker hears of it on WeChat, and the delivery is on the timeline
    before = len(worker.received())
    stack.cli("cases", "update", number, "--status", "accepted", "--note", "已联系雇主")
    update = wait_for(lambda: worker.received()[before:], "the status update on WeChat")
    assert f"您的案件 {number} 已被工会受理" in update[0]
    timeline = wait_for(lambda: [e for e in json.loads(stack.cli("cases", "show", number, "--json"))["events"]
                                 if e["kind"] == "notification_sent"], "the delivery on the timeline")
    assert timeline[-1]["data"]["channel"] == "wechat"


class TelegramWorker:
    def __init__(self, stack: Stack, user_id: int) -> None:
        self.stack, self.user_id = stack, user_id
        self.fake = f"http://127.0.0.1:{stack.ports['telegram']}"
        self.update_id = 900_000_000 + user_id

    def received(self) -> list[dict]:
        return requests.get(f"{self.fake}/_fake/chats/{self.user_id}/messages", timeout=5).json()

    def deliver(self, update: dict) -> list[dict]:
        before = len(self.received())
        result = requests.post(f"{self.fake}/_fake/updates", json=update, timeout=10).json()
        assert result["webhook_status"] == 200, result
        return wait_for(lambda: self.received()[before:], "the bot's answer on Telegram")

    def say(self, text: str) -> str:
        return "\n".join(m.get("text", "") for m in self.deliver({"kind": "text", "user_id": self.user_id, "text": text}))

    def press(self, title: str) -> str:
        keyboard = [m for m in self.received() if m.get("reply_markup")][-1]["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in keyboard for b in row if b["text"] == title)
        return "\n".join(m.get("text", "") for m in self.deliver(
            {"kind": "callback_query", "user_id": self.user_id, "data": data}))

    def photo(self, data: bytes, name: str) -> str:
        stored = requests.post(f"{self.fake}/_fake/files", params={"file_name": name, "kind": "photo"}, data=data,
                               headers={"Content-Type": "image/jpeg"}, timeout=5).json()
        self.update_id += 1
        user = {"id": self.user_id, "is_bot": False, "first_name": "工友"}
        update = {"update_id": self.update_id, "message": {
            "message_id": self.update_id, "date": int(time.time()), "from": user,
            "chat": {"id": self.user_id, "type": "private", "first_name": "工友"},
            "photo": [{"file_id": stored["file_id"], "file_unique_id": stored["file_unique_id"],
                       "width": 1280, "height": 960, "file_size": len(data)}]}}
        return "\n".join(m.get("text", "") for m in self.deliver(update))


def test_a_telegram_worker_opens_a_wage_case_with_buttons_and_photos_and_hears_of_its_progress(stack: Stack) -> None:
    worker = TelegramWorker(stack, 424242)
    requests.post(f"{worker.fake}/_fake/chats", json={"user_id": worker.user_id}, timeout=5).raise_for_status()
    assert "您好" in "\n".join(m.get("text", "") for m in worker.deliver({"kind": "start", "user_id": worker.user_id}))
    assert "哪家单位" in worker.press("工资被拖欠")               # inline keyboard, short callback id
    assert "在哪里干活" in worker.say("顺丰")
    assert "多少钱" in worker.say("义乌 稠江街道")
    assert "多久" in worker.say("一万二")
    assert "几个人" in worker.say("两个月")
    assert "工程项目" in worker.press("只有我")
    assert "发生了什么" in worker.press("不是")  # the menu button gave no story yet
    assert "手机号" in worker.say("顺丰站点老板说公司没给他结钱 所以一直拖着我们")
    assert "证据" in worker.press("跳过")
    assert "收到第 1 份证据" in worker.photo(PHOTOS[0], "a.jpg")
    assert "收到第 2 份证据" in worker.photo(PHOTOS[1], "b.jpg")
    summary = worker.press("发完了")
    assert "已收到 2 份" in summary
    confirmation = worker.press("确认提交")
    number = confirmation.split("案件编号 ")[1].split("。")[0]
    answered = requests.get(f"{worker.fake}/_fake/callback_queries", timeout=5).json()
    assert len(answered) >= 6  # every press answered

    before = len(worker.received())
    stack.cli("cases", "update", number, "--status", "accepted")
    update = wait_for(lambda: worker.received()[before:], "the status update on Telegram")
    assert f"您的案件 {number} 已被工会受理" in update[0]["text"]


def test_a_person_can_try_wechat_from_the_command_line(stack: Stack) -> None:
    """`python -m bot.fakes wechat-say …` (README): one signed, encrypted callback, the answer printed."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bot.fakes", "--wechat-port", str(stack.ports["wechat"]), "wechat-say", "你好",
         "--openid", "o-e2e-cli", "--gateway", stack.gateway],
        capture_output=True, text=True, timeout=60, env=stack.env, check=True)
    assert "您好" in result.stdout and "工资被拖欠" in result.stdout, result.stdout  # the welcome, buttons numbered


class ConsoleStaff:
    """A union staffer in the console, as the browser uses it: the session cookie, the page's
    CSRF token, and the same feed the handoff page polls (no reload)."""

    def __init__(self, stack: Stack, username: str) -> None:
        self.base, self.http = stack.gateway, requests.Session()
        logins = json.loads((Path(stack.env["GONGYOU_VAR_DIR"]) / "demo-logins.json").read_text())
        page = self.http.post(f"{self.base}/console/login", timeout=10,
                              data={"username": username, "password": logins[username], "next": "/console/handoffs"})
        assert page.status_code == 200 and "转人工" in page.text, page.text[:500]
        self.csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def waiting_handoff_of(self, name_part: str) -> int:
        def find() -> int | None:
            feed = self.http.get(f"{self.base}/console/handoffs/feed", timeout=10).text
            match = re.search(r'data-id="(\d+)"[^>]*>\s*<a href="/console/handoffs/\d+">\s*<div class="row1"><b>'
                              + re.escape(name_part), feed)
            return int(match.group(1)) if match else None
        return wait_for(find, "the handoff in the console's live list", settle=0)

    def post(self, path: str, **fields: str) -> requests.Response:
        response = self.http.post(f"{self.base}{path}", data={"csrf": self.csrf, **fields}, timeout=10)
        assert response.status_code == 200, response.text[:500]
        return response


def test_a_telegram_worker_asks_for_a_person_mid_form_and_the_bot_resumes_after_staff_hand_back(
    stack: Stack,
) -> None:
    transcript: list[str] = []
    worker = TelegramWorker(stack, 515151)
    requests.post(f"{worker.fake}/_fake/chats", json={"user_id": worker.user_id, "first_name": "阿强"},
                  timeout=5).raise_for_status()

    def say(text: str) -> str:
        answer = worker.say(text)
        transcript.extend([f"worker  > {text}", *(f"bot     < {line}" for line in answer.splitlines() if line)])
        return answer

    assert "哪家单位" in say("老板拖欠我两个月工资一万二")
    assert "在哪里干活" in say("顺捷物流")
    handed = say("转人工")
    assert "工作人员" in handed

    printed = stack.output.read_text()  # what `make run` tells a person
    assert f"staff console: {stack.gateway}/console/" in printed and "city.admin" in printed
    staff = ConsoleStaff(stack, "city.admin")
    handoff_id = staff.waiting_handoff_of("阿强")  # the worker, among everyone waiting in the city
    transcript.append(f"console : handoff {handoff_id} appeared in the live list (polled feed, no reload)")
    page = staff.post(f"/console/handoffs/{handoff_id}/take")
    assert "老板拖欠我两个月工资一万二" in page.text  # the conversation so far
    before = len(worker.received())
    staff.post(f"/console/handoffs/{handoff_id}/reply", text="您好，我是工会的李娜。顺捷物流的情况我们了解过，您先把登记做完。")
    reply = wait_for(lambda: worker.received()[before:], "the staff reply on Telegram")
    assert "我是工会的李娜" in reply[0]["text"]
    transcript.append(f"staff   > (console) {reply[0]['text']}")

    before = len(worker.received())
    staff.post(f"/console/handoffs/{handoff_id}/handback")
    resumed = "\n".join(m.get("text", "") for m in wait_for(lambda: worker.received()[before:], "the bot back"))
    transcript.extend(f"bot     < {line}" for line in resumed.splitlines() if line)
    assert "交回给我" in resumed and "在哪里干活" in resumed  # the form goes on where it stopped
    assert "哪家单位" not in resumed
    # amount and months were in the first message: the next open question is how many people
    assert "几个人" in say("义乌 江东街道")
    print("\n" + "\n".join(transcript))
