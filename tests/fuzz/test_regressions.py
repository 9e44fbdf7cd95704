"""One test per bug the fuzzing found, each the smallest request that showed it.

Every request goes through :meth:`Fuzz.check` (no 5xx, no stack trace, a refusal stores
nothing), and each test says what the answer is now. On both database kinds: several of
these were 500s on PostgreSQL only (NUL characters, lengths past a column's, NaN in JSON).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.cases.evidence import EvidenceItem
from bot.cases.models import Contact, InboundRecord
from bot.fakes.wechat_callbacks import callback_request, text_xml
from tests.fuzz.harness import AES_KEY, APP_ID, TELEGRAM_SECRET, WECHAT_TOKEN, Answer, Fuzz, HttpRequest



@pytest.fixture(scope="module")
def fuzz(fuzz: Fuzz) -> Iterator[Fuzz]:
    """The package's gateways, counting these hand-made requests apart from the generated ones."""
    checker = Fuzz(fuzz.gateways, fuzz.http)
    yield checker
    checker.close()


async def checked(fuzz: Fuzz, request: HttpRequest) -> Answer:
    answer = await fuzz.check(request)
    assert answer is not None
    return answer


def wechat(fuzz: Fuzz, xml: str, *, mode: str = "safe") -> HttpRequest:
    query, body = callback_request(mode, WECHAT_TOKEN, AES_KEY, APP_ID, xml, nonce=fuzz.ctx.fresh_nonce())  # type: ignore[arg-type]
    return HttpRequest("wechat", mode, "POST", "/wechat?" + urlencode(query), headers=(("Content-Type", "text/xml"),),
                       body=body, target="plain" if mode == "plain" else "aes")


def telegram(body: bytes, *, content_type: str = "application/json") -> HttpRequest:
    return HttpRequest("telegram", "regression", "POST", "/telegram/webhook", body=body,
                       headers=(("Content-Type", content_type), ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)))


def chat(body: bytes, *, content_type: str = "application/json") -> HttpRequest:
    return HttpRequest("chat/messages", "regression", "POST", "/chat/api/messages", body=body,
                       headers=(("Content-Type", content_type),))


def update(fuzz: Fuzz, **message: object) -> dict[str, object]:
    user = fuzz.ctx.unique() % 10**10
    return {"update_id": fuzz.ctx.unique(), "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "阿明"}, **message}}


def multipart(*parts: tuple[str, bytes]) -> tuple[str, bytes]:
    """(Content-Type, body) of ``parts``, each (its headers as one string, its content)."""
    body = b"".join(b"--fzb\r\n" + head.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + content + b"\r\n"
                    for head, content in parts) + b"--fzb--\r\n"
    return "multipart/form-data; boundary=fzb", body


def files_request(fuzz: Fuzz, *parts: tuple[str, bytes], route: str = "chat/files") -> HttpRequest:
    content_type, body = multipart(*parts)
    path = "/chat/api/files" if route == "chat/files" else f"/upload/{fuzz.ctx.upload_token(fuzz.ctx.contact_ids[0])}"
    return HttpRequest(route, "regression", "POST", path, headers=(("Content-Type", content_type),), body=body)


def sender_parts(fuzz: Fuzz) -> list[tuple[str, bytes]]:
    sender = f"fz-{fuzz.ctx.unique()}"
    return [('Content-Disposition: form-data; name="sender"', sender.encode()),
            ('Content-Disposition: form-data; name="session"', fuzz.ctx.session_for(sender).encode())]


async def inbound(fuzz: Fuzz, dedupe_key: str) -> InboundRecord | None:
    async with fuzz.gateways.engine.connect() as connection:
        row = (await connection.execute(select(InboundRecord.text, InboundRecord.contact_id)
                                        .where(InboundRecord.dedupe_key == dedupe_key))).first()
    return row  # type: ignore[return-value]


# -- any route: a compressed request body ------------------------------------------------------


@pytest.mark.parametrize("path", ["/wechat", "/telegram/webhook", "/chat/api/messages", "/chat/api/files"])
async def test_a_body_not_in_its_content_encoding_is_refused_not_a_500(fuzz: Fuzz, path: str) -> None:
    """Was: 500 (aiohttp's RequestPayloadError while the handler read the body)."""
    request = HttpRequest("any", "regression", "POST", path, body=b"not gzip at all",
                          headers=(("Content-Encoding", "gzip"), ("Content-Type", "application/json"),
                                   ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)))
    assert (await checked(fuzz, request)).status == 415


