"""The Telegram channel end to end over real HTTP: the real gateway on one port, the fake
Bot API (bot.fakes.telegram) on another, Rasa on a closed port — so every message gets the
pipeline's "saved, will answer" reply, which proves the way back to the worker."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import json
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy import update as update_rows
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.evidence import EvidenceItem, evidence_path
from bot.cases.models import Contact, InboundRecord
from bot.channels.base import Button, ChannelError, InboundMessage, Reply, Target
from bot.channels.telegram import (
    EXPIRED_BUTTON,
    TelegramChannel,
    poll_updates,
    split_text,
)
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.dialogue.pipeline import SAVED_FOR_LATER
from bot.fakes.telegram import (
    FakeTelegram,
    TelegramUser,
    UpdateBuilder,
    running_fake_telegram,
    webhook_request,
)
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.keys import GATEWAY
from tests.conftest import free_port

TOKEN = "123456:AAHfakeTokenForGongyouTests"
SECRET = "gongyou-test_secret"
WEBHOOK = "/telegram/webhook"
SAVED = SAVED_FOR_LATER.text
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    url: str
    app: web.Application
    fake: FakeTelegram
    updates: UpdateBuilder
    http: aiohttp.ClientSession
    evidence_dir: Any

    @property
    def channel(self) -> TelegramChannel:
        return self.app[GATEWAY].telegram

    async def post(self, update: dict[str, Any], *, secret: str | None = SECRET) -> tuple[int, dict[str, Any]]:
        headers, body = webhook_request(update, secret)
        async with self.http.post(self.url + WEBHOOK, data=body, headers=headers) as response:
            return response.status, await response.json()

    async def settle(self) -> None:
        """Let the scheduled turns and the adapter's own sends finish."""
        await self.app[GATEWAY].pipeline.drain()
        await eventually(lambda: not self.channel._tasks)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return result


def new_worker() -> TelegramUser:
    return TelegramUser(random.randrange(10**8, 10**9), "阿明")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with running_fake_telegram(TOKEN) as server:
        yield server


@pytest.fixture
async def gateway(database_url: str, tmp_path, fake: FakeTelegram) -> AsyncIterator[Gateway]:
    async for running in serve_gateway(database_url, tmp_path, fake, rasa_url=f"http://127.0.0.1:{free_port()}"):
        yield running


async def serve_gateway(database_url: str, tmp_path, fake: FakeTelegram, *, rasa_url: str) -> AsyncIterator[Gateway]:
    """The gateway with the Telegram channel on a real port, talking to the fake Bot API (and
    to ``rasa_url``: a closed port is Rasa down)."""
    port = free_port()
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_PORT": str(port),
            "RASA_URL": rasa_url,
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_SECRET_TOKEN": SECRET,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "BACKGROUND_JOBS": "0",
            # these tests post far faster than a person; the limits have their own tests
            "RATE_UPLOAD_IP": "100000/10000", "RATE_SENDER": "100000/10000",
        },
        dotenv=tmp_path / "none.env",
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # update ids unique across tests: the database lives for the whole session
    updates = UpdateBuilder(fake, first_update_id=random.randrange(10**9, 2 * 10**9))
    async with aiohttp.ClientSession() as http:
        yield Gateway(f"http://127.0.0.1:{port}", app, fake, updates, http, settings.evidence_dir)
    await runner.cleanup()


async def inbound_rows(engine: AsyncEngine, dedupe_key: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(
            select(InboundRecord).where(InboundRecord.dedupe_key == dedupe_key))).all())


async def contact_of(engine: AsyncEngine, user: TelegramUser) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(select(Contact).where(
            Contact.channel == "telegram", Contact.external_id == str(user.id)))).one_or_none()


def texts(fake: FakeTelegram, user: TelegramUser) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.sent_messages(user.id)]


# --- the webhook's gate -----------------------------------------------------------------------

@pytest.mark.parametrize("secret", [None, "wrong-secret", SECRET + "x"])
async def test_a_call_without_the_secret_is_refused_and_nothing_is_stored(
    gateway: Gateway, engine: AsyncEngine, secret: str | None
) -> None:
    worker = new_worker()
    update = gateway.updates.text(worker, "老板欠我工资")
    status, _ = await gateway.post(update, secret=secret)
    assert status == 403
    await gateway.settle()
    assert await inbound_rows(engine, f"telegram:{update['update_id']}") == []
    assert gateway.fake.sent_messages(worker.id) == []


