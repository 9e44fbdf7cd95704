"""The fake WeChat API over real HTTP, and its wire compatibility with wechatpy 1.8.18."""

from __future__ import annotations

import ast
import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from wechatpy import parse_message
from wechatpy.client import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import (
    APILimitedException,
    InvalidAppIdException,
    InvalidSignatureException,
    WeChatClientException,
)
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.fakes.wechat import RunningFakeWeChat, running_fake_wechat
from bot.fakes.wechat_callbacks import (
    DEFAULT_ACCOUNT,
    callback_request,
    decrypt_reply,
    event_xml,
    image_xml,
    new_aes_key,
    link_xml,
    location_xml,
    text_xml,
    verification_request,
    video_xml,
    voice_xml,
)

APP_ID = "wx0123456789abcdef"
SECRET = "app-secret-for-tests"
T0 = 1_700_000_000.0
TEMPLATE = "TPL_CASE_STATUS"
CALLBACK_TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # the example key of WeChat's docs
HOUR = 3600


@pytest.fixture
async def fake() -> AsyncIterator[RunningFakeWeChat]:
    async with running_fake_wechat(APP_ID, SECRET, clock=lambda: T0, templates=[TEMPLATE]) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch_token(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, **params: str
) -> dict[str, Any]:
    query = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET, **params}
    async with http.get(f"{fake.base_url}/cgi-bin/token", params=query) as resp:
        return await resp.json()


async def stable_token(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, *, force: bool = False
) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET,
            "force_refresh": force}
    async with http.post(f"{fake.base_url}/cgi-bin/stable_token", json=body) as resp:
        return await resp.json()


async def api(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, endpoint: str, token: str, *,
    body: dict[str, Any] | None = None, **params: str,
) -> dict[str, Any]:
    """Call ``/cgi-bin/<endpoint>``: POST when there is a body, else GET; the JSON answer."""
    url = f"{fake.base_url}/cgi-bin/{endpoint}"
    method = "POST" if body is not None else "GET"
    async with http.request(method, url, params={"access_token": token, **params}, json=body) as resp:
        assert resp.status == 200
        return await resp.json()


async def send_text(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, token: str, openid: str, text: str
) -> dict[str, Any]:
    body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
    return await api(http, fake, "message/custom/send", token, body=body)


async def probe(http: aiohttp.ClientSession, fake: RunningFakeWeChat, token: str) -> int:
    """The errcode of a call that passes the token check only to fail on the media id."""
    return (await api(http, fake, "media/get", token, media_id="none"))["errcode"]


