"""The whole path, for real: `python -m bot stack` starts the gateway, Rasa (trained model)
and the action server; a worker talks through the web chat API; the case lands in the
database. Run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package; never a downloaded browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    process: subprocess.Popen[str]
    env: dict[str, str]
    ports: dict[str, int]
    first_health: tuple[int, dict]
    output: Path

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def say(self, sender: str, text: str | None = None, payload: str | None = None) -> list[dict]:
        body = {"sender": sender, "text": text} if text else {"sender": sender, "payload": payload}
        response = requests.post(f"{self.gateway}/chat/api/messages", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=60, check=True,
        )
        return result.stdout


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("var")
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GATEWAY_PORT": str(ports["gateway"]),
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_PORT": str(ports["actions"]),
        "GONGYOU_VAR_DIR": str(var_dir),
    }
    for name in ("RASA_URL", "ACTION_URL", "RASA_TRACKER_DB"):
        env.pop(name, None)
    output = var_dir / "stack.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "stack"], cwd=ROOT, env=env, text=True,
        stdout=output.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    health_url = f"http://127.0.0.1:{ports['gateway']}/healthz"
    first_health = None
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"stack exited:\n{output.read_text()[-3000:]}"
            try:
                response = requests.get(health_url, timeout=5)
            except requests.ConnectionError:
                time.sleep(0.5)
                continue
            if first_health is None:
                first_health = (response.status_code, response.json())
            if response.status_code == 200:
                break
            time.sleep(1)
        else:
            pytest.fail(f"stack not healthy in 600 s:\n{output.read_text()[-3000:]}")
        yield Stack(process, env, ports, first_health, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C in `make run` sends
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise


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
            for button, expected in (("只有我", "工程项目"), ("不是", "手机号"), ("跳过", "证据"), ("跳过", "12,000元")):
                page.get_by_role("button", name=button).last.click()
                expect(page.locator(".msg.bot").last).to_contain_text(expected, timeout=30_000)
            page.get_by_role("button", name="确认提交").click()
            expect(page.locator(".msg.bot").last).to_contain_text("案件编号 GY-", timeout=30_000)
            # A pressed button row is disabled so the same answer cannot be sent twice.
            expect(page.get_by_role("button", name="确认提交")).to_be_disabled()
        finally:
            browser.close()


def test_ctrl_c_leaves_nothing_listening(stack: Stack) -> None:
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0
    busy = {name: port for name, port in stack.ports.items() if listening(port)}
    assert not busy, f"still listening after Ctrl-C: {busy}"