async def test_raw_deflate_that_never_ends_is_answered_at_once_and_the_connection_stays_usable(fuzz: Fuzz) -> None:
    """Was: no answer at all (the handler waited for the end of a deflate stream that never
    came, until the client gave up); then, once refused, the unread body was read as the
    next request on the same kept-alive connection, which hung in its turn."""
    endless = HttpRequest("chat/messages", "regression", "POST", "/chat/api/messages", body=b"[" * 320_000,
                          headers=(("Content-Encoding", "deflate"), ("Content-Type", "application/json")))
    assert (await asyncio.wait_for(checked(fuzz, endless), timeout=20)).status == 415
    after = chat(json.dumps({"sender": f"fz-{fuzz.ctx.unique()}", "text": "你好"}).encode())
    assert (await asyncio.wait_for(checked(fuzz, after), timeout=20)).status == 200


# -- JSON bodies (Telegram, web chat) ---------------------------------------------------------


@pytest.mark.parametrize("make", [telegram, chat], ids=["telegram", "webchat"])
async def test_json_nested_too_deep_is_a_400(fuzz: Fuzz, make) -> None:  # type: ignore[no-untyped-def]
    """Was: 500 (RecursionError from json.loads)."""
    assert (await checked(fuzz, make(b"[" * 5000 + b"]" * 5000))).status == 400


@pytest.mark.parametrize("make", [telegram, chat], ids=["telegram", "webchat"])
async def test_json_in_a_charset_python_does_not_know_is_a_400(fuzz: Fuzz, make) -> None:  # type: ignore[no-untyped-def]
    """Was: 500 (LookupError decoding the body in the charset of its Content-Type)."""
    request = make(b'{"update_id": 1}', content_type="application/json; charset=bogus")
    assert (await checked(fuzz, request)).status == 400


@pytest.mark.parametrize("text", ["a\ud800b", "\udfff", "a\x00b"])
async def test_web_chat_text_no_column_can_store_is_a_400(fuzz: Fuzz, text: str) -> None:
    """Was: 500 (a lone surrogate has no UTF-8, on both databases; PostgreSQL refuses NUL)."""
    for field in ("text", "message_id", "payload"):
        body = {"sender": f"fz-{fuzz.ctx.unique()}", "text": "你好", field: ("/" if field == "payload" else "") + text}
        answer = await checked(fuzz, chat(json.dumps(body).encode()))
        assert answer.status == 400 and b"cannot be stored" in answer.body, (field, answer)


async def test_telegram_words_with_nul_or_half_a_surrogate_pair_are_stored_cleaned(fuzz: Fuzz) -> None:
    """Was: 500 (the same characters in a Telegram text, caption or name). Telegram retries
    an update it gets no 200 for, so they are dropped (NUL) or replaced (U+FFFD), not refused."""
    body = update(fuzz, text="老板\x00欠我\ud800工资")
    body["message"]["from"]["first_name"] = "阿\x00明\udc80"  # type: ignore[index]
    assert (await checked(fuzz, telegram(json.dumps(body).encode()))).status == 200
    row = await inbound(fuzz, f"telegram:{body['update_id']}")
    assert row is not None and row.text == "老板欠我\ufffd工资"
    async with fuzz.gateways.engine.connect() as connection:
        name = (await connection.execute(select(Contact.display_name).where(Contact.id == row.contact_id))).scalar_one()
    assert name == "阿明\ufffd"


@pytest.mark.parametrize("date", [2**63 - 1, 10**18, -10**20])
async def test_a_telegram_date_no_datetime_holds_is_a_400(fuzz: Fuzz, date: int) -> None:
    """Was: 500 (OverflowError / OSError building the Update)."""
    assert (await checked(fuzz, telegram(json.dumps(update(fuzz, date=date)).encode()))).status == 400


@pytest.mark.parametrize("change", [
    {"message": {"text": ["a", "list"]}},
    {"my_chat_member": {"chat": None, "from": {"id": 1, "is_bot": False, "first_name": "x"}, "date": 1,
                        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": False, "first_name": "x"}},
                        "new_chat_member": {"status": "member", "user": {"id": 1, "is_bot": False, "first_name": "x"}}}},
    {"message": {"photo": [{"file_id": "a", "file_unique_id": "a", "width": "wide", "height": "high"}]}},
    {"message": {"photo": [{"file_id": "a", "file_unique_id": "a", "width": 10**20, "height": "x"}]}},
    {"message": {"document": {"file_id": "a", "file_unique_id": "a", "file_size": "big"}}},
    {"message": {"from": {"id": 1, "is_bot": False, "first_name": ["x"]}}},
], ids=["text-a-list", "member-without-chat", "width-a-string", "width-times-a-string", "size-a-string",
        "name-a-list"])
async def test_a_telegram_field_of_the_wrong_type_is_a_400(fuzz: Fuzz, change: dict[str, object]) -> None:
    """Was: 500 (AttributeError, TypeError: PTB builds an Update without checking types)."""
    body = update(fuzz)
    if "message" in change:
        body["message"] = {**body["message"], **change["message"]}  # type: ignore[dict-item]
    else:
        del body["message"]
        body.update(change)
    assert (await checked(fuzz, telegram(json.dumps(body).encode()))).status == 400