class FakeBackedWeChatClient(WeChatClient):
    """Sends wechatpy's token fetch to the fake: 1.8.18 hard-codes the real token URL.

    Test-only, to prove wire compatibility; production code should not subclass the client.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(APP_ID, SECRET, auto_retry=False)
        self.API_BASE_URL = f"{base_url}/cgi-bin/"
        self._token_url = f"{base_url}/cgi-bin/token"

    def fetch_access_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return self._fetch_access_token(url=self._token_url, params=params)


# -- access tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("appid", "secret", "errcode"), [(APP_ID, "wrong", 40125), ("wx_other", SECRET, 40013)]
)
async def test_token_endpoints_refuse_wrong_credentials(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession, appid: str, secret: str, errcode: int
) -> None:
    answer = await fetch_token(http, fake, appid=appid, secret=secret)
    body = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    async with http.post(f"{fake.base_url}/cgi-bin/stable_token", json=body) as resp:
        stable = await resp.json()
    assert answer["errcode"] == stable["errcode"] == errcode
    assert "access_token" not in answer
    assert fake.state.token_fetch_count == 0


async def test_a_new_token_retires_the_previous_one_after_five_minutes(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    first = await fetch_token(http, fake)
    second = await fetch_token(http, fake)
    assert first["expires_in"] == second["expires_in"] == 7200
    assert first["access_token"] != second["access_token"]
    fake.state.advance(299)
    assert await probe(http, fake, first["access_token"]) == 40007  # still inside the overlap
    fake.state.advance(2)
    answer = await api(http, fake, "media/get", first["access_token"], media_id="none")
    assert answer["errcode"] == 40001
    assert answer["errmsg"].startswith("invalid credential, access_token is invalid or not latest")
    assert await probe(http, fake, second["access_token"]) == 40007
    fake.state.advance(7200)
    assert await probe(http, fake, second["access_token"]) == 42001
    assert fake.state.token_fetches == {"token": 2, "stable_token": 0}


async def test_stable_token_is_the_same_until_forced(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    first = await stable_token(http, fake)
    fake.state.advance(100)
    again = await stable_token(http, fake)
    assert again == {"access_token": first["access_token"], "expires_in": 7100}
    forced = await stable_token(http, fake, force=True)
    assert forced["access_token"] != first["access_token"]
    assert forced["expires_in"] == 7200
    fake.state.advance(301)
    assert await probe(http, fake, first["access_token"]) == 40001
    assert await probe(http, fake, forced["access_token"]) == 40007
    async with http.get(f"{fake.base_url}/_fake/tokens") as resp:
        assert await resp.json() == {"fetches": 3, "by_endpoint": {"token": 0, "stable_token": 3}}


async def test_calls_without_a_valid_token_are_refused(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    assert await probe(http, fake, "made-up") == 40001
    async with http.get(f"{fake.base_url}/cgi-bin/media/get", params={"media_id": "x"}) as resp:
        assert (await resp.json())["errcode"] == 41001


# -- wechatpy against the fake ---------------------------------------------------------


async def test_wechatpy_client_fetches_a_token_once_and_sends_text(fake: RunningFakeWeChat) -> None:
    fake.state.note_inbound("o_worker")
    client = FakeBackedWeChatClient(fake.base_url)
    first = await asyncio.to_thread(client.message.send_text, "o_worker", "您好，您的个案已登记。")
    await asyncio.to_thread(client.message.send_text, "o_worker", "第二条")
    assert first == {"errcode": 0, "errmsg": "ok"}
    assert fake.state.token_fetch_count == 1
    assert [m.body for m in fake.state.sent_messages] == [
        {"touser": "o_worker", "msgtype": "text", "text": {"content": "您好，您的个案已登记。"}},
        {"touser": "o_worker", "msgtype": "text", "text": {"content": "第二条"}},
    ]


async def test_wechatpy_with_a_shared_token_never_fetches_one(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    # The pattern for the gateway: one owner fetches, the client only reads, no subclass.
    token = (await stable_token(http, fake))["access_token"]
    client = WeChatClient(APP_ID, SECRET, access_token=token, auto_retry=False)
    client.API_BASE_URL = f"{fake.base_url}/cgi-bin/"
    fake.state.note_inbound("o_worker")
    await asyncio.to_thread(client.message.send_text, "o_worker", "ok")
    fake.state.advance(7201)
    with pytest.raises(WeChatClientException) as caught:
        await asyncio.to_thread(client.message.send_text, "o_worker", "too late")
    assert caught.value.errcode == 42001
    assert fake.state.token_fetch_count == 1
    assert len(fake.state.sent_messages) == 1


async def test_wechatpy_sees_injected_quota_and_http_errors(fake: RunningFakeWeChat) -> None:
    fake.state.note_inbound("o_worker")
    client = FakeBackedWeChatClient(fake.base_url)
    fake.state.fail_next("message/custom/send", errcode=45009)
    fake.state.fail_next("/cgi-bin/message/custom/send", http_status=500)
    with pytest.raises(APILimitedException):
        await asyncio.to_thread(client.message.send_text, "o_worker", "a")
    with pytest.raises(WeChatClientException) as caught:
        await asyncio.to_thread(client.message.send_text, "o_worker", "b")
    assert caught.value.errcode is None
    assert caught.value.response.status_code == 500
    await asyncio.to_thread(client.message.send_text, "o_worker", "c")
    assert [m.body["text"]["content"] for m in fake.state.sent_messages] == ["c"]


async def test_wechatpy_uploads_and_downloads_media(fake: RunningFakeWeChat) -> None:
    client = FakeBackedWeChatClient(fake.base_url)
    upload = ("receipt.jpg", b"\xff\xd8jpeg", "image/jpeg")  # a requests file tuple
    uploaded = await asyncio.to_thread(client.media.upload, "image", upload)
    assert uploaded["type"] == "image"
    assert uploaded["created_at"] == int(T0)
    stored = fake.state.media[uploaded["media_id"]]
    assert (stored.filename, stored.content_type) == ("receipt.jpg", "image/jpeg")
    response = await asyncio.to_thread(client.media.download, uploaded["media_id"])
    assert response.content == b"\xff\xd8jpeg"
    assert response.headers["Content-Type"] == "image/jpeg"


async def test_wechatpy_generic_post_carries_client_msg_id(fake: RunningFakeWeChat) -> None:
    # send_template has no client_msg_id parameter, so the gateway posts the body itself.
    fake.state.add_follower("o_worker")
    client = FakeBackedWeChatClient(fake.base_url)
    body = {"touser": "o_worker", "template_id": TEMPLATE, "data": {"first": {"value": "x"}},
            "client_msg_id": "outbox-7"}
    first = await asyncio.to_thread(client.post, "message/template/send", data=body)
    again = await asyncio.to_thread(client.post, "message/template/send", data=body)
    assert first["msgid"] == again["msgid"]
    assert len(fake.state.sent_templates) == 1


# -- customer-service messages ---------------------------------------------------------


async def test_customer_service_window_closes_48_hours_after_the_last_inbound(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.add_follower("o_worker")
    assert (await send_text(http, fake, token, "o_worker", "never wrote"))["errcode"] == 45015
    fake.state.note_inbound("o_worker")
    fake.state.advance(48 * HOUR - 60)
    token = (await fetch_token(http, fake))["access_token"]  # the first one has expired
    assert (await send_text(http, fake, token, "o_worker", "just in time"))["errcode"] == 0
    fake.state.advance(61)
    answer = await send_text(http, fake, token, "o_worker", "too late")
    assert answer["errcode"] == 45015
    assert answer["errmsg"].startswith("response out of time limit or subscription is canceled")
    fake.state.note_inbound("o_worker")
    assert (await send_text(http, fake, token, "o_worker", "after a new message"))["errcode"] == 0
    contents = [m.body["text"]["content"] for m in fake.state.sent_messages]
    assert contents == ["just in time", "after a new message"]


async def test_five_customer_service_messages_per_inbound_message(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.note_inbound("o_worker")
    answers = [(await send_text(http, fake, token, "o_worker", f"m{i}"))["errcode"]
               for i in range(6)]
    assert answers == [0, 0, 0, 0, 0, 45047]
    fake.state.note_inbound("o_worker")
    assert (await send_text(http, fake, token, "o_worker", "m6"))["errcode"] == 0
    assert len(fake.state.sent_messages) == 6


async def test_sends_to_non_followers_answer_43004(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    assert (await send_text(http, fake, token, "o_stranger", "hi"))["errcode"] == 43004
    fake.state.note_callback(text_xml("o_worker", "你好"))
    assert (await send_text(http, fake, token, "o_worker", "hi"))["errcode"] == 0
    fake.state.note_callback(event_xml("o_worker", "unsubscribe"))
    assert (await send_text(http, fake, token, "o_worker", "hi"))["errcode"] == 43004


async def test_image_and_menu_messages_are_checked_and_recorded(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.note_inbound("o_worker")
    media_id = fake.state.add_media(b"png", content_type="image/png", filename="a.png")
    menu = {"head_content": "请选择", "list": [{"id": "1", "content": "是"}], "tail_content": ""}
    bodies = [
        {"touser": "o_worker", "msgtype": "image", "image": {"media_id": "unknown"}},
        {"touser": "o_worker", "msgtype": "image", "image": {"media_id": media_id}},
        {"touser": "o_worker", "msgtype": "msgmenu", "msgmenu": menu},
        {"touser": "o_worker", "msgtype": "text", "text": {"content": ""}},
        {"touser": "o_worker", "msgtype": "news", "news": {"articles": []}},
    ]
    codes = [(await api(http, fake, "message/custom/send", token, body=b))["errcode"] for b in bodies]
    assert codes == [40007, 0, 0, 44004, 40008]
    assert [m.msgtype for m in fake.state.sent_messages] == ["image", "msgmenu"]


# -- template messages -----------------------------------------------------------------


async def test_template_with_a_repeated_client_msg_id_is_recorded_once(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.add_follower("o_worker")  # no inbound needed: templates have no window
    body = {"touser": "o_worker", "template_id": TEMPLATE, "url": "https://example.org/c/1",
            "data": {"keyword1": {"value": "已受理"}}, "client_msg_id": "outbox-42"}
    first = await api(http, fake, "message/template/send", token, body=body)
    fake.state.advance(599)
    repeat = await api(http, fake, "message/template/send", token, body=body)
    assert first["errcode"] == repeat["errcode"] == 0
    assert repeat["msgid"] == first["msgid"]
    assert len(fake.state.sent_templates) == 1
    fake.state.advance(2)
    later = await api(http, fake, "message/template/send", token, body=body)
    assert later["msgid"] != first["msgid"]
    assert [t.data for t in fake.state.sent_templates] == [body["data"], body["data"]]


async def test_template_refusals(fake: RunningFakeWeChat, http: aiohttp.ClientSession) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.add_follower("o_worker")
    unknown = {"touser": "o_worker", "template_id": "TPL_NONE", "data": {}}
    stranger = {"touser": "o_stranger", "template_id": TEMPLATE, "data": {}}
    assert (await api(http, fake, "message/template/send", token, body=unknown))["errcode"] == 40037
    assert (await api(http, fake, "message/template/send", token, body=stranger))["errcode"] == 43004
    assert fake.state.sent_templates == []


# -- media -----------------------------------------------------------------------------


async def test_media_download_returns_the_bytes_until_three_days_pass(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    media_id = fake.state.add_media(
        b"#!AMR\n...", content_type="audio/amr", filename="voice.amr", kind="voice"
    )
    fake.state.advance(3 * 24 * HOUR - 10)
    token = (await fetch_token(http, fake))["access_token"]
    params = {"access_token": token, "media_id": media_id}
    async with http.get(f"{fake.base_url}/cgi-bin/media/get", params=params) as resp:
        assert await resp.read() == b"#!AMR\n..."
        assert resp.headers["Content-Type"] == "audio/amr"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="voice.amr"'
    fake.state.advance(11)
    answer = await api(http, fake, "media/get", token, media_id=media_id)
    assert answer["errcode"] == 40007
    assert answer["errmsg"].startswith("invalid media_id")


async def test_video_media_answers_with_a_url_that_serves_the_bytes(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    media_id = fake.state.add_media(
        b"mp4data", content_type="video/mp4", filename="v.mp4", kind="video"
    )
    token = (await fetch_token(http, fake))["access_token"]
    answer = await api(http, fake, "media/get", token, media_id=media_id)
    assert set(answer) == {"video_url"}
    async with http.get(answer["video_url"]) as resp:
        assert resp.status == 200
        assert await resp.read() == b"mp4data"


# -- failure injection and control routes ----------------------------------------------


async def test_injected_failures_answer_then_stop(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.note_inbound("o_worker")
    fake.state.fail_next("message/custom/send", 2)
    codes = [(await send_text(http, fake, token, "o_worker", "x"))["errcode"] for _ in range(3)]
    assert codes == [-1, -1, 0]
    assert len(fake.state.sent_messages) == 1
    fake.state.fail_next("token", http_status=500)
    async with http.get(f"{fake.base_url}/cgi-bin/token") as resp:
        assert resp.status == 500


async def test_delay_applies_to_the_chosen_endpoint_only(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await fetch_token(http, fake))["access_token"]
    fake.state.note_inbound("o_worker")
    fake.state.set_delay(0.3, "message/custom/send")
    started = time.monotonic()
    assert (await send_text(http, fake, token, "o_worker", "slow"))["errcode"] == 0
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await probe(http, fake, token)
    assert time.monotonic() - started < 0.3


async def test_control_routes_drive_the_fake_over_http(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    base = f"{fake.base_url}/_fake"

    async def control(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with http.post(f"{base}/{path}", json=body) as resp:
            return resp.status, (await resp.json() if resp.status == 200 else await resp.text())

    assert (await control("add_follower", {"openid": "o_a"}))[1]["following"] is True
    status, follower = await control("note_inbound", {"openid": "o_a"})
    assert (status, follower["last_inbound_at"]) == (200, T0)
    assert (await control("advance", {"seconds": 60})) == (200, {"result": T0 + 60})
    assert (await control("fail_next", {"endpoint": "message/custom/send", "errcode": 45009}))[0] == 200
    assert (await control("add_template", {"template_id": "TPL_B"}))[0] == 200
    assert (await control("delete_everything", {}))[0] == 404
    assert (await control("note_inbound", {"who": "o_a"}))[0] == 400
    async with http.post(f"{base}/media", params={"kind": "image", "filename": "p.png"}, data=b"PNG",
                         headers={"Content-Type": "image/png"}) as resp:
        media_id = (await resp.json())["media_id"]
    assert fake.state.media[media_id].data == b"PNG"
    assert "TPL_B" in fake.state.templates

    token = (await fetch_token(http, fake))["access_token"]
    assert (await send_text(http, fake, token, "o_a", "first"))["errcode"] == 45009
    assert (await send_text(http, fake, token, "o_a", "second"))["errcode"] == 0
    async with http.get(f"{base}/messages") as resp:
        messages = (await resp.json())["messages"]
    seen = [(m["touser"], m["body"]["text"]["content"], m["sent_at"]) for m in messages]
    assert seen == [("o_a", "second", T0 + 60)]
    async with http.get(f"{base}/tokens") as resp:
        assert (await resp.json())["fetches"] == 1


# -- callbacks: WeChat's side ----------------------------------------------------------

def decrypt(query: dict[str, str], body: bytes | str, app_id: str = APP_ID) -> str:
    """What our gateway does with a safe-mode request: wechatpy checks msg_signature."""
    crypto = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, app_id)
    return crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])


BUILDERS = [
    pytest.param(lambda: text_xml("o_w", "工资被拖欠"), "text",
                 lambda m: m.content, "工资被拖欠", id="text"),
    pytest.param(lambda: image_xml("o_w", "mid-1", "http://pic/1"), "image",
                 lambda m: (m.media_id, m.image), ("mid-1", "http://pic/1"), id="image"),
    pytest.param(lambda: voice_xml("o_w", "mid-2", recognition="你好"), "voice",
                 lambda m: (m.media_id, m.format, m.recognition), ("mid-2", "amr", "你好"), id="voice"),
    pytest.param(lambda: video_xml("o_w", "mid-3", "thumb-3"), "video",
                 lambda m: (m.media_id, m.thumb_media_id), ("mid-3", "thumb-3"), id="video"),
    pytest.param(lambda: video_xml("o_w", "mid-4", "thumb-4", short=True), "shortvideo",
                 lambda m: m.media_id, "mid-4", id="shortvideo"),
    # wechatpy reads coordinates as strings
    pytest.param(lambda: location_xml("o_w", 23.13, 113.26, label="广州"), "location",
                 lambda m: (m.location, m.label), (("23.13", "113.26"), "广州"), id="location"),
    pytest.param(lambda: link_xml("o_w", "合同", "https://example.org/c"), "link",
                 lambda m: (m.title, m.url), ("合同", "https://example.org/c"), id="link"),
    pytest.param(lambda: event_xml("o_w", "subscribe"), "event",
                 lambda m: m.event, "subscribe", id="subscribe"),
    pytest.param(lambda: event_xml("o_w", "unsubscribe"), "event",
                 lambda m: m.event, "unsubscribe", id="unsubscribe"),
    pytest.param(lambda: event_xml("o_w", "CLICK", event_key="MY_CASES"), "event",
                 lambda m: (m.event, m.key), ("click", "MY_CASES"), id="click"),
]


@pytest.mark.parametrize(("build", "msg_type", "read", "expected"), BUILDERS)
def test_safe_mode_callback_decrypts_with_wechatpy(
    build: Callable[[], str], msg_type: str, read: Callable[[Any], object], expected: object
) -> None:
    query, body = callback_request("safe", CALLBACK_TOKEN, AES_KEY, APP_ID, build())
    assert query["encrypt_type"] == "aes"
    assert [child.tag for child in ET.fromstring(body)] == ["ToUserName", "Encrypt"]
    check_signature(CALLBACK_TOKEN, query["signature"], query["timestamp"], query["nonce"])
    message = parse_message(decrypt(query, body))
    assert message.type == msg_type
    assert message.source == query["openid"] == "o_w"
    assert message.target == DEFAULT_ACCOUNT
    assert read(message) == expected


def test_events_carry_no_msg_id_and_messages_do() -> None:
    assert parse_message(event_xml("o_w", "subscribe", create_time=1)).id == 0
    assert parse_message(text_xml("o_w", "hi", msg_id=123)).id == 123


def test_safe_mode_callback_refuses_the_wrong_app_id_or_signature() -> None:
    query, body = callback_request("safe", CALLBACK_TOKEN, AES_KEY, APP_ID, text_xml("o_w", "x"))
    with pytest.raises(InvalidAppIdException):
        decrypt(query, body, app_id="wx_other")
    with pytest.raises(InvalidSignatureException):  # signature, not msg_signature
        decrypt({**query, "msg_signature": query["signature"]}, body)


def test_plain_mode_signature_passes_check_signature() -> None:
    xml = text_xml("o_w", "]]> survives CDATA")
    query, body = callback_request(
        "plain", CALLBACK_TOKEN, None, APP_ID, xml, timestamp="1700000000", nonce="42"
    )
    assert body == xml.encode()
    assert "encrypt_type" not in query
    check_signature(CALLBACK_TOKEN, query["signature"], "1700000000", "42")
    with pytest.raises(InvalidSignatureException):
        check_signature("other-token", query["signature"], "1700000000", "42")
    with pytest.raises(InvalidSignatureException):
        check_signature(CALLBACK_TOKEN, query["signature"], "1700000001", "42")
    assert parse_message(body).content == "]]> survives CDATA"
    verify = verification_request(CALLBACK_TOKEN, "echo-123")
    check_signature(CALLBACK_TOKEN, verify["signature"], verify["timestamp"], verify["nonce"])


def test_compatible_mode_sends_plain_fields_and_encrypt() -> None:
    xml = text_xml("o_w", "两份")
    query, body = callback_request("compatible", CALLBACK_TOKEN, AES_KEY, APP_ID, xml)
    assert parse_message(body).content == "两份"
    assert ET.fromstring(body).findtext("Encrypt")
    assert parse_message(decrypt(query, body)).content == "两份"
    with pytest.raises(ValueError, match="EncodingAESKey"):
        callback_request("safe", CALLBACK_TOKEN, None, APP_ID, text_xml("o_w", "x"))


def test_a_new_aes_key_works_with_wechatpy() -> None:
    key = new_aes_key()
    assert len(key) == 43
    query, body = callback_request("safe", CALLBACK_TOKEN, key, APP_ID, text_xml("o_w", "钥匙"))
    crypto = WeChatCrypto(CALLBACK_TOKEN, key, APP_ID)
    plain = crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
    assert parse_message(plain).content == "钥匙"


def test_decrypt_reply_reads_an_encrypted_passive_reply() -> None:
    reply = TextReply(source=DEFAULT_ACCOUNT, target="o_w", content="已收到").render()
    sealed = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, APP_ID).encrypt_message(reply, "77", "1700000000")
    assert parse_message(decrypt_reply(sealed, CALLBACK_TOKEN, AES_KEY, APP_ID)).content == "已收到"
    tampered = sealed.replace("<Nonce><![CDATA[77]]>", "<Nonce><![CDATA[78]]>")
    assert tampered != sealed
    with pytest.raises(InvalidSignatureException):
        decrypt_reply(tampered, CALLBACK_TOKEN, AES_KEY, APP_ID)


async def test_post_callback_notes_the_message_and_reaches_the_gateway(
    fake: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    received: list[Any] = []

    async def gateway(request: web.Request) -> web.Response:
        q = request.query
        check_signature(CALLBACK_TOKEN, q["signature"], q["timestamp"], q["nonce"])
        received.append(parse_message(decrypt(dict(q), await request.read())))
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = "http://{}:{}/wechat".format(*runner.addresses[0][:2])
    try:
        status, body = await fake.state.post_callback(
            http, url, text_xml("o_new", "我要投诉"), token=CALLBACK_TOKEN, mode="safe", aes_key=AES_KEY
        )
        assert (status, body) == (200, b"success")
        assert received[0].content == "我要投诉"
        token = (await fetch_token(http, fake))["access_token"]
        assert (await send_text(http, fake, token, "o_new", "已收到"))["errcode"] == 0
        await fake.state.post_callback(
            http, url, event_xml("o_new", "unsubscribe"),
            token=CALLBACK_TOKEN, mode="safe", aes_key=AES_KEY,
        )
        assert received[1].event == "unsubscribe"
        assert (await send_text(http, fake, token, "o_new", "再见"))["errcode"] == 43004
    finally:
        await runner.cleanup()


def test_the_fakes_import_nothing_of_the_bot() -> None:
    forbidden = ("bot.channels", "bot.web", "bot.dialogue", "actions")
    folder = Path(__file__).resolve().parents[2] / "bot" / "fakes"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            bad = [n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)]
            assert not bad, f"{path.name} imports {bad}"