@pytest.mark.parametrize("body, complaint", [
    (b"{not json", "not valid JSON"),
    (b'["an", "array"]', "update_id"),
    (b'{"update_id": "7"}', "update_id"),
    (b'{"update_id": 7, "message": {"text": "no chat"}}', "not a Telegram Update"),
])
async def test_a_malformed_body_gets_a_clear_400_and_stores_nothing(
    gateway: Gateway, engine: AsyncEngine, body: bytes, complaint: str
) -> None:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with gateway.http.post(gateway.url + WEBHOOK, data=body, headers=headers) as response:
        assert response.status == 400
        answer = await response.json()
    assert complaint in answer["message"]
    assert await inbound_rows(engine, "telegram:7") == []


# --- messages in, replies out ----------------------------------------------------------------

async def test_a_repeated_update_is_stored_once_and_answered_once(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    update = gateway.updates.text(worker, "老板欠我三个月工资")
    for _ in range(3):
        status, _ = await gateway.post(update)
        assert status == 200
    await gateway.settle()
    rows = await inbound_rows(engine, f"telegram:{update['update_id']}")
    assert [(r.text, r.status) for r in rows] == [("老板欠我三个月工资", "pending_retry")]
    assert texts(gateway.fake, worker) == [SAVED]


async def test_start_with_a_deep_link_greets_and_records_the_chat(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    update = gateway.updates.start(worker, "case-GY-2026-000123")
    assert (await gateway.post(update))[0] == 200
    await gateway.settle()
    [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
    assert (row.text, row.payload, row.meta["start_payload"]) == ("/start", "/greet", "case-GY-2026-000123")
    contact = await contact_of(engine, worker)
    assert contact.channel_state["chat_id"] == worker.id
    assert contact.display_name == "阿明"
    assert texts(gateway.fake, worker) == [SAVED]


async def test_another_command_is_read_as_words_not_as_an_intent(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    update = gateway.updates.text(worker, "/转人工")
    await gateway.post(update)
    await gateway.settle()
    [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
    assert (row.text, row.payload) == ("转人工", None)


async def test_an_unsupported_message_gets_a_friendly_reply_and_nothing_is_stored(
    gateway: Gateway, engine: AsyncEngine
) -> None:
    worker = new_worker()
    update = gateway.updates.text(worker, "placeholder")
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 30.27, "longitude": 120.15}
    assert (await gateway.post(update))[0] == 200
    await gateway.settle()
    assert await inbound_rows(engine, f"telegram:{update['update_id']}") == []
    [reply] = texts(gateway.fake, worker)
    assert "文字" in reply


async def test_an_edited_message_is_acknowledged_and_ignored(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    update = gateway.updates.text(worker, "改过的话")
    update["edited_message"] = dict(update.pop("message"), edit_date=int(time.time()))
    assert (await gateway.post(update))[0] == 200
    await gateway.settle()
    assert await inbound_rows(engine, f"telegram:{update['update_id']}") == []
    assert gateway.fake.sent_messages(worker.id) == []


# --- files --------------------------------------------------------------------------------------

async def test_a_photo_is_downloaded_in_its_largest_size_into_evidence(
    gateway: Gateway, engine: AsyncEngine
) -> None:
    worker = new_worker()
    full = b"\xff\xd8\xff\xe0 full-size payslip photo " + random.randbytes(64)
    update = gateway.updates.photo(worker, full, caption="这是工资条")
    *thumbnails, largest = update["message"]["photo"]
    for size in thumbnails:  # the smaller sizes are other (smaller) files, as on Telegram
        stored = gateway.fake.files[size["file_id"]]
        gateway.fake.files[size["file_id"]] = dataclasses.replace(stored, content=b"\xff\xd8 thumb")
    assert (await gateway.post(update))[0] == 200
    await gateway.settle()

    [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
    assert (row.text, row.kind) == ("这是工资条", "photo")
    [attachment] = row.meta["attachments"]
    async with engine.connect() as connection:
        item = (await connection.execute(select(EvidenceItem).where(EvidenceItem.id == attachment["id"]))).one()
    assert (item.kind, item.size, item.sha256, item.mime_type) == (
        "photo", len(full), hashlib.sha256(full).hexdigest(), "image/jpeg")
    assert evidence_path(gateway.evidence_dir, item.sha256).read_bytes() == full
    fetched = [params["file_id"] for method, params in gateway.fake.calls if method == "getFile"]
    assert fetched == [largest["file_id"]]
    assert texts(gateway.fake, worker) == [SAVED]


@pytest.mark.parametrize("kind, build, mime, name", [
    ("document", lambda u, w: u.document(w, b"%PDF-1.4 contract", file_name="劳动合同.pdf"), "application/pdf",
     "劳动合同.pdf"),
    ("audio", lambda u, w: u.voice(w, b"OggS the boss said he will pay next month"), "audio/ogg", "file_"),
    ("video", lambda u, w: u.video(w, b"\x00\x00\x00\x18ftypmp42 site injury"), "video/mp4", "file_"),
])
async def test_documents_voice_and_video_become_evidence_of_their_kind(
    gateway: Gateway, engine: AsyncEngine, kind: str, build: Callable, mime: str, name: str
) -> None:
    worker = new_worker()
    update = build(gateway.updates, worker)
    await gateway.post(update)
    await gateway.settle()
    [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
    [attachment] = row.meta["attachments"]
    async with engine.connect() as connection:
        item = (await connection.execute(select(EvidenceItem).where(EvidenceItem.id == attachment["id"]))).one()
    assert (item.kind, item.mime_type) == (kind, mime)
    assert item.original_filename.startswith(name)


async def test_a_file_over_20_mb_is_refused_with_an_explanation(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    update = gateway.updates.document(worker, b"%PDF small")
    update["message"]["document"]["file_size"] = 25 * 1024 * 1024
    await gateway.post(update)
    await gateway.settle()
    assert await inbound_rows(engine, f"telegram:{update['update_id']}") == []
    [reply] = texts(gateway.fake, worker)
    assert "20 MB" in reply


# --- buttons ------------------------------------------------------------------------------------

async def started(gateway: Gateway, engine: AsyncEngine, worker: TelegramUser) -> Target:
    await gateway.post(gateway.updates.start(worker))
    await gateway.settle()
    contact = await contact_of(engine, worker)
    return Target(contact.id, contact.external_id)


async def test_a_button_press_carries_the_rasa_payload_and_is_answered(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    long_payload = '/inform{"employer": "杭州某某建筑劳务有限公司第三项目部", "topic": "unpaid_wages"}'
    await gateway.channel.send(target, [Reply(text="欠薪的单位是这家吗？", buttons=(
        Button("是的", long_payload), Button("不是", "/deny")))])
    question = gateway.fake.sent_messages(worker.id)[-1]
    buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["是的", "不是"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

    press = gateway.updates.callback_query(worker, buttons[0]["callback_data"], message=question)
    assert (await gateway.post(press))[0] == 200
    await gateway.settle()
    answered = await eventually(lambda: gateway.fake.answered_callback_queries)
    assert [a["id"] for a in answered] == [press["callback_query"]["id"]]
    [row] = await inbound_rows(engine, f"telegram:{press['update_id']}")
    assert (row.kind, row.text, row.payload) == ("button", "是的", long_payload)
    assert texts(gateway.fake, worker)[-1] == SAVED


async def test_a_press_on_a_forgotten_button_is_answered_with_a_hint(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    await started(gateway, engine, worker)
    press = gateway.updates.callback_query(worker, "b:999999")
    assert (await gateway.post(press))[0] == 200
    answered = await eventually(lambda: gateway.fake.answered_callback_queries)
    assert [(a["id"], a.get("text")) for a in answered] == [(press["callback_query"]["id"], EXPIRED_BUTTON)]
    assert await inbound_rows(engine, f"telegram:{press['update_id']}") == []


async def test_button_ids_stay_bounded_and_a_payload_keeps_its_id(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    many = tuple(Button(f"选项{n}", f"/inform{{\"n\": {n}}}") for n in range(60))
    await gateway.channel.send(target, [Reply(text="请选", buttons=many)])
    await gateway.channel.send(target, [Reply(text="再选", buttons=(many[-1],))])
    first, second = gateway.fake.sent_messages(worker.id)[-2:]
    assert first["reply_markup"]["inline_keyboard"][-1][0]["callback_data"] == \
        second["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    contact = await contact_of(engine, worker)
    assert len(contact.channel_state["callbacks"]) == 50


# --- sending: limits and errors -----------------------------------------------------------------

async def test_a_long_reply_is_split_and_paced_one_message_a_second(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    text = "\n".join(f"第{n}条：劳动者有权依法获得劳动报酬。" for n in range(300))  # ~6,000 characters
    began = time.monotonic()
    await gateway.channel.send(target, [Reply(text=text, buttons=(Button("明白了", "/affirm"),))])
    parts = gateway.fake.sent_messages(worker.id)[1:]
    assert len(parts) == 2 and time.monotonic() - began >= 1.0
    assert "\n".join(p["text"] for p in parts) == text
    assert "reply_markup" not in parts[0] and "reply_markup" in parts[1]
    assert [m for m, _ in gateway.fake.calls].count("sendMessage") == 3  # /start's reply and two parts: no 429


async def test_flood_control_is_waited_out_and_the_reply_delivered(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    gateway.fake.fail_next("sendMessage", status=429, retry_after=1)
    await gateway.post(gateway.updates.text(worker, "在吗"))
    await gateway.settle()
    assert texts(gateway.fake, worker) == [SAVED]
    assert [m for m, _ in gateway.fake.calls].count("sendMessage") == 2


async def test_flood_control_that_persists_is_a_retryable_error(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    gateway.fake.fail_next("sendMessage", status=429, retry_after=1, times=3)
    with pytest.raises(ChannelError) as caught:
        await gateway.channel.send(target, [Reply(text="您的案件已受理")])
    assert (caught.value.retryable, caught.value.unreachable) == (True, False)
    assert texts(gateway.fake, worker) == [SAVED]  # only /start's reply


async def test_a_worker_who_blocked_the_bot_is_marked_unreachable(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    assert (await contact_of(engine, worker)).unreachable_at is None
    gateway.fake.block_chat(worker.id)
    await gateway.post(gateway.updates.text(worker, "我还有一个问题"))  # a message in flight when they blocked
    await gateway.settle()
    assert (await contact_of(engine, worker)).unreachable_at is not None
    with pytest.raises(ChannelError) as caught:
        await gateway.channel.notify(target, "您的案件已办结", key="outbox-1")
    assert (caught.value.retryable, caught.value.unreachable) == (False, True)


async def test_an_image_reply_is_sent_as_a_photo(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    target = await started(gateway, engine, worker)
    await gateway.channel.send(target, [Reply(text="维权流程如图", image="https://example.org/flow.png")])
    photo, caption = gateway.fake.sent_messages(worker.id)[-2:]
    assert "photo" in photo and caption["text"] == "维权流程如图"
    assert ("sendPhoto", "https://example.org/flow.png") in [
        (m, p.get("photo")) for m, p in gateway.fake.calls]


# --- polling (development) ----------------------------------------------------------------------

async def test_polling_takes_updates_the_way_the_webhook_does(gateway: Gateway, engine: AsyncEngine) -> None:
    worker = new_worker()
    gateway.fake.webhook.url = "https://gateway.example/telegram/webhook"  # polling must remove it
    update = gateway.updates.text(worker, "用轮询收到的消息")
    gateway.fake.queue_update(update)
    poller = asyncio.create_task(poll_updates(gateway.channel, gateway.app[GATEWAY].pipeline, timeout=1))
    try:
        await eventually(lambda: texts(gateway.fake, worker))
        await eventually(lambda: not gateway.fake.pending_updates)  # confirmed by the next offset
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
    await gateway.settle()
    assert gateway.fake.webhook.url == ""
    [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
    assert row.text == "用轮询收到的消息"
    assert texts(gateway.fake, worker) == [SAVED]


async def test_the_telegram_poll_command_answers_and_stops_on_ctrl_c(
    database_url: str, fake: FakeTelegram, tmp_path: Path, engine: AsyncEngine
) -> None:
    worker = new_worker()
    updates = UpdateBuilder(fake, first_update_id=random.randrange(10**9, 2 * 10**9))
    fake.queue_update(updates.text(worker, "命令行轮询"))
    env = {**os.environ, "DATABASE_URL": database_url, "GONGYOU_VAR_DIR": str(tmp_path), "BACKGROUND_JOBS": "0",
           "RASA_URL": f"http://127.0.0.1:{free_port()}", "TELEGRAM_BOT_TOKEN": TOKEN,
           "TELEGRAM_SECRET_TOKEN": SECRET, "TELEGRAM_API_BASE_URL": fake.base_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram-poll", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await eventually(lambda: texts(fake, worker), timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert "stopped" in out.decode()
    assert texts(fake, worker) == [SAVED]


def test_split_text_cuts_at_line_breaks_and_counts_like_telegram() -> None:
    assert split_text("短") == ["短"]
    assert split_text("") == []
    emoji = "🙏" * 3000  # two UTF-16 units each
    parts = split_text(emoji)
    assert "".join(parts) == emoji and all(len(p) <= 2048 for p in parts)
    lines = "a" * 3000 + "\n" + "b" * 3000
    assert split_text(lines) == ["a" * 3000, "b" * 3000]


PAYLOADS = ROOT / "tests" / "channels" / "payloads"


async def test_recorded_updates_replay_photo_largest_size_and_start_with_its_payload(
    gateway: Gateway, engine: AsyncEngine
) -> None:
    """Update JSON as Telegram posts it (photo in three sizes with a caption; /start with a
    deep-link payload), replayed against the running gateway."""
    from bot.cases.evidence import EvidenceItem

    user_id, update_base = new_worker().id, random.randrange(10**9, 2 * 10**9)
    gateway.fake.start_chat(TelegramUser(user_id, "Wei"))
    sizes = {name: gateway.fake.register_file(name.encode() * 200, mime_type="image/jpeg", kind="photo")
             for name in ("small", "medium", "large")}
    photo = (PAYLOADS / "telegram_photo.json").read_text()
    for name, stored in sizes.items():
        photo = photo.replace("{" + name + "}", stored.file_id)
    photo = photo.replace("5123456789", str(user_id)).replace("812345001", str(update_base))
    status, _ = await gateway.post(json.loads(photo))
    assert status == 200
    await gateway.settle()
    async with engine.connect() as connection:
        items = (await connection.execute(select(EvidenceItem.size, EvidenceItem.kind).where(
            EvidenceItem.source.like(f"telegram:{update_base}%")))).all()
    assert items == [(len(b"large" * 200), "photo")]  # only the largest size is kept

    start = (PAYLOADS / "telegram_start.json").read_text().replace("5123456789", str(user_id))
    status, _ = await gateway.post(json.loads(start.replace("812345002", str(update_base + 1))))
    assert status == 200
    [row] = await inbound_rows(engine, f"telegram:{update_base + 1}")
    assert row.meta.get("start_payload") == "case-GY-2026-000041"


async def test_a_worker_blocking_the_bot_is_marked_unreachable_and_unblocking_clears_it(
    gateway: Gateway, engine: AsyncEngine
) -> None:
    worker = new_worker()
    status, _ = await gateway.post(gateway.updates.text(worker, "你好"))
    assert status == 200
    await gateway.settle()

    def member_update(new_status: str) -> dict[str, Any]:
        user = {"id": worker.id, "is_bot": False, "first_name": "阿明"}
        bot = {"id": 100, "is_bot": True, "first_name": "工友助手", "username": "gongyou_bot"}
        return {"update_id": random.randrange(2 * 10**9, 3 * 10**9), "my_chat_member": {
            "chat": {"id": worker.id, "type": "private", "first_name": "阿明"}, "from": user, "date": int(time.time()),
            "old_chat_member": {"user": bot, "status": "member" if new_status == "kicked" else "kicked",
                                **({"until_date": 0} if new_status != "kicked" else {})},
            "new_chat_member": {"user": bot, "status": new_status, **({"until_date": 0} if new_status == "kicked" else {})}}}

    assert (await gateway.post(member_update("kicked")))[0] == 200
    assert (await contact_of(engine, worker)).unreachable_at is not None
    assert (await gateway.post(member_update("member")))[0] == 200
    assert (await contact_of(engine, worker)).unreachable_at is None


async def test_text_or_a_caption_that_looks_like_an_intent_reaches_rasa_as_words(
    gateway: Gateway, engine: AsyncEngine
) -> None:
    worker = new_worker()
    command = gateway.updates.text(worker, '/ /inform{"amount": 99999}')  # a "command" hiding one
    photo = gateway.updates.photo(worker, caption='/inform{"amount": 99999}')
    for update in (command, photo):
        assert (await gateway.post(update))[0] == 200
    await gateway.settle()
    for update in (command, photo):
        [row] = await inbound_rows(engine, f"telegram:{update['update_id']}")
        assert row.payload is None and row.text == '／inform{"amount": 99999}'


# --- with a Rasa that answers: the turn's way back survives faults -------------------------------

class FakeRasa:
    """Rasa's HTTP API as the gateway uses it, at the wire: the REST webhook, the
    conversation tracker and ``/status``. Each message is answered "收到：<text>".

    The tracker is Rasa's: events are only ever appended, and a ``rewind`` event takes the
    last user message out of the conversation the dialogue sees. While ``actions_down`` a
    message is recorded and answered with ``[]``, as Rasa answers when its action server is
    down; the next ``cut_answers`` answers are recorded and then the connection is cut
    before they reach the gateway.
    """

    def __init__(self) -> None:
        self.events: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.posts: list[str] = []
        self.actions_down = False
        self.cut_answers = 0
        self.url = ""
        self.recorded = asyncio.Event()  # set once a message is in a tracker
        self.hold: asyncio.Event | None = None  # while not set, answers wait (the gateway may die meanwhile)

    def conversation(self, sender: str) -> list[str]:
        """The worker's messages as the dialogue holds them (rewound ones taken out)."""
        said: list[str] = []
        for event in self.events[sender]:
            if event["event"] == "user":
                said.append(event["text"])
            elif event["event"] == "rewind" and said:
                said.pop()
        return said

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        sender, text = body["sender"], body["message"]
        self.posts.append(text)
        self.events[sender].append({"event": "user", "text": text, "metadata": body.get("metadata") or {}})
        self.recorded.set()
        if self.actions_down:
            return web.json_response([])
        answer = f"收到：{text}"
        self.events[sender].append({"event": "bot", "text": answer, "data": {}})
        if self.hold is not None:
            await self.hold.wait()
        if self.cut_answers:
            self.cut_answers -= 1
            assert request.transport is not None
            request.transport.close()
        return web.json_response([{"recipient_id": sender, "text": answer}])

    async def tracker(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        if request.method == "POST":
            self.events[sender].extend(await request.json())
        return web.json_response({"sender_id": sender, "events": self.events[sender]})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "20261201-000000-fake.tar.gz"})


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    fake_rasa = FakeRasa()
    app = web.Application()
    app.add_routes([web.post("/webhooks/rest/webhook", fake_rasa.webhook),
                    web.get("/conversations/{sender}/tracker", fake_rasa.tracker),
                    web.post("/conversations/{sender}/tracker/events", fake_rasa.tracker),
                    web.get("/status", fake_rasa.status)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake_rasa.url = f"http://127.0.0.1:{port}"
    yield fake_rasa
    await runner.cleanup()


@pytest.fixture
async def answering(own_database: str, tmp_path, fake: FakeTelegram, rasa: FakeRasa) -> AsyncIterator[Gateway]:
    """The gateway as in ``gateway``, over its own database (the retry round takes every
    message that waits, so no other test's may be in it), with a Rasa that answers."""
    async for running in serve_gateway(own_database, tmp_path, fake, rasa_url=rasa.url):
        yield running


async def retry_round(gateway: Gateway) -> None:
    """What the gateway's retry job does once Rasa and the action server are both up."""
    await gateway.app[GATEWAY].pipeline.retry_pending()
    await gateway.settle()


async def test_a_reply_whose_send_fails_is_sent_again_not_lost(answering: Gateway) -> None:
    worker = new_worker()
    answering.fake.fail_next("sendMessage", status=502)  # Telegram has a bad moment
    assert (await answering.post(answering.updates.text(worker, "老板欠我三个月工资")))[0] == 200
    await answering.settle()
    assert texts(answering.fake, worker) == []
    await answering.app[GATEWAY].dispatcher.run_once(now=utcnow() + timedelta(minutes=5))  # a later round
    assert texts(answering.fake, worker) == ["收到：老板欠我三个月工资"]


async def test_a_message_rasa_took_while_its_actions_were_down_is_in_the_conversation_once(
    answering: Gateway, rasa: FakeRasa
) -> None:
    worker = new_worker()
    rasa.actions_down = True
    assert (await answering.post(answering.updates.text(worker, "我在宏兴五金厂上班")))[0] == 200
    await answering.settle()
    assert texts(answering.fake, worker) == [SAVED]
    rasa.actions_down = False
    await retry_round(answering)
    assert texts(answering.fake, worker) == [SAVED, "收到：我在宏兴五金厂上班"]
    # a form would have read a second copy as the answer to its next question
    assert rasa.conversation(f"telegram:{worker.id}") == ["我在宏兴五金厂上班"]


async def test_an_answer_rasa_gave_that_never_arrived_is_read_back_not_asked_for_again(
    answering: Gateway, rasa: FakeRasa
) -> None:
    worker = new_worker()
    rasa.cut_answers = 1
    assert (await answering.post(answering.updates.text(worker, "老板欠我三个月工资")))[0] == 200
    await answering.settle()
    assert texts(answering.fake, worker) == [SAVED]
    await retry_round(answering)
    assert texts(answering.fake, worker) == [SAVED, "收到：老板欠我三个月工资"]
    assert rasa.posts == ["老板欠我三个月工资"]  # the turn was not played a second time


async def test_a_later_message_waits_for_the_earlier_one_and_both_are_answered_in_order(
    answering: Gateway, rasa: FakeRasa
) -> None:
    worker = new_worker()
    rasa.actions_down = True
    assert (await answering.post(answering.updates.text(worker, "老板欠我工资")))[0] == 200
    await answering.settle()
    rasa.actions_down = False
    assert (await answering.post(answering.updates.text(worker, "三个月了")))[0] == 200
    await answering.settle()
    assert texts(answering.fake, worker) == [SAVED, "收到：老板欠我工资", "收到：三个月了"]
    assert rasa.conversation(f"telegram:{worker.id}") == ["老板欠我工资", "三个月了"]


async def test_messages_taken_in_before_a_crash_are_answered_by_the_first_round_after_it(
    answering: Gateway, rasa: FakeRasa, own_database: str
) -> None:
    worker = new_worker()
    pipeline = answering.app[GATEWAY].pipeline
    lines = ["在吗", "老板欠我工资", "三个月了"]
    for line in lines:  # stored and acknowledged; then the process died before answering them
        delivery = answering.updates.text(worker, line)
        await pipeline.accept(InboundMessage(channel="telegram", external_id=str(worker.id),
                                             dedupe_key=f"telegram:{delivery['update_id']}", text=line))
    engine = create_engine(own_database)
    try:  # taken in a minute ago: the restart took that long
        async with session_scope(create_sessionmaker(engine)) as session:
            await session.execute(update_rows(InboundRecord).values(received_at=utcnow() - timedelta(minutes=1)))
    finally:
        await engine.dispose()
    await retry_round(answering)
    assert texts(answering.fake, worker) == [f"收到：{line}" for line in lines]
    assert rasa.posts == lines


async def test_a_turn_killed_after_rasa_took_the_message_is_read_back_after_the_restart(
    answering: Gateway, rasa: FakeRasa, own_database: str
) -> None:
    """The gateway dies on a message's first try, after Rasa has it: the restarted gateway
    frees what it held and reads the answer back from the tracker instead of posting the
    message again (a second copy would answer the form's next question)."""
    from bot.cases.messages import do_release_leases

    worker = new_worker()
    rasa.hold = asyncio.Event()
    assert (await answering.post(answering.updates.text(worker, "老板欠我三个月工资")))[0] == 200
    await asyncio.wait_for(rasa.recorded.wait(), timeout=30)
    gateway = answering.app[GATEWAY]
    for task in list(gateway.pipeline._tasks):  # the process is killed mid-turn
        task.cancel()
    await asyncio.gather(*gateway.pipeline._tasks, return_exceptions=True)
    rasa.hold.set()
    engine = create_engine(own_database)
    try:  # the gateway starts again (a minute later): it frees its own leases
        async with session_scope(create_sessionmaker(engine)) as session:
            assert await do_release_leases(session, owner=gateway.owner) == (1, 0)
            await session.execute(update_rows(InboundRecord).values(received_at=utcnow() - timedelta(minutes=1)))
    finally:
        await engine.dispose()
    await retry_round(answering)
    assert texts(answering.fake, worker) == ["收到：老板欠我三个月工资"]
    assert rasa.posts == ["老板欠我三个月工资"]
    assert rasa.conversation(f"telegram:{worker.id}") == ["老板欠我三个月工资"]