@pytest.mark.parametrize("where", ["from", "update_id"])
async def test_a_telegram_id_of_more_than_64_bits_is_a_400(fuzz: Fuzz, where: str) -> None:
    """Was: 500 on PostgreSQL (an external id longer than contacts hold, a dedupe key longer
    than 200)."""
    body = update(fuzz)
    if where == "from":
        body["message"]["from"]["id"] = body["message"]["chat"]["id"] = 10**300  # type: ignore[index]
    else:
        body["update_id"] = 10**300
    assert (await checked(fuzz, telegram(json.dumps(body).encode()))).status == 400


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_a_telegram_number_no_json_column_takes_is_a_400(fuzz: Fuzz, number: bytes) -> None:
    """Was: 500 on PostgreSQL (NaN in the message's JSON meta: its json type refuses it)."""
    body = update(fuzz, document={"file_id": "a", "file_unique_id": "a", "file_name": "a.pdf", "file_size": 0})
    raw = json.dumps(body).encode().replace(b'"file_size": 0', b'"file_size": ' + number)
    assert (await checked(fuzz, telegram(raw))).status == 400


# -- WeChat -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_a_wechat_from_user_name_longer_than_an_openid_is_a_400(fuzz: Fuzz, mode: str) -> None:
    """Was: 500 on PostgreSQL (contacts.external_id holds 128 characters)."""
    answer = await checked(fuzz, wechat(fuzz, text_xml("o" * 129, "你好", msg_id=fuzz.ctx.unique()), mode=mode))
    assert answer.status == 400


@pytest.mark.parametrize("msg_id", [10**300, 2**64])
async def test_a_wechat_msg_id_of_more_than_64_bits_is_a_400(fuzz: Fuzz, msg_id: int) -> None:
    """Was: 500 on PostgreSQL (a dedupe key longer than 200)."""
    answer = await checked(fuzz, wechat(fuzz, text_xml(f"o_fz{fuzz.ctx.unique()}", "你好", msg_id=msg_id)))
    assert answer.status == 400


# -- multipart uploads (web chat files, upload links) -----------------------------------------


@pytest.mark.parametrize("route", ["chat/files", "upload"])
async def test_a_form_field_in_a_charset_python_does_not_know_is_a_400(fuzz: Fuzz, route: str) -> None:
    """Was: 500 (LookupError decoding a field in the charset of its part)."""
    field = "sender" if route == "chat/files" else "submission"
    request = files_request(fuzz, (f'Content-Disposition: form-data; name="{field}"\r\n'
                                   "Content-Type: text/plain; charset=bogus", b"fz-x"),
                            ('Content-Disposition: form-data; name="file"; filename="a.png"', b"png"), route=route)
    assert (await checked(fuzz, request)).status == 400


@pytest.mark.parametrize("route", ["chat/files", "upload"])
async def test_a_part_header_with_a_control_character_is_a_400(fuzz: Fuzz, route: str) -> None:
    """Was: 500 (aiohttp's InvalidHeader while reading the parts)."""
    request = files_request(fuzz, *sender_parts(fuzz),
                            ('Content-Disposition: form-data; name="file"; filename="x\x00y.jpg"', b"jpeg"), route=route)
    assert (await checked(fuzz, request)).status == 400


@pytest.mark.parametrize("disposition, kept", [
    ("filename*=UTF-8''%2500.jpg", ".jpg"),  # a percent-encoded NUL, decoded by the gateway
    ("filename*=UTF-8''a%00b.jpg", "ab.jpg"),  # a NUL decoded by aiohttp
    ('filename="\udcff\udcfe.png"', ".png"),  # bytes that are no UTF-8, as aiohttp decodes them
    ("filename*=UTF-8''%01%1F%7F.pdf", ".pdf"),
])
async def test_a_file_name_no_column_can_store_is_kept_without_those_characters(
    fuzz: Fuzz, disposition: str, kept: str
) -> None:
    """Was: 500 (NUL on PostgreSQL, undecodable bytes on both) after the file had already been
    written to the evidence store. The name is cleaned, the file kept."""
    sender_fields = sender_parts(fuzz)
    content = f"evidence {fuzz.ctx.unique()}".encode()
    request = files_request(fuzz, *sender_fields,
                            (f'Content-Disposition: form-data; name="file"; {disposition}\r\nContent-Type: image/png', content))
    assert (await checked(fuzz, request)).status == 200
    async with fuzz.gateways.engine.connect() as connection:
        names = (await connection.execute(select(EvidenceItem.original_filename).where(
            EvidenceItem.source.like(f"webchat:{sender_fields[0][1].decode()}:%")))).scalars().all()
    assert names == [kept]
