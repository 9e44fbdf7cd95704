"""The whole path, for real: `python -m bot stack` starts the gateway, Rasa (trained model)
and the action server; a worker talks through the web chat API; the case lands in the
database. Run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Stack, listening

pytestmark = pytest.mark.e2e
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF payslip photo"
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package; never a downloaded browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_healthz_says_rasa_is_loading_before_it_is_up(stack: Stack) -> None:
    status, body = stack.first_health
    assert status == 503
    assert "rasa" in body["reason"]
    assert requests.get(f"{stack.gateway}/healthz", timeout=5).status_code == 200


def talk(stack: Stack, sender: str, script: list[tuple[str, str]]) -> list[dict]:
    """Say each line and check the bot's answer contains the expected words."""
    replies: list[dict] = []
    for said, expected in script:
        replies = stack.say(sender, said)
        text = " ".join(r.get("text", "") for r in replies)
        assert expected in text, f"after {said!r} expected {expected!r}, got: {text}"
    return replies


def test_a_worker_opens_a_wage_case_through_the_web_chat(stack: Stack) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    replies = talk(stack, sender, [
        ("老板欠我三个月工资一共八千多块", "哪家单位"),  # amount and period understood: not asked
        ("义乌鑫达电子厂", "在哪里干活"),
        ("义乌稠江街道", "几个人"),
        ("只有我", "工程项目"),
        ("不是", "手机号"),
        ("跳过", "单位工会"),  # 鑫达 has a company union: the worker decides whether it is told
        ("不要告诉单位", "证据"),
        ("跳过", "请核对"),
    ])
    summary = replies[-1]
    assert "义乌鑫达电子厂" in summary["text"] and "8,000元" in summary["text"]
    assert {"title": "确认提交", "payload": "/affirm"} in summary["buttons"]

    confirmation = " ".join(r.get("text", "") for r in stack.say(sender, "确认"))
    assert "案件编号 GY-" in confirmation, confirmation
    number = confirmation.split("案件编号 ")[1].split("。")[0]

    cases = {c["number"]: c for c in json.loads(stack.cli("cases", "list", "--json"))}
    case = cases[number]
    assert case["category"] == "unpaid_wages"
    assert case["amount"] == 8000
    assert case["employer"] == "义乌鑫达电子厂"
    assert case["location"] == "义乌稠江街道"
    assert case["channel"] == "webchat"
    detail = json.loads(stack.cli("cases", "show", number, "--json"))
    assert detail["description"] == "老板欠我三个月工资一共八千多块"
    assert detail["consent_company_union"] is False and detail["org"] != "义乌市鑫达电子有限公司工会"

    # Rasa knows the conversation under the channel-qualified sender id.
    tracker = requests.get(
        f"http://127.0.0.1:{stack.ports['rasa']}/conversations/webchat:{sender}/tracker", timeout=10
    ).json()
    assert any(e.get("text") == "确认" for e in tracker["events"] if e["event"] == "user")


def test_a_person_can_type_and_click_through_the_chat_page(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{stack.gateway}/chat")
            for text, expected in (
                ("工资拖了两个月没给 一共一万二", "哪家单位"),
                ("顺丰", "在哪里干活"),
                ("义乌 稠江街道", "几个人"),
            ):
                page.fill("#text", text)
                page.keyboard.press("Enter")
                expect(page.locator(".msg.bot").last).to_contain_text(expected, timeout=30_000)
            for button, expected in (("只有我", "工程项目"), ("不是", "手机号"), ("跳过", "证据")):
                page.get_by_role("button", name=button).last.click()
                expect(page.locator(".msg.bot").last).to_contain_text(expected, timeout=30_000)
            # a photo of the payslip, picked with 📎 as on a phone
            page.set_input_files("#file", files=[{"name": "工资条.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}])
            expect(page.locator(".msg.bot").filter(has_text="收到第 1 份证据")).to_have_count(1, timeout=30_000)
            page.get_by_role("button", name="发完了").last.click()
            expect(page.locator(".msg.bot").last).to_contain_text("证据：已收到 1 份（照片 1）", timeout=30_000)
            expect(page.locator(".msg.bot").last).to_contain_text("12,000元")
            page.get_by_role("button", name="确认提交").click()
            expect(page.locator(".msg.bot").last).to_contain_text("案件编号 GY-", timeout=30_000)
            number = page.locator(".msg.bot").last.inner_text().split("案件编号 ")[1].split("。")[0]
            # A pressed button row is disabled so the same answer cannot be sent twice.
            expect(page.get_by_role("button", name="确认提交")).to_be_disabled()
        finally:
            browser.close()
    # the photo is on the case, stored under EVIDENCE_DIR by its hash
    timeline = json.loads(stack.cli("cases", "show", number, "--json"))["events"]
    added = [e for e in timeline if e["kind"] == "evidence_added"]
    assert [e["note"] for e in added] == ["工资条.jpg"]
    digest = added[0]["data"]["sha256"]
    assert (Path(stack.env["GONGYOU_VAR_DIR"]) / "evidence" / digest[:2] / digest[2:4] / digest).read_bytes() == PHOTO


def test_ctrl_c_leaves_nothing_listening(stack: Stack) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0
    busy = {name: port for name, port in stack.ports.items() if listening(port)}
    assert not busy, f"still listening after Ctrl-C: {busy}"
