"""The WeChat channel over real HTTP: WeChat's callbacks into a real gateway, and our calls
out to the fake WeChat API server (bot.fakes.wechat) on its own port.

Rasa points at a closed port, so every message is answered with the pipeline's "saved,
will answer" reply through ``send``: a customer-service message arriving at the fake proves
the whole reply path (stored → scheduled → token → API).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from wechatpy.crypto import WeChatCrypto

from bot.cases.evidence import EvidenceItem
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Contact, InboundRecord
from bot.channels import upload
from bot.channels.base import Button, ChannelError, NotNow, Reply, Target
from bot.channels.upload import make_upload_token, upload_link
from bot.channels.wechat import WeChatChannel, render_turn, split_text
from bot.channels.wechat_api import WeChatApi, WeChatApiError
from bot.db import create_sessionmaker, session_scope, utcnow
from bot.fakes.wechat import RunningFakeWeChat, running_fake_wechat
from bot.fakes.wechat_callbacks import (
    callback_request,
    decrypt_reply,
    event_xml,
    image_xml,
    link_xml,
    location_xml,
    text_xml,
    verification_request,
    video_xml,
    voice_xml,
    wechat_signature,
)
from bot.settings import WeChatSettings, load_settings
from bot.web.app import create_app
from bot.web.keys import GATEWAY
from tests.conftest import free_port

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # the example key of WeChat's docs
SECRET = "app-secret-for-tests"
TEMPLATE = "TPL_CASE_STATUS"
UPLOAD_SECRET = "upload-secret-for-tests"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"payslip"
AMR = b"#!AMR\n" + b"\x3c" * 200


def new_openid() -> str:
    return f"o_{uuid.uuid4().hex[:20]}"


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeWeChat]:
    # A fresh app id per test: the shared token row ("wechat:<app id>") is per account.
    app_id = f"wx{uuid.uuid4().hex[:16]}"
    async with running_fake_wechat(app_id, SECRET, templates=[TEMPLATE]) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def wechat_settings(fake: RunningFakeWeChat, *, aes_key: str | None = AES_KEY) -> WeChatSettings:
    return WeChatSettings(token=TOKEN, app_id=fake.state.app_id, app_secret=SECRET, aes_key=aes_key,
                          api_base_url=fake.base_url)


# -- a real gateway with WeChat switched on ---------------------------------------------------


@dataclass
class Gateway:
    url: str
    app: web.Application
    fake: RunningFakeWeChat

    async def post(self, http: aiohttp.ClientSession, xml: str, *, mode: str = "safe",
                   query: dict[str, str] | None = None, body: bytes | None = None) -> tuple[int, str]:
        """POST a callback as WeChat would (after noting it at the fake: window open)."""
        self.fake.state.note_callback(xml)
        params, data = callback_request(mode, TOKEN, AES_KEY, self.fake.state.app_id, xml)  # type: ignore[arg-type]
        async with http.post(self.url + "/wechat", params=query or params, data=body or data,
                             headers={"Content-Type": "text/xml"}) as resp:
            return resp.status, await resp.text()

    async def settle(self) -> None:
        await self.app[GATEWAY].pipeline.drain()

    def messages_to(self, openid: str) -> list[str]:
        return [m.body["text"]["content"] for m in self.fake.state.sent_messages if m.touser == openid]


@pytest.fixture
async def gateway(request: pytest.FixtureRequest, database_url: str, tmp_path,
                  fake: RunningFakeWeChat) -> AsyncIterator[Gateway]:
    """The gateway in safe mode, or (parametrized indirectly with ``None``) in plain mode."""
    aes_key = getattr(request, "param", AES_KEY)
    port = free_port()
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_PORT": str(port),
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
            "BACKGROUND_JOBS": "0",
            # these tests post far faster than a person; the limits have their own tests
            "RATE_UPLOAD_IP": "100000/10000", "RATE_SENDER": "100000/10000",
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": fake.state.app_id,
            "WECHAT_APP_SECRET": SECRET,
            "WECHAT_AES_KEY": aes_key or "",
            "WECHAT_API_BASE_URL": fake.base_url,
            "WECHAT_TEMPLATE_ID": TEMPLATE,
            "UPLOAD_SECRET": UPLOAD_SECRET,
        },
        dotenv=tmp_path / "none.env",
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Gateway(f"http://127.0.0.1:{port}", app, fake)
    finally:
        await app[GATEWAY].pipeline.drain()
        await runner.cleanup()


async def inbound_of(engine: AsyncEngine, openid: str) -> list[InboundRecord]:
    async with AsyncSession(engine) as session:
        return list((await session.execute(
            select(InboundRecord).join(Contact, Contact.id == InboundRecord.contact_id)
            .where(Contact.channel == "wechat", Contact.external_id == openid)
            .order_by(InboundRecord.id))).scalars())


async def evidence_of(engine: AsyncEngine, openid: str) -> list[EvidenceItem]:
    async with AsyncSession(engine) as session:
        return list((await session.execute(
            select(EvidenceItem).join(Contact, Contact.id == EvidenceItem.contact_id)
            .where(Contact.channel == "wechat", Contact.external_id == openid)
            .order_by(EvidenceItem.id))).scalars())


async def inbound_count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return len((await session.execute(select(InboundRecord.id))).all())


# -- the callback: verification, refusals ------------------------------------------------------


async def test_url_verification_echoes_echostr(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    query = verification_request(TOKEN, "echo-4711")
    async with http.get(gateway.url + "/wechat", params=query) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert await resp.text() == "echo-4711"
    async with http.get(gateway.url + "/wechat", params={**query, "signature": "0" * 40}) as resp:
        assert resp.status == 403


async def test_a_bad_signature_is_refused_and_nothing_stored(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid, before = new_openid(), await inbound_count(engine)
    xml = text_xml(openid, "老板欠我工资")
    params, body = callback_request("plain", TOKEN, None, gateway.fake.state.app_id, xml)
    for forged in ({**params, "signature": "f" * 40}, {**params, "nonce": "1"}, {"openid": openid}):
        status, _ = await gateway.post(http, xml, query=forged, body=body)
        assert status == 403
    # safe mode: a valid signature but a msg_signature that does not cover the Encrypt field
    params, body = callback_request("safe", TOKEN, AES_KEY, gateway.fake.state.app_id, xml)
    status, _ = await gateway.post(http, xml, query={**params, "msg_signature": "0" * 40}, body=body)
    assert status == 403
    await gateway.settle()
    assert await inbound_count(engine) == before
    assert gateway.messages_to(openid) == []


@pytest.mark.parametrize("gateway", [None], indirect=True)
@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>gh</ToUserName><MsgType>text",
    b"this is not xml",
    b"<html><MsgType>text</MsgType></html>",
    b"<xml><MsgType>text</MsgType></xml>",  # no sender
    b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName><MsgId>abc</MsgId></xml>",
    "<xml>\udcff</xml>".encode("utf-8", "surrogatepass"),
])
async def test_malformed_xml_is_400_and_nothing_stored(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, body: bytes
) -> None:
    before = await inbound_count(engine)
    params, _ = callback_request("plain", TOKEN, None, gateway.fake.state.app_id, text_xml("o_x", "x"))
    status, _ = await gateway.post(http, text_xml("o_x", "x"), query=params, body=body)
    assert status == 400
    assert await inbound_count(engine) == before


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>42</MsgId></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>{openid}</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>"""
# A comment that looks like an element start once ended a guard that read the prolog only.
AFTER_A_COMMENT = """<!-- <xml> --><!DOCTYPE xml [<!ENTITY x "冒充的话">]>
<xml><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>
<Content>&x;</Content><MsgId>43</MsgId></xml>"""


