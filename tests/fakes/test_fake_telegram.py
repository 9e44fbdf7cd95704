"""The fake Telegram Bot API against the real python-telegram-bot client: what PTB sends, the
fake understands; what the fake answers, PTB parses into the objects and errors it would get
from api.telegram.org."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.fakes.telegram import (
    SECRET_TOKEN_HEADER,
    FakeTelegram,
    TelegramUser,
    UpdateBuilder,
    running_fake_telegram,
    webhook_request,
)
from tests.conftest import free_port

TOKEN = "123456:AAHfakeTokenForGongyouTests"
T0 = 1_750_000_000.0
WORKER = TelegramUser(4242, "阿明", "a_ming")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    # A frozen clock: time moves only when a test advances it, so flood limits are exact.
    async with running_fake_telegram(TOKEN, clock=lambda: T0) as server:
        yield server


def make_bot(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(fake) as client:  # initialize() calls getMe
        yield client


@pytest.fixture
def timedeltas(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 gives durations as timedelta (not an int plus a deprecation warning) when opted in.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app (a stand-in gateway) on a free local port; yields its origin."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in pairs]])


# --- the API surface ------------------------------------------------------------------------

async def test_get_me_is_the_bot_named_by_the_token(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "gongyou_fake_bot")
    assert [name for name, _ in fake.calls] == ["getMe", "getMe"]


async def test_wrong_token_and_unknown_method_answer_like_telegram(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(fake, "123456:wrong"):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.base_url}/bot123456:wrong/getMe") as resp:
            assert (resp.status, await resp.json()) == (
                401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        async with http.post(f"{fake.base_url}/bot{TOKEN}/sendTelepathy") as resp:
            assert (resp.status, await resp.json()) == (
                404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_send_message_records_the_inline_keyboard(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    sent = await bot.send_message(WORKER.id, "工资拖欠了多久？",
                                  reply_markup=keyboard(("一个月", "q1:1m"), ("三个月", "q1:3m")))
    assert sent.chat.id == WORKER.id and sent.from_user.is_bot and sent.date.timestamp() == int(T0)
    assert [b.callback_data for b in sent.reply_markup.inline_keyboard[0]] == ["q1:1m", "q1:3m"]
    [recorded] = fake.sent_messages(WORKER.id)
    assert recorded["text"] == "工资拖欠了多久？" and recorded["message_id"] == sent.message_id
    assert recorded["reply_markup"] == {"inline_keyboard": [[
        {"text": "一个月", "callback_data": "q1:1m"}, {"text": "三个月", "callback_data": "q1:3m"}]]}
    # PTB 22 posts a form whose non-string fields are JSON strings; the fake decoded them.
    method, params = fake.calls[-1]
    assert method == "sendMessage" and params["chat_id"] == str(WORKER.id)
    assert isinstance(params["reply_markup"], str)


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(WORKER.id, "选", reply_markup=keyboard(("长", "案" * 22)))  # 66 bytes
    assert fake.sent_messages(WORKER.id) == []
    await bot.send_message(WORKER.id, "选", reply_markup=keyboard(("刚好", "案" * 21 + "x")))  # 64
    assert len(fake.sent_messages(WORKER.id)) == 1


async def test_text_is_limited_to_4096_characters(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(WORKER.id, "字" * 4097)
    assert (await bot.send_message(WORKER.id, "字" * 4096)).text == "字" * 4096


async def test_unreachable_chats_raise_forbidden_or_not_found(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    fake.block_chat(WORKER.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(WORKER.id, "您的案件已受理")
    fake.start_chat(777, started=False)
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(777, "您好")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999, "您好")


async def test_a_second_message_within_a_second_is_flood_limited(
    bot: Bot, fake: FakeTelegram, timedeltas: None
) -> None:
    fake.start_chat(WORKER)
    await bot.send_message(WORKER.id, "一")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WORKER.id, "二")
    assert caught.value.retry_after == dt.timedelta(seconds=1)
    fake.advance(1)
    await bot.send_message(WORKER.id, "二")
    assert [m["text"] for m in fake.sent_messages(WORKER.id)] == ["一", "二"]


async def test_more_than_30_messages_a_second_overall_is_flood_limited(
    bot: Bot, fake: FakeTelegram, timedeltas: None
) -> None:
    for user_id in range(1, 32):
        fake.start_chat(user_id)
    for user_id in range(1, 31):
        await bot.send_message(user_id, "通知")
    with pytest.raises(RetryAfter):
        await bot.send_message(31, "通知")
    fake.limits.enabled = False
    await bot.send_message(31, "通知")
    await bot.send_message(31, "再通知")


async def test_injected_429_carries_retry_after(bot: Bot, fake: FakeTelegram, timedeltas: None) -> None:
    fake.start_chat(WORKER)
    fake.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WORKER.id, "您好")
    assert caught.value.retry_after == dt.timedelta(seconds=7)
    assert (await bot.send_message(WORKER.id, "您好")).text == "您好"


async def test_injected_502_after_a_delay_is_a_network_error(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail_next("getMe", status=502, times=2, delay=0.2)
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.get_me()
        assert time.monotonic() - started >= 0.2
    assert (await bot.get_me()).is_bot


async def test_get_file_downloads_the_registered_bytes(bot: Bot, fake: FakeTelegram) -> None:
    content = "工资条 2024-05\n".encode() * 100
    stored = fake.register_file(content, mime_type="application/pdf", file_name="工资条.pdf")
    file = await bot.get_file(stored.file_id)
    assert (file.file_unique_id, file.file_size) == (stored.file_unique_id, len(content))
    assert file.file_path.endswith(f"/file/bot{TOKEN}/{stored.file_path}")
    assert bytes(await file.download_as_bytearray()) == content
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("AgACnope")


async def test_files_over_20_mb_cannot_be_fetched(bot: Bot, fake: FakeTelegram) -> None:
    stored = fake.register_file(b"\0" * (20 * 1024 * 1024 + 1), mime_type="video/mp4", kind="video")
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file(stored.file_id)


async def test_a_built_callback_query_can_be_answered_once(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    asked = await bot.send_message(WORKER.id, "是否签了合同？",
                                   reply_markup=keyboard(("签了", "c:y"), ("没签", "c:n")))
    update = Update.de_json(fake.updates.callback_query(WORKER.id, "c:n"), bot)
    assert update.callback_query.message.message_id == asked.message_id
    assert await update.callback_query.answer(text="已记录")
    assert fake.answered_callback_queries == [
        {"id": update.callback_query.id, "data": "c:n", "text": "已记录", "show_alert": False}]
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(update.callback_query.id)
    with pytest.raises(BadRequest, match="(?i)query id is invalid"):
        await bot.answer_callback_query("9999")


async def test_edit_message_reply_markup_removes_the_keyboard(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    asked = await bot.send_message(WORKER.id, "选", reply_markup=keyboard(("好", "ok")))
    edited = await bot.edit_message_reply_markup(WORKER.id, asked.message_id, reply_markup=None)
    assert edited.reply_markup is None and edited.edit_date is not None
    assert "reply_markup" not in fake.sent_messages(WORKER.id)[0]
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(WORKER.id, asked.message_id, reply_markup=None)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_reply_markup(WORKER.id, 999, reply_markup=keyboard(("好", "ok")))


async def test_send_photo_uploads_multipart(bot: Bot, fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    sent = await bot.send_photo(WORKER.id, photo=b"\xff\xd8\xff\xe0photo", caption="收据")
    assert sent.caption == "收据" and [p.width for p in sent.photo] == [90, 320, 1280]
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8\xff\xe0photo"
    assert fake.calls[-2][1]["photo"].startswith("<upload")


# --- getUpdates and webhooks ------------------------------------------------------------------

async def test_get_updates_returns_queued_updates_and_respects_offset(
    bot: Bot, fake: FakeTelegram
) -> None:
    for n in range(4):
        fake.queue_update(fake.updates.text(WORKER, f"第{n}条"))
    got = await bot.get_updates(limit=3)
    assert [u.message.text for u in got] == ["第0条", "第1条", "第2条"]
    again = await bot.get_updates(offset=got[1].update_id)
    assert [u.message.text for u in again] == ["第1条", "第2条", "第3条"]
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["第3条"]
    assert await bot.get_updates(offset=again[-1].update_id + 1) == ()
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_get_updates_long_polls_until_an_update_arrives(bot: Bot, fake: FakeTelegram) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    fake.queue_update(fake.updates.start(WORKER, "case-7"))
    [update] = await asyncio.wait_for(poll, 2)
    assert update.message.text == "/start case-7"


async def test_a_second_poller_terminates_the_first_with_conflict(bot: Bot, fake: FakeTelegram) -> None:
    # A second bot instance: one PTB Bot's getUpdates connection pool holds a single connection.
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    async with make_bot(fake) as other:
        second = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 2)
        assert await second == ()


async def test_webhook_is_remembered_and_excludes_get_updates(bot: Bot, fake: FakeTelegram) -> None:
    hook = "https://gongyou.example/telegram/webhook"
    assert await bot.set_webhook(hook, secret_token="s3cret_token-1")
    assert (fake.webhook.url, fake.webhook.secret_token) == (hook, "s3cret_token-1")
    assert (await bot.get_webhook_info()).url == hook
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match="(?i)unallowed characters"):
        await bot.set_webhook("https://gongyou.example/x", secret_token="no spaces")
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == "" and await bot.get_updates() == ()


async def test_deliver_posts_to_the_webhook_as_telegram_does(bot: Bot, fake: FakeTelegram) -> None:
    received: list[tuple[str | None, str, dict]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_TOKEN_HEADER), request.content_type,
                         await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    async with serving(app) as origin:
        await bot.set_webhook(f"{origin}/telegram", secret_token="s3cret")
        update = fake.updates.text(WORKER, "你好")
        assert await fake.deliver(update) == 200
    assert received == [("s3cret", "application/json", update)]
    assert fake.pending_updates == []


class FlakyWebhook:
    """A stand-in gateway whose answers are scripted: a status per call (200 once the script
    runs out), or ``"slow"`` (it answers after the fake stopped waiting)."""

    def __init__(self, *script: int | str) -> None:
        self.script = list(script)
        self.received: list[int] = []  # update_id of every post, failed ones included

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.received.append(update["update_id"])
        answer = self.script.pop(0) if self.script else 200
        if answer == "slow":
            await asyncio.sleep(1)
            answer = 200
        return web.Response(status=int(answer))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/telegram", self.handle)
        return app


async def eventually(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.fakes.telegram_state.RETRY_FIRST", 0.05)
    monkeypatch.setattr("bot.fakes.telegram_state.RETRY_MAX", 0.2)


async def test_an_update_answered_with_an_error_is_posted_again_until_taken(
    bot: Bot, fake: FakeTelegram, quick_retries: None,
) -> None:
    hook = FlakyWebhook(500, 503)
    async with serving(hook.app()) as origin:
        await bot.set_webhook(f"{origin}/telegram")
        update = fake.updates.text(WORKER, "工资还没发")
        assert await fake.deliver(update) == 500  # the first post's answer
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        await eventually(lambda: not fake.webhook_delivery.pending())
    assert hook.received == [update["update_id"]] * 3
    assert fake.pending_update_count() == 0


async def test_a_webhook_that_is_down_or_slow_gets_the_update_once_it_answers(
    bot: Bot, fake: FakeTelegram, quick_retries: None,
) -> None:
    port = free_port()
    await bot.set_webhook(f"http://127.0.0.1:{port}/telegram")
    fake.webhook_delivery.timeout = 0.3
    update = fake.updates.text(WORKER, "在吗")
    assert await fake.deliver(update) is None  # connection refused: kept
    assert (await bot.get_webhook_info()).last_error_message == "Connection refused"
    hook = FlakyWebhook("slow")  # the gateway is back, but its first answer comes too late
    runner = web.AppRunner(hook.app())
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await eventually(lambda: not fake.webhook_delivery.pending())
    finally:
        await runner.cleanup()
    # refused (not counted by the webhook), timed out, taken
    assert hook.received == [update["update_id"]] * 2
    assert fake.webhook_delivery.last_error is not None
    assert fake.webhook_delivery.last_error[1] == "Read timeout expired"


async def test_a_chats_updates_wait_behind_its_pending_one_and_keep_their_order(
    bot: Bot, fake: FakeTelegram, quick_retries: None,
) -> None:
    other = TelegramUser(4343, "阿芳")
    hook = FlakyWebhook(502)
    async with serving(hook.app()) as origin:
        await bot.set_webhook(f"{origin}/telegram")
        first, second = fake.updates.text(WORKER, "一"), fake.updates.text(WORKER, "二")
        elsewhere = fake.updates.text(other, "别的聊天")
        assert await fake.deliver(first) == 502
        assert await fake.deliver(second) is None  # not posted before the first is taken
        assert await fake.deliver(elsewhere) == 200  # another chat is not held up
        await eventually(lambda: not fake.webhook_delivery.pending())
    ids = [u["update_id"] for u in (first, second, elsewhere)]
    assert hook.received == [ids[0], ids[2], ids[0], ids[1]]


async def test_deleting_the_webhook_leaves_what_waits_to_get_updates(
    bot: Bot, fake: FakeTelegram, quick_retries: None,
) -> None:
    await bot.set_webhook(f"http://127.0.0.1:{free_port()}/telegram")
    update = fake.updates.text(WORKER, "还在吗")
    assert await fake.deliver(update) is None
    assert await bot.delete_webhook()
    assert [u.update_id for u in await bot.get_updates()] == [update["update_id"]]
    assert fake.webhook_delivery.pending() == []


# --- update builders ------------------------------------------------------------------------

def parse(update: dict, bot: Bot) -> Update:
    headers, body = webhook_request(update, "s3cret")
    assert headers == {"Content-Type": "application/json", SECRET_TOKEN_HEADER: "s3cret"}
    return Update.de_json(json.loads(body), bot)


async def test_builders_produce_updates_ptb_parses(bot: Bot, fake: FakeTelegram, timedeltas: None) -> None:
    b = fake.updates
    text = parse(b.text(WORKER, "老板欠我三个月工资"), bot)
    assert text.message.text == "老板欠我三个月工资"
    assert (text.effective_user.first_name, text.effective_chat.type) == ("阿明", "private")
    start = parse(b.start(WORKER, "case-2024-17"), bot).message
    assert start.text == "/start case-2024-17"
    assert start.parse_entities([MessageEntity.BOT_COMMAND]) == {start.entities[0]: "/start"}
    photo = parse(b.photo(WORKER, b"jpeg", caption="欠条"), bot).message
    widths = [p.width for p in photo.photo]
    assert widths == sorted(widths) and widths[-1] == 1280 and len({p.file_id for p in photo.photo}) == 3
    assert photo.caption == "欠条"
    document = parse(b.document(WORKER, b"%PDF", file_name="合同.pdf"), bot).message.document
    assert (document.file_name, document.mime_type, document.file_size) == ("合同.pdf", "application/pdf", 4)
    voice = parse(b.voice(WORKER, b"OggS", duration=12), bot).message.voice
    assert (voice.duration, voice.mime_type) == (dt.timedelta(seconds=12), "audio/ogg")
    video = parse(b.video(WORKER, b"mp4", duration=30, width=1920, height=1080), bot).message.video
    assert (video.duration, video.width, video.height) == (dt.timedelta(seconds=30), 1920, 1080)
    assert video.mime_type == "video/mp4"
    query = parse(b.callback_query(WORKER, "wage:3m"), bot).callback_query
    assert (query.data, query.from_user.id, query.message.chat.id) == ("wage:3m", WORKER.id, WORKER.id)
    assert query.message.reply_markup.inline_keyboard[0][0].callback_data == "wage:3m"
    later = parse(b.text(WORKER, "再来"), bot)
    assert later.update_id > text.update_id
    # The chat's message ids keep increasing across the worker's messages and the bot's.
    assert start.message_id < photo.message_id < query.message.message_id < later.message.message_id


async def test_built_attachments_download_through_the_bot(bot: Bot, fake: FakeTelegram) -> None:
    voice = parse(fake.updates.voice(WORKER, b"OggS\x00 recording"), bot).message.voice
    assert bytes(await (await voice.get_file()).download_as_bytearray()) == b"OggS\x00 recording"
    assert fake.chats[WORKER.id].started  # a worker who wrote to the bot has started it


def test_an_unbound_builder_needs_no_server() -> None:
    builder = UpdateBuilder()
    first, second = builder.text(7, "你好"), builder.callback_query(7, "menu:1")
    assert second["update_id"] == first["update_id"] + 1
    assert second["callback_query"]["message"]["from"]["is_bot"] is True
    assert webhook_request(first, None)[0] == {"Content-Type": "application/json"}


# --- the wire without PTB, and the control routes ---------------------------------------------

async def test_json_and_query_string_parameters_are_accepted(fake: FakeTelegram) -> None:
    fake.start_chat(WORKER)
    markup = {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}
    api = f"{fake.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        payload = {"chat_id": WORKER.id, "text": "JSON", "reply_markup": markup}
        async with http.post(f"{api}/sendmessage", json=payload) as resp:
            body = await resp.json()
        assert body["ok"] and body["result"]["reply_markup"] == markup
        fake.advance(1)
        async with http.get(f"{api}/sendMessage", params={"chat_id": str(WORKER.id), "text": "GET"}) as resp:
            assert (await resp.json())["result"]["text"] == "GET"


async def test_control_routes_drive_the_fake_over_http(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}/_fake"
    async with aiohttp.ClientSession() as http:
        await (await http.post(f"{url}/chats", json={"user_id": 55, "first_name": "小李"})).release()
        pdf = {"Content-Type": "application/pdf"}
        async with http.post(f"{url}/files?file_name=a.pdf", data=b"%PDF", headers=pdf) as resp:
            file = await resp.json()
        text = {"kind": "text", "user_id": 55, "text": "在吗"}
        async with http.post(f"{url}/updates", json=text) as resp:
            queued = await resp.json()
        async with http.get(f"{url}/pending") as resp:
            assert await resp.json() == {"count": 1, "webhook": [], "polling": 1}
        await (await http.post(f"{url}/clock", json={"advance": 60})).release()
        await (await http.post(f"{url}/failures", json={"method": "getMe", "status": 500})).release()
        async with http.get(f"{fake.base_url}/bot{TOKEN}/getMe") as resp:
            assert resp.status == 500
        await (await http.post(f"{url}/chats/55/block")).release()
        async with http.get(f"{url}/chats/55/messages") as resp:
            assert await resp.json() == []
        async with http.post(f"{url}/chats/56/block") as resp:
            assert resp.status == 400 and "56" in (await resp.json())["error"]
        async with http.post(f"{url}/limits", json={"enabled": False}) as resp:
            assert (await resp.json())["enabled"] is False
        async with http.get(f"{url}/calls") as resp:
            assert [c["method"] for c in await resp.json()] == ["getMe"]
        async with http.get(f"{url}/callback_queries") as resp:
            assert await resp.json() == []
    assert fake.files[file["file_id"]].content == b"%PDF" and file["file_path"].endswith(".pdf")
    assert queued["update"]["message"]["from"]["first_name"] == "小李"
    assert fake.pending_updates == [queued["update"]] and queued["webhook_status"] is None
    assert queued["pending"] is False  # waiting for getUpdates, not for a webhook
    assert fake.now() == T0 + 60 and fake.chats[55].blocked and not fake.limits.enabled


async def test_pending_shows_what_the_webhook_has_not_taken(fake: FakeTelegram, quick_retries: None) -> None:
    url = f"{fake.base_url}/_fake"
    port = free_port()
    async with aiohttp.ClientSession() as http:
        await (await http.post(f"{fake.base_url}/bot{TOKEN}/setWebhook",
                               data={"url": f"http://127.0.0.1:{port}/telegram"})).release()
        async with http.post(f"{url}/updates", json={"kind": "text", "user_id": 55, "text": "在吗"}) as resp:
            posted = await resp.json()
        assert posted["webhook_status"] is None and posted["pending"] is True
        await asyncio.sleep(0.2)  # a retry or two, still refused
        async with http.get(f"{url}/pending") as resp:
            pending = await resp.json()
        assert pending["count"] == 1 and pending["polling"] == 0
        [waiting] = pending["webhook"]
        assert waiting["update_id"] == posted["update"]["update_id"] and waiting["attempts"] >= 2
        assert waiting["last_error"] == "Connection refused"
        async with serving(FlakyWebhook().app()) as origin:
            await (await http.post(f"{fake.base_url}/bot{TOKEN}/setWebhook",
                                   data={"url": f"{origin}/telegram"})).release()
            await eventually(lambda: fake.pending_update_count() == 0)
            async with http.get(f"{url}/pending") as resp:
                assert (await resp.json())["count"] == 0