@pytest.mark.parametrize("template", [BILLION_LAUGHS, EXTERNAL_ENTITY, AFTER_A_COMMENT])
@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_entity_declarations_are_400_and_nothing_stored(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, template: str, mode: str
) -> None:
    openid, before = new_openid(), await inbound_count(engine)
    xml = template.format(openid=openid)
    if mode == "plain":
        params, _ = callback_request("plain", TOKEN, None, gateway.fake.state.app_id, text_xml(openid, "x"))
        status, answer = await gateway.post(http, text_xml(openid, "x"), query=params, body=xml.encode())
    else:  # signed and encrypted by the real account: the declaration is inside Encrypt
        nonce, ts = "12345", str(int(time.time()))
        sealed = ET.fromstring(WeChatCrypto(TOKEN, AES_KEY, gateway.fake.state.app_id).encrypt_message(xml, nonce, ts))
        query = {"signature": wechat_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                 "encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature") or ""}
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{sealed.findtext('Encrypt')}</Encrypt></xml>"
        status, answer = await gateway.post(http, text_xml(openid, "x"), query=query, body=body.encode())
    assert status == 400 and "DOCTYPE" in answer
    assert await inbound_count(engine) == before


async def test_safe_mode_refuses_an_unencrypted_body(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid, before = new_openid(), await inbound_count(engine)
    # a correctly signed query proves nothing about a plain body: it could be anyone's
    assert (await gateway.post(http, text_xml(openid, "我是别人"), mode="plain"))[0] == 403
    await gateway.settle()
    assert await inbound_count(engine) == before


async def test_an_oversized_body_is_refused(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    xml = text_xml(new_openid(), "欠" * 30_000)
    params, body = callback_request("plain", TOKEN, None, gateway.fake.state.app_id, xml)
    status, _ = await gateway.post(http, xml, query=params, body=body)
    assert status == 413


# -- the callback: messages ------------------------------------------------------------------


@pytest.mark.parametrize(("gateway", "mode"), [
    (None, "plain"), (None, "compatible"), (AES_KEY, "compatible"), (AES_KEY, "safe"),
], indirect=["gateway"])
async def test_each_callback_mode_is_stored_and_answered(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, mode: str
) -> None:
    openid, msg_id = new_openid(), uuid.uuid4().int >> 66
    status, body = await gateway.post(http, text_xml(openid, "老板欠我三个月工资", msg_id=msg_id), mode=mode)
    assert (status, body) == (200, "success")
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    assert (record.text, record.dedupe_key) == ("老板欠我三个月工资", f"wechat:{msg_id}")
    [reply] = gateway.messages_to(openid)
    assert "保存" in reply


async def test_a_repeated_delivery_is_stored_and_answered_once(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    xml = text_xml(openid, "在吗")
    params, body = callback_request("safe", TOKEN, AES_KEY, gateway.fake.state.app_id, xml)
    for _ in range(3):  # WeChat's retries carry the same query and body
        assert await gateway.post(http, xml, query=params, body=body) == (200, "success")
    await gateway.settle()
    assert len(await inbound_of(engine, openid)) == 1
    assert len(gateway.messages_to(openid)) == 1


async def test_an_image_is_downloaded_into_evidence_before_the_reply(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    media_id = gateway.fake.state.add_media(PNG, content_type="image/png", filename="payslip.png")
    assert (await gateway.post(http, image_xml(openid, media_id)))[0] == 200
    await gateway.settle()
    [item] = await evidence_of(engine, openid)
    assert (item.kind, item.mime_type, item.size) == ("photo", "image/png", len(PNG))
    assert item.sha256 == hashlib.sha256(PNG).hexdigest()
    [reply] = [m for m in gateway.fake.state.sent_messages if m.touser == openid]
    assert item.received_at.timestamp() <= reply.sent_at
    [record] = await inbound_of(engine, openid)
    assert record.kind == "photo" and record.meta["attachments"][0]["sha256"] == item.sha256


async def test_a_video_is_fetched_from_its_video_url(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid, clip = new_openid(), b"\x00\x00\x00\x18ftypmp42" + b"v" * 500
    media_id = gateway.fake.state.add_media(clip, content_type="video/mp4", filename="clip.mp4", kind="video")
    assert (await gateway.post(http, video_xml(openid, media_id, "thumb")))[0] == 200
    await gateway.settle()
    [item] = await evidence_of(engine, openid)
    assert (item.kind, item.size, item.mime_type) == ("video", len(clip), "video/mp4")


async def test_a_voice_message_keeps_the_audio_and_uses_the_recognition_as_text(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    media_id = gateway.fake.state.add_media(AMR, content_type="audio/amr", filename="voice.amr", kind="voice")
    await gateway.post(http, voice_xml(openid, media_id, recognition="厂里拖欠工资两个月了"))
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    assert (record.kind, record.text) == ("audio", "厂里拖欠工资两个月了")
    [item] = await evidence_of(engine, openid)
    assert (item.kind, item.size, item.mime_type) == ("audio", len(AMR), "audio/amr")


async def test_location_and_link_become_text(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, location_xml(openid, 29.3, 120.07, label="浙江省义乌市稠江街道"))
    await gateway.post(http, link_xml(openid, "劳动合同", "https://example.org/contract"))
    await gateway.settle()
    location, link = await inbound_of(engine, openid)
    assert location.text == "浙江省义乌市稠江街道" and location.meta["location"]["latitude"] == "29.3"
    assert link.text == "劳动合同 https://example.org/contract"


async def test_subscribe_greets_and_a_menu_click_is_its_intent(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, event_xml(openid, "subscribe", create_time=1_700_000_000))
    await gateway.post(http, event_xml(openid, "CLICK", event_key="report_unpaid_wages", create_time=1_700_000_001))
    await gateway.settle()
    subscribe, click = await inbound_of(engine, openid)
    assert subscribe.payload == "/greet"
    assert subscribe.dedupe_key == f"wechat:{openid}:1700000000:subscribe:"
    assert click.payload == "/report_unpaid_wages"
    assert len(gateway.messages_to(openid)) == 2


async def test_unsubscribe_marks_the_worker_unreachable_without_a_reply(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, text_xml(openid, "你好"))
    await gateway.settle()
    assert await gateway.post(http, event_xml(openid, "unsubscribe")) == (200, "success")
    await gateway.settle()
    async with AsyncSession(engine) as session:
        contact = (await session.execute(select(Contact).where(Contact.external_id == openid))).scalar_one()
    assert contact.unreachable_at is not None
    assert len(await inbound_of(engine, openid)) == 1
    assert len(gateway.messages_to(openid)) == 1


async def test_an_unsupported_type_gets_a_friendly_passive_reply(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    xml = (f"<xml><ToUserName><![CDATA[gh_fake]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
           "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[miniprogrampage]]></MsgType>"
           "<Title><![CDATA[小程序]]></Title><MsgId>99</MsgId></xml>")
    status, body = await gateway.post(http, xml, mode="safe")
    assert status == 200
    reply = decrypt_reply(body, TOKEN, AES_KEY, gateway.fake.state.app_id)
    assert "看不懂" in reply and openid in reply


async def test_a_digit_answers_the_numbered_buttons_shown_last(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, text_xml(openid, "你好"))
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    channel = gateway.app[GATEWAY].wechat
    await channel.send(Target(record.contact_id, openid), [Reply(text="您遇到了什么问题？", buttons=(
        Button("欠薪", "/report_unpaid_wages"), Button("工伤", "/report_injury")))])
    shown = gateway.messages_to(openid)[-1]
    assert "回复数字：" in shown and "1. 欠薪" in shown and "2. 工伤" in shown
    await gateway.post(http, text_xml(openid, "２"))
    await gateway.settle()
    answer = (await inbound_of(engine, openid))[-1]
    assert (answer.text, answer.payload) == ("２", "/report_injury")


async def test_many_sends_share_one_access_token(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    openids = [new_openid() for _ in range(6)]
    results = await asyncio.gather(*(gateway.post(http, text_xml(o, "工资的事")) for o in openids))
    assert all(r == (200, "success") for r in results)
    await gateway.settle()
    assert all(len(gateway.messages_to(o)) == 1 for o in openids)
    assert gateway.fake.state.token_fetch_count == 1


# -- sending: window, quota, errors, templates ------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Direct:
    channel: WeChatChannel
    fake: RunningFakeWeChat
    clock: Clock
    sessionmaker: async_sessionmaker[AsyncSession]

    async def worker(self, *, message: bool = True) -> Target:
        """A follower who has (by default) just written to us: the window is open."""
        openid = new_openid()
        async with session_scope(self.sessionmaker) as session:
            contact = await get_or_create_contact(session, channel="wechat", external_id=openid)
        self.fake.state.add_follower(openid)
        if message:
            self.fake.state.note_inbound(openid)
            await self.channel.open_window(contact.id)
        return Target(contact.id, openid)

    def sent(self, target: Target) -> list[str]:
        return [m.body["text"]["content"] for m in self.fake.state.sent_messages if m.touser == target.external_id]


@pytest.fixture
async def direct(fake: RunningFakeWeChat, http: aiohttp.ClientSession,
                 sessionmaker: async_sessionmaker[AsyncSession]) -> Direct:
    clock = Clock()
    channel = WeChatChannel(wechat_settings(fake), http=http, sessionmaker=sessionmaker,
                            template_id=TEMPLATE, clock=clock)
    return Direct(channel, fake, clock, sessionmaker)


async def test_a_turn_is_one_message_with_numbered_choices(direct: Direct) -> None:
    target = await direct.worker()
    await direct.channel.send(target, [
        Reply(text="收到，我来帮您登记欠薪。"),
        Reply(text="一共欠了多少钱？", buttons=(Button("不到一万", "/inform"), Button("一万以上", "/inform"))),
    ])
    [message] = direct.sent(target)
    assert message == "收到，我来帮您登记欠薪。\n\n一共欠了多少钱？\n\n回复数字：\n1. 不到一万\n2. 一万以上"


async def test_closed_window_means_no_api_call_and_not_now(direct: Direct) -> None:
    target = await direct.worker()
    direct.clock.advance(hours=48, seconds=1)
    with pytest.raises(NotNow):
        await direct.channel.send(target, [Reply(text="您的案件有进展了")])
    # WeChat itself still had the window open: a call would have gone through
    assert direct.sent(target) == []
    never_wrote = await direct.worker(message=False)
    with pytest.raises(NotNow):
        await direct.channel.send(never_wrote, [Reply(text="您好")])
    assert direct.sent(never_wrote) == []


async def test_the_sixth_message_after_one_inbound_waits(direct: Direct) -> None:
    target = await direct.worker()
    for n in range(5):
        await direct.channel.send(target, [Reply(text=f"第{n + 1}条")])
    direct.fake.state.note_inbound(target.external_id)  # WeChat would take more; we do not ask
    with pytest.raises(NotNow):
        await direct.channel.send(target, [Reply(text="第6条")])
    assert len(direct.sent(target)) == 5
    await direct.channel.open_window(target.contact_id)  # the worker writes again
    await direct.channel.send(target, [Reply(text="第6条")])
    assert direct.sent(target)[-1] == "第6条"


@pytest.mark.parametrize(("errcode", "expected"), [
    (45015, "not_now"), (45047, "not_now"), (43004, "unreachable"), (-1, "retryable"), (45009, "retryable"),
])
async def test_wechat_refusals_map_to_channel_errors(direct: Direct, errcode: int, expected: str) -> None:
    target = await direct.worker()
    direct.fake.state.fail_next("message/custom/send", errcode=errcode)
    with pytest.raises(ChannelError) as caught:
        await direct.channel.send(target, [Reply(text="您好")])
    error = caught.value
    assert {"not_now": isinstance(error, NotNow), "unreachable": error.unreachable and not error.retryable,
            "retryable": error.retryable and not error.unreachable and not isinstance(error, NotNow)}[expected]


async def test_a_failed_send_gives_its_quota_back(direct: Direct) -> None:
    target = await direct.worker()
    direct.fake.state.fail_next("message/custom/send", errcode=-1)
    with pytest.raises(ChannelError):
        await direct.channel.send(target, [Reply(text="第1条")])
    for n in range(5):
        await direct.channel.send(target, [Reply(text=f"第{n + 1}条")])
    assert len(direct.sent(target)) == 5


async def test_notify_inside_the_window_is_a_customer_service_message(direct: Direct) -> None:
    target = await direct.worker()
    await direct.channel.notify(target, "您的案件 GY-2026-000001 已受理", key="outbox-1")
    assert direct.sent(target) == ["您的案件 GY-2026-000001 已受理"]
    assert direct.fake.state.sent_templates == []


async def test_notify_outside_the_window_uses_the_template_once_per_key(direct: Direct) -> None:
    target = await direct.worker()
    direct.clock.advance(hours=49)
    for _ in range(2):  # e.g. the dispatcher crashed after sending and tries again
        await direct.channel.notify(target, "您的案件 GY-2026-000002 已办结", key="outbox-2")
    [template] = direct.fake.state.sent_templates
    assert (template.touser, template.template_id, template.client_msg_id) == (target.external_id, TEMPLATE, "outbox-2")
    assert template.data == {"content": {"value": "您的案件 GY-2026-000002 已办结"}}
    assert direct.sent(target) == []


async def test_notify_outside_the_window_without_a_template_waits(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    clock = Clock()
    channel = WeChatChannel(wechat_settings(fake), http=http, sessionmaker=sessionmaker, clock=clock)
    target = await Direct(channel, fake, clock, sessionmaker).worker()
    clock.advance(hours=49)
    with pytest.raises(NotNow):
        await channel.notify(target, "您的案件已办结", key="outbox-3")
    assert fake.state.sent_templates == [] and fake.state.sent_messages == []


async def test_a_status_update_makes_the_old_buttons_stale(direct: Direct) -> None:
    target = await direct.worker()
    await direct.channel.send(target, [Reply(text="选一个", buttons=(Button("欠薪", "/report_unpaid_wages"),))])
    assert await direct.channel.button_payload(target.external_id, "1") == "/report_unpaid_wages"
    await direct.channel.notify(target, "案件已办结，请回复 1-5 给我们打分", key="outbox-4")
    assert await direct.channel.button_payload(target.external_id, "1") is None


def test_long_turns_are_split_within_wechats_limits() -> None:
    text = "\n\n".join("欠薪" * 300 for _ in range(4))  # 4 × 1800 bytes
    chunks = split_text(text)
    assert len(chunks) == 4 and all(len(c.encode()) <= 2048 for c in chunks)
    assert "".join(chunks) == text.replace("\n\n", "")
    assert len(split_text("欠" * 10_000)) == 5 and split_text("欠" * 10_000)[-1].endswith("…")
    assert render_turn([Reply(image="https://example.org/a.png")]) == ("https://example.org/a.png", {})


# -- the access token ---------------------------------------------------------------------------


async def test_the_token_is_fetched_once_and_shared_through_the_database(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    def client() -> WeChatApi:  # one per gateway process
        return WeChatApi(http=http, base_url=fake.base_url, app_id=fake.state.app_id, app_secret=SECRET,
                         sessionmaker=sessionmaker)

    first, second = client(), client()
    fake.state.set_delay(0.2, "stable_token")  # both gateways ask while the first one fetches
    tokens = await asyncio.gather(*(c.access_token() for c in (first, second) for _ in range(5)))
    assert len(set(tokens)) == 1
    assert fake.state.token_fetch_count == 1


async def test_with_redis_configured_other_gateways_read_the_token_from_redis(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from redis.asyncio import Redis
    from sqlalchemy import delete

    from bot.cases.models import ChannelToken

    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await redis.ping()
    except Exception as exc:  # the machine's Redis is part of the test environment, as PostgreSQL is
        pytest.fail(f"Redis at 127.0.0.1:6379 not reachable: {exc}")
    try:
        def client() -> WeChatApi:
            return WeChatApi(http=http, base_url=fake.base_url, app_id=fake.state.app_id, app_secret=SECRET,
                             sessionmaker=sessionmaker, redis=redis)

        token = await client().access_token()
        assert fake.state.token_fetch_count == 1
        # the database forgets the token: a gateway with Redis still finds it there, fetches nothing
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(ChannelToken).where(ChannelToken.name == f"wechat:{fake.state.app_id}"))
        assert await client().access_token() == token
        assert fake.state.token_fetch_count == 1
        assert await redis.ttl(f"gongyou:channel-token:wechat:{fake.state.app_id}") > 7000 - 60
        # without Redis the same situation costs a fetch
        plain = WeChatApi(http=http, base_url=fake.base_url, app_id=fake.state.app_id, app_secret=SECRET,
                          sessionmaker=sessionmaker)
        await plain.access_token()
        assert fake.state.token_fetch_count == 2
    finally:
        await redis.delete(f"gongyou:channel-token:wechat:{fake.state.app_id}")
        await redis.aclose()


async def test_a_rejected_token_is_refreshed_once_and_the_call_retried_once(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    api = WeChatApi(http=http, base_url=fake.base_url, app_id=fake.state.app_id, app_secret=SECRET,
                    sessionmaker=sessionmaker)
    fake.state.note_inbound("o_worker")
    fake.state.fail_next("message/custom/send", errcode=42001)
    await api.send_custom("o_worker", {"msgtype": "text", "text": {"content": "第一条"}})
    assert [m.body["text"]["content"] for m in fake.state.sent_messages] == ["第一条"]
    fetches = fake.state.token_fetch_count
    fake.state.fail_next("message/custom/send", times=5, errcode=40001)
    with pytest.raises(WeChatApiError) as caught:
        await api.send_custom("o_worker", {"msgtype": "text", "text": {"content": "第二条"}})
    assert caught.value.errcode == 40001
    assert fake.state.take_failure("message/custom/send") is not None  # 2 of 5 used: no loop
    assert fake.state.token_fetch_count - fetches <= 2


async def test_an_expired_media_id_is_a_non_retryable_error(direct: Direct) -> None:
    with pytest.raises(ChannelError) as caught:
        await direct.channel.fetch_attachments({"files": [{"media_id": "gone", "kind": "photo"}]})
    assert not caught.value.retryable


# -- upload links ------------------------------------------------------------------------------


async def _upload(http: aiohttp.ClientSession, url: str, files: list[tuple[str, bytes, str]]) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("submission", uuid.uuid4().hex)
    for name, data, mime in files:
        form.add_field("file", data, filename=name, content_type=mime)
    async with http.post(url, data=form) as resp:
        return resp.status, await resp.text()


async def test_a_valid_upload_link_stores_the_files_as_evidence(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, text_xml(openid, "我有合同和工资条"))
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    link = upload_link(gateway.url, record.contact_id, UPLOAD_SECRET, ttl=600)
    async with http.get(link) as resp:
        assert resp.status == 200
        assert 'type="file"' in await resp.text()
    status, page = await _upload(http, link, [("劳动合同.pdf", b"%PDF-1.4 contract", "application/pdf"),
                                              ("工资条.png", PNG, "image/png")])
    assert status == 200 and "收到 2 份" in page
    await gateway.settle()
    items = await evidence_of(engine, openid)
    assert [(i.original_filename, i.kind, i.mime_type) for i in items] == [
        ("劳动合同.pdf", "document", "application/pdf"), ("工资条.png", "photo", "image/png")]
    assert len(gateway.messages_to(openid)) == 2  # the bot answered the upload in WeChat too


async def test_expired_or_forged_upload_links_are_403(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, text_xml(openid, "你好"))
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    expired = upload_link(gateway.url, record.contact_id, UPLOAD_SECRET, ttl=60, now=time.time() - 120)
    forged = upload_link(gateway.url, record.contact_id, "not-our-secret", ttl=600)
    token = make_upload_token(record.contact_id, UPLOAD_SECRET, expires_at=int(time.time()) + 600)
    other_contact = gateway.url + "/upload/" + token.replace(f"{record.contact_id}.", f"{record.contact_id + 1}.", 1)
    for url in (expired, forged, other_contact, gateway.url + "/upload/garbage"):
        async with http.get(url) as resp:
            assert resp.status == 403 and "过期" in await resp.text()
        assert (await _upload(http, url, [("a.pdf", b"%PDF", "application/pdf")]))[0] == 403
    assert await evidence_of(engine, openid) == []


async def test_an_upload_over_the_size_limit_stores_nothing(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    await gateway.post(http, text_xml(openid, "你好"))
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    link = upload_link(gateway.url, record.contact_id, UPLOAD_SECRET)
    status, page = await _upload(http, link, [("big.pdf", b"x" * (upload.MAX_FILE + 1), "application/pdf")])
    assert status == 413 and "MB" in page
    assert await evidence_of(engine, openid) == []


def test_the_evidence_question_on_wechat_carries_the_workers_upload_link() -> None:
    from bot.channels.base import Button, Reply
    from bot.channels.upload import get_token_contact, upload_link
    from bot.channels.wechat import render_turn

    link = upload_link("https://union.example.cn", 42, "s3cret")
    replies = [Reply(text="有证据的话现在就可以发照片", buttons=(Button("发完了", "发完了"),)), Reply(offer="upload")]
    text, choices = render_turn(replies, upload_url=link)
    assert link in text and "1. 发完了" in text and choices == {"1": "发完了"}
    assert get_token_contact(link.rsplit("/", 1)[1], "s3cret") == 42
    assert get_token_contact(link.rsplit("/", 1)[1], "another secret") is None
    # no link where the turn offers none
    assert "/upload/" not in render_turn(replies[:1], upload_url=link)[0]


# -- status updates outside the 48-hour window ---------------------------------------------------


async def _accepted_case_of_a_silent_worker(sessionmaker: async_sessionmaker[AsyncSession], openid: str) -> str:
    """A WeChat worker whose case staff just accepted; they last wrote long ago (no window)."""
    from bot.cases.demo import do_seed_demo
    from bot.cases.intake import CaseDraft, do_open_case
    from bot.cases.messages import get_or_create_contact
    from bot.cases.workflow import do_accept
    from bot.db import session_scope, utcnow

    async with session_scope(sessionmaker) as session:
        await do_seed_demo(session, history=False)
        contact = await get_or_create_contact(session, channel="wechat", external_id=openid)
        case = await do_open_case(session, contact=contact, actor="worker", now=utcnow(), draft=CaseDraft(
            category="unpaid_wages", employer="某某电子厂", location="义乌稠江街道", amount=8000))
        await do_accept(session, case=case, actor="staff:1", now=utcnow())
        return case.number


async def _timeline(sessionmaker: async_sessionmaker[AsyncSession], number: str) -> list[tuple[str, str | None]]:
    from bot.cases.queries import get_case_detail_or_raise

    async with sessionmaker() as session:
        return [(e["kind"], e["note"]) for e in (await get_case_detail_or_raise(session, number=number))["events"]]


async def test_outside_the_window_a_status_update_goes_as_a_template_message(
    gateway: Gateway, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from bot.db import utcnow
    from bot.notify.dispatcher import ChannelSender, Dispatcher

    openid = new_openid()
    gateway.fake.state.add_follower(openid)
    number = await _accepted_case_of_a_silent_worker(sessionmaker, openid)
    dispatcher = Dispatcher(sessionmaker=sessionmaker, senders={"wechat": ChannelSender(gateway.app[GATEWAY].wechat)})
    while await dispatcher.run_once(now=utcnow(), limit=500):  # the database holds other tests' rows too
        pass
    [template] = [t for t in gateway.fake.state.sent_templates if t.touser == openid]
    assert number in template.data["content"]["value"] and template.client_msg_id
    assert gateway.messages_to(openid) == []  # no customer-service message outside the window
    assert ("notification_sent", "经微信送达") in await _timeline(sessionmaker, number)


async def test_without_a_template_the_update_waits_for_the_workers_next_message(
    gateway: Gateway, sessionmaker: async_sessionmaker[AsyncSession], http: aiohttp.ClientSession
) -> None:
    from bot.db import utcnow
    from bot.notify.dispatcher import ChannelSender, Dispatcher

    openid = new_openid()
    gateway.fake.state.add_follower(openid)
    number = await _accepted_case_of_a_silent_worker(sessionmaker, openid)
    no_template = WeChatChannel(gateway.app[GATEWAY].wechat.settings, http=http, sessionmaker=sessionmaker)
    dispatcher = Dispatcher(sessionmaker=sessionmaker, senders={"wechat": ChannelSender(no_template)})
    while await dispatcher.run_once(now=utcnow(), limit=500):
        pass
    assert gateway.messages_to(openid) == [] and gateway.fake.state.sent_templates == []
    assert any(kind == "notification_held" for kind, _ in await _timeline(sessionmaker, number))

    # the worker writes: the bot's answer (Rasa is down here: "saved") and then the update
    status, _ = await gateway.post(http, text_xml(openid, "我的案子怎么样了", msg_id=int(uuid.uuid4().int % 10**12)))
    assert status == 200
    await gateway.settle()
    said = gateway.messages_to(openid)
    assert len(said) == 2 and "保存" in said[0] and f"您的案件 {number} 已被工会受理" in said[1]
    assert ("notification_sent", "with the worker's next message") in await _timeline(sessionmaker, number)


PAYLOADS = Path(__file__).resolve().parent / "payloads"


@pytest.mark.parametrize("mode", ["safe", "compatible"])
@pytest.mark.parametrize("payload, expect", [
    ("wechat_text.xml", {"text": "老板欠我两个月工资 一万二"}),
    ("wechat_voice.xml", {"text": "老板三个月没发工资了。"}),  # Recognition is the text; the audio is kept
    ("wechat_subscribe.xml", {"payload": "/greet"}),  # the welcome with the topic menu
    ("wechat_location.xml", {"text_contains": "稠江街道"}),
])
async def test_recorded_callbacks_replay_in_each_mode(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, payload: str, expect: dict, mode: str
) -> None:
    """Callback XML as WeChat sends it (with the fields the docs show, MsgDataId and all),
    replayed signed and encrypted as the account's mode requires."""
    openid = new_openid()
    media_id = gateway.fake.state.add_media(AMR, content_type="audio/amr", filename="voice.amr", kind="voice")
    xml = (PAYLOADS / payload).read_text().replace("{openid}", openid).replace("{media_id}", media_id)
    xml = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{uuid.uuid4().int % 10**17}</MsgId>", xml)
    status, body = await gateway.post(http, xml, mode=mode)
    assert (status, body) == (200, "success")
    await gateway.settle()
    [row] = await inbound_of(engine, openid)
    if "text" in expect:
        assert row.text == expect["text"]
    if "text_contains" in expect:
        assert expect["text_contains"] in (row.text or "")
    if "payload" in expect:
        assert row.payload == expect["payload"]
    if payload == "wechat_voice.xml":
        assert row.meta["attachments"][0]["size"] == len(AMR)
    assert gateway.messages_to(openid)  # answered on WeChat (Rasa is down here: "saved")


# -- replays, freshness, and text that looks like an intent -----------------------------------


@pytest.mark.parametrize(("age", "status"), [(310, 403), (-310, 403), (290, 200)])
async def test_a_callback_more_than_five_minutes_off_is_refused_and_nothing_stored(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, age: int, status: int
) -> None:
    openid = new_openid()
    xml = text_xml(openid, "老板欠我工资")
    stamp = str(int(time.time()) - age)  # signed by the real account, but old (or ahead)
    params, body = callback_request("safe", TOKEN, AES_KEY, gateway.fake.state.app_id, xml, timestamp=stamp)
    answer = await gateway.post(http, xml, query=params, body=body)
    await gateway.settle()
    assert answer[0] == status
    if status == 403:
        assert "5 minutes" in answer[1]
        assert await inbound_of(engine, openid) == []
    else:
        assert len(await inbound_of(engine, openid)) == 1


@pytest.mark.parametrize(("gateway", "mode"), [(None, "plain"), (AES_KEY, "safe")], indirect=["gateway"])
async def test_a_replayed_callback_is_stored_once_and_its_nonce_carries_no_other_message(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine, mode: str
) -> None:
    openid = new_openid()
    xml = text_xml(openid, "老板欠我三个月工资")
    params, body = callback_request(mode, TOKEN, AES_KEY, gateway.fake.state.app_id, xml)  # type: ignore[arg-type]
    assert await gateway.post(http, xml, query=params, body=body) == (200, "success")
    await gateway.settle()
    # the very same request again, after it was handled (WeChat retrying, or a logged copy)
    assert await gateway.post(http, xml, query=params, body=body) == (200, "success")
    # another message under the same signed timestamp and nonce: plain mode signs no body,
    # in safe mode even one the account signed itself reuses the nonce
    forged = text_xml(openid, "我撤回投诉，不用管了")
    if mode == "plain":
        forged_query, forged_body = params, forged.encode()
    else:
        forged_query, forged_body = callback_request("safe", TOKEN, AES_KEY, gateway.fake.state.app_id, forged,
                                                     timestamp=params["timestamp"], nonce=params["nonce"])
    status, answer = await gateway.post(http, forged, query=forged_query, body=forged_body)
    assert status == 403 and "nonce" in answer
    await gateway.settle()
    assert [r.text for r in await inbound_of(engine, openid)] == ["老板欠我三个月工资"]
    assert len(gateway.messages_to(openid)) == 1


async def test_a_retry_after_the_nonce_was_claimed_but_nothing_stored_is_stored(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid, msg_id = new_openid(), uuid.uuid4().int >> 66
    xml = text_xml(openid, "第一次没存上", msg_id=msg_id)
    params, body = callback_request("safe", TOKEN, AES_KEY, gateway.fake.state.app_id, xml)
    # the first try claimed the nonce, then the gateway died before the message was stored
    assert await gateway.app[GATEWAY].wechat.claim_callback(params, delivery=f"wechat:{msg_id}")
    assert await gateway.post(http, xml, query=params, body=body) == (200, "success")
    await gateway.settle()
    [record] = await inbound_of(engine, openid)
    assert record.text == "第一次没存上"


async def test_in_safe_mode_msg_signature_is_checked_before_the_message_inside_is_read(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    before = await inbound_count(engine)
    nonce, ts = str(uuid.uuid4().int % 10**10), str(int(time.time()))
    crypto = WeChatCrypto(TOKEN, AES_KEY, gateway.fake.state.app_id)
    sealed = ET.fromstring(crypto.encrypt_message("<xml><FromUserName>o_x</FromUserName><MsgType>te", nonce, ts))
    query = {"signature": wechat_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature") or ""}
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{sealed.findtext('Encrypt')}</Encrypt></xml>".encode()
    status, answer = await gateway.post(http, text_xml("o_x", "x"), query={**query, "msg_signature": "0" * 40},
                                        body=body)
    assert (status, answer) == (403, "bad msg_signature")
    # signed by the account, the same broken message is read, and is malformed
    assert await gateway.post(http, text_xml("o_x", "x"), query=query, body=body) == (400, "malformed XML")
    assert await inbound_count(engine) == before


async def test_text_that_looks_like_an_intent_is_stored_and_sent_to_rasa_as_words(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    openid = new_openid()
    injected = '/inform{"amount": 99999}'
    assert await gateway.post(http, text_xml(openid, injected)) == (200, "success")
    assert await gateway.post(http, text_xml(openid, " ／greet")) == (200, "success")
    await gateway.settle()
    record, fullwidth = await inbound_of(engine, openid)
    assert record.payload is None and not record.text.strip().startswith("/")
    assert record.text == '／inform{"amount": 99999}'  # the worker's words, as they read
    assert (fullwidth.text, fullwidth.payload) == ("／greet", None)


async def test_in_safe_mode_a_dtd_in_the_envelope_is_refused_before_msg_signature_is_looked_at(
    gateway: Gateway, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    before = await inbound_count(engine)
    nonce, ts = str(uuid.uuid4().int % 10**10), str(int(time.time()))
    # a signed query (as a logged callback URL holds one) with a body nobody signed
    query = {"signature": wechat_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": "0" * 40}
    body = ('<!-- <xml> --><!DOCTYPE xml [<!ENTITY e "AAAA">]>'
            "<xml><ToUserName>gh</ToUserName><Encrypt>&e;</Encrypt></xml>")
    status, answer = await gateway.post(http, text_xml("o_x", "x"), query=query, body=body.encode())
    assert status == 400 and "DOCTYPE" in answer
    assert await inbound_count(engine) == before
