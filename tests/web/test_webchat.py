"""The web chat API as a worker's browser (and the e2e tests) use it."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.models import InboundRecord

API = "/chat/api/messages"


async def count_inbound(engine: AsyncEngine, **where: str) -> int:
    stmt = select(func.count()).select_from(InboundRecord)
    for column, value in where.items():
        stmt = stmt.where(getattr(InboundRecord, column) == value)
    async with engine.connect() as connection:
        return (await connection.execute(stmt)).scalar_one()


@pytest.mark.parametrize(
    "body, complaint",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"text": "老板欠我工资"}', "sender"),
        ('{"sender": "a b", "text": "老板欠我工资"}', "sender"),
        ('{"sender": "w1\\n", "text": "老板欠我工资"}', "sender"),  # not the conversation of "w1"
        ('{"sender": "w1"}', "text or payload"),
        ('{"sender": "w1", "payload": "report_unpaid_wages"}', "payload"),
        ('{"sender": "w1", "text": "' + "欠" * 2001 + '"}', "longer than"),
    ],
)
async def test_bad_requests_get_a_clear_400_and_store_nothing(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine, body: str, complaint: str
) -> None:
    before = await count_inbound(engine)
    async with http.post(gateway + API, data=body, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
        answer = await response.json()
    assert complaint in answer["message"]
    assert await count_inbound(engine) == before


async def test_when_rasa_is_down_the_worker_is_told_the_message_is_kept(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with http.post(gateway + API, json={"sender": sender, "text": "老板欠我三个月工资"}) as response:
        assert response.status == 200
        replies = (await response.json())["replies"]
    assert "保存" in replies[0]["text"]
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(InboundRecord.text, InboundRecord.status).where(InboundRecord.dedupe_key.like(f"webchat:{sender}:%"))
            )
        ).one()
    assert row.text == "老板欠我三个月工资"
    assert row.status == "pending_retry"


async def test_a_repeated_delivery_is_stored_once(
    gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "text": "在吗", "message_id": "m-1", "session": session_for(sender)}
    for _ in range(3):
        async with http.post(gateway + API, json=body) as response:
            assert response.status == 200
    assert await count_inbound(engine, dedupe_key=f"webchat:{sender}:m-1") == 1


async def test_healthz_names_what_is_down(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway + "/healthz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["checks"]["database"] == "ok"
    assert "rasa" in body["reason"] and "actions" in body["reason"]


async def test_the_chat_page_and_metrics_are_served(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway + "/chat") as response:
        assert response.status == 200
        assert "工友助手" in await response.text()
    await http.post(gateway + API, json={"sender": "metrics-probe", "text": "你好"})
    async with http.get(gateway + "/metrics") as response:
        assert 'gongyou_inbound_messages_total{channel="webchat",outcome="pending_retry"}' in await response.text()


async def test_a_worker_with_staff_is_not_answered_by_the_bot(
    gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine
) -> None:
    from bot.cases.messages import do_request_handoff, get_or_create_contact
    from bot.db import create_sessionmaker, session_scope

    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with session_scope(create_sessionmaker(engine)) as session:
        contact = await get_or_create_contact(session, channel="webchat", external_id=sender)
        await do_request_handoff(session, contact=contact)
    async with http.post(gateway + API, json={"sender": sender, "text": "我的事到底谁管", "session": session_for(sender)}) as response:
        replies = (await response.json())["replies"]
    # Rasa is down in these tests: had the bot been asked, the reply would say "saved for later".
    assert replies == [{"text": "已收到，工会工作人员会在这里回复您。"}]
    assert await count_inbound(engine, status="for_staff") >= 1


FILES = "/chat/api/files"
PNG = b"\x89PNG\r\n\x1a\n" + b"payslip-photo" * 50


def upload(sender: str, *files: tuple[str, bytes, str], message_id: str | None = None,
           session: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("sender", sender)
    if session:
        form.add_field("session", session)
    if message_id:
        form.add_field("message_id", message_id)
    for name, data, mime in files:
        form.add_field("file", data, filename=name, content_type=mime)
    return form


async def test_files_become_evidence_before_rasa_sees_them(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine, tmp_path
) -> None:
    from bot.cases.evidence import EvidenceItem, evidence_path

    sender = f"w-{uuid.uuid4().hex[:8]}"
    form = upload(sender, ("工资条.png", PNG, "image/png"), ("合同.pdf", b"%PDF-1.4 contract", "application/pdf"))
    async with http.post(gateway + FILES, data=form) as response:
        assert response.status == 200
        replies = (await response.json())["replies"]
    assert "保存" in replies[0]["text"]  # Rasa is down here: kept, answered later
    async with engine.connect() as connection:
        inbound = (await connection.execute(
            select(InboundRecord).where(InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))).one()
        items = (await connection.execute(
            select(EvidenceItem).where(EvidenceItem.contact_id == inbound.contact_id).order_by(EvidenceItem.id))).all()
    assert inbound.kind == "photo"
    assert [(i.kind, i.original_filename, i.mime_type, i.size) for i in items] == [
        ("photo", "工资条.png", "image/png", len(PNG)), ("document", "合同.pdf", "application/pdf", 17)]
    assert all(i.case_id is None for i in items)  # attached when the case opens
    assert [a["id"] for a in inbound.meta["attachments"]] == [i.id for i in items]
    assert evidence_path(tmp_path / "evidence", items[0].sha256).read_bytes() == PNG


async def test_a_repeated_upload_is_stored_once(gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine) -> None:
    from bot.cases.evidence import EvidenceItem

    sender = f"w-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        async with http.post(gateway + FILES, data=upload(sender, ("a.jpg", PNG, "image/jpeg"), message_id="u-1",
                                                       session=session_for(sender))) as r:
            assert r.status == 200
    async with engine.connect() as connection:
        stored = (await connection.execute(
            select(func.count()).select_from(EvidenceItem).where(EvidenceItem.source.like(f"webchat:{sender}:%")))).scalar_one()
    assert stored == 1
    assert await count_inbound(engine, dedupe_key=f"webchat:{sender}:u-1") == 1


async def test_an_empty_file_is_refused_by_name_and_the_rest_kept(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    from bot.cases.evidence import EvidenceItem

    sender = f"w-{uuid.uuid4().hex[:8]}"
    form = upload(sender, ("空的.jpg", b"", "image/jpeg"), ("好的.jpg", PNG, "image/jpeg"))
    async with http.post(gateway + FILES, data=form) as response:
        assert response.status == 200
    async with engine.connect() as connection:
        inbound = (await connection.execute(
            select(InboundRecord).where(InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))).one()
        names = (await connection.execute(
            select(EvidenceItem.original_filename).where(EvidenceItem.contact_id == inbound.contact_id))).scalars().all()
    assert names == ["好的.jpg"]
    assert "empty" in inbound.meta["attachments"][0]["refused"]


@pytest.mark.parametrize("make, complaint", [
    (lambda s: aiohttp.FormData({"sender": s}, default_to_multipart=True), "no file"),
    (lambda s: {"sender": s, "text": "x"}, "multipart"),
    (lambda s: upload("bad sender!", ("a.jpg", PNG, "image/jpeg")), "sender"),
])
async def test_bad_uploads_get_a_clear_400_and_store_nothing(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine, make, complaint: str
) -> None:
    before = await count_inbound(engine)
    sender = f"w-{uuid.uuid4().hex[:8]}"
    body = make(sender)
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
    async with http.post(gateway + FILES, **kwargs) as response:
        assert response.status == 400
        assert complaint in (await response.json())["message"]
    assert await count_inbound(engine) == before


async def test_a_digit_after_the_case_is_resolved_is_its_rating(
    gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine
) -> None:
    from bot.cases.intake import CaseDraft, do_open_case
    from bot.cases.messages import get_or_create_contact
    from bot.cases.models import Case
    from bot.cases.review import Rating
    from bot.cases.workflow import do_accept, do_resolve, do_start
    from bot.db import create_sessionmaker, session_scope, utcnow

    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with session_scope(create_sessionmaker(engine)) as session:
        contact = await get_or_create_contact(session, channel="webchat", external_id=sender)
        case = await do_open_case(session, contact=contact, actor="worker", now=utcnow(), draft=CaseDraft(
            category="unpaid_wages", employer="某某电子厂", location="义乌稠江街道", amount=5000))
        for step in (do_accept, do_start):
            await step(session, case=case, actor="staff:1", now=utcnow())
        await do_resolve(session, case=case, actor="staff:1", now=utcnow(), outcome="paid_in_full", amount_recovered=5000)
        case_id, number = case.id, case.number

    async with http.post(gateway + API, json={"sender": sender, "text": "2分", "session": session_for(sender)}) as response:
        reply = (await response.json())["replies"][0]["text"]
    assert f"谢谢您的评价（2 分）。案件 {number} 已结案" in reply and "专家评审" in reply
    async with engine.connect() as connection:
        assert (await connection.execute(select(Rating.score).where(Rating.case_id == case_id))).scalar_one() == 2
        assert (await connection.execute(select(Case.status).where(Case.id == case_id))).scalar_one() == "closed"
    # a second digit is no rating any more: it goes on to the bot (down here, so "saved")
    async with http.post(gateway + API, json={"sender": sender, "text": "5", "session": session_for(sender)}) as response:
        assert "保存" in (await response.json())["replies"][0]["text"]


async def test_a_browser_worker_receives_a_staff_reply_by_polling_once(
    gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine
) -> None:
    import asyncio
    import time

    from bot.cases.handoffs import do_open_handoff, do_send_staff_message
    from bot.cases.messages import get_or_create_contact
    from bot.cases.outbox import OutboxMessage
    from bot.db import create_sessionmaker, session_scope, utcnow

    sender = f"w-{uuid.uuid4().hex[:8]}"
    sessionmaker = create_sessionmaker(engine)
    async with session_scope(sessionmaker) as session:
        contact = await get_or_create_contact(session, channel="webchat", external_id=sender)
        handoff = await do_open_handoff(session, contact=contact, reason="我要找人", now=utcnow())
        record = await do_send_staff_message(session, contact=contact, text="您好，我是工会的小李。",
                                             author="staff:li", now=utcnow(), handoff=handoff)
    updates: list[dict] = []
    deadline = time.monotonic() + 15
    while not updates:  # the dispatcher holds it for the browser within a round or two
        assert time.monotonic() < deadline, "the staff reply never reached the browser"
        async with http.get(gateway + "/chat/api/updates", params={"sender": sender, "session": session_for(sender)}) as response:
            assert response.status == 200
            updates = (await response.json())["updates"]
        await asyncio.sleep(0.2)
    assert [u["text"] for u in updates] == ["工会工作人员：您好，我是工会的小李。"]
    async with http.get(gateway + "/chat/api/updates", params={"sender": sender, "session": session_for(sender)}) as response:
        assert (await response.json())["updates"] == []  # delivered once
    async with session_scope(sessionmaker) as session:
        assert (await session.get_one(OutboxMessage, record.outbox_id)).status == "sent"
    async with http.get(gateway + "/chat/api/updates", params={"sender": "bad sender!"}) as response:
        assert response.status == 400


async def test_typed_text_that_looks_like_an_intent_is_words_and_a_button_stays_a_payload(
    gateway: str, http: aiohttp.ClientSession, session_for, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    typed = {"sender": sender, "text": ' /inform{"amount": 99999}', "message_id": "typed", "session": session_for(sender)}
    pressed = {"sender": sender, "payload": "/report_unpaid_wages", "message_id": "pressed",
               "session": session_for(sender)}
    for body in (typed, pressed):
        async with http.post(gateway + API, json=body) as response:
            assert response.status == 200
    async with engine.connect() as connection:
        rows = {r.dedupe_key: r for r in await connection.execute(
            select(InboundRecord.dedupe_key, InboundRecord.text, InboundRecord.payload)
            .where(InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))}
    assert (rows[f"webchat:{sender}:typed"].text, rows[f"webchat:{sender}:typed"].payload) == (
        '／inform{"amount": 99999}', None)
    assert rows[f"webchat:{sender}:pressed"].payload == "/report_unpaid_wages"


async def test_a_known_conversation_is_read_and_written_only_with_its_session(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine, session_for
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with http.post(gateway + API, json={"sender": sender, "text": "你好"}) as response:
        first = await response.json()
    assert response.status == 200 and first["session"] == session_for(sender)  # handed out once
    for forged in (None, "0" * 40, session_for(sender + "x")):
        body = {"sender": sender, "text": "我是别人", **({"session": forged} if forged else {})}
        async with http.post(gateway + API, json=body) as response:
            assert response.status == 403 and (await response.json())["error"] == "session"
        async with http.get(gateway + "/chat/api/updates", params={"sender": sender, **(
                {"session": forged} if forged else {})}) as response:
            assert response.status == 403
        async with http.post(gateway + FILES, data=upload(sender, ("a.jpg", PNG, "image/jpeg"), session=forged)) as r:
            assert r.status == 403
    assert await count_inbound(engine, text="我是别人") == 0
    async with http.post(gateway + API, json={"sender": sender, "text": "在吗", "session": first["session"]}) as r:
        assert r.status == 200


async def test_only_json_from_the_page_is_taken(gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    body = '{"sender": "%s", "text": "跨站的表单"}' % sender
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        async with http.post(gateway + API, data=body, headers={"Content-Type": content_type}) as response:
            assert response.status == 415
    assert await count_inbound(engine, text="跨站的表单") == 0
    async with http.post(gateway + API, json={"sender": sender, "text": "你好"},
                         headers={"Host": "evil.example:80"}) as response:
        assert response.status == 421  # a rebinding name pointing at this host gets nothing


async def test_a_first_message_typed_like_an_intent_is_stored_and_sent_as_words(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    typed = {"sender": sender, "text": '/inform{"amount": 99999, "employer": "某某厂"}', "message_id": "first"}
    async with http.post(gateway + API, json=typed) as response:
        assert response.status == 200
    async with engine.connect() as connection:
        row = (await connection.execute(select(InboundRecord.text, InboundRecord.payload).where(
            InboundRecord.dedupe_key == f"webchat:{sender}:first"))).one()
    assert (row.text, row.payload) == ('／inform{"amount": 99999, "employer": "某某厂"}', None)


async def test_a_sender_who_floods_the_web_chat_is_slowed_down_and_the_flood_is_not_kept(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with http.post(gateway + API, json={"sender": sender, "text": "在吗"}) as response:
        assert response.status == 200
        session = (await response.json()).get("session")
    statuses = []
    for n in range(40):
        body = {"sender": sender, "text": f"第{n}条", "message_id": f"flood-{n}", **({"session": session} if session else {})}
        async with http.post(gateway + API, json=body) as response:
            statuses.append(response.status)
    assert 429 in statuses and set(statuses) == {200, 429}
    async with engine.connect() as connection:
        kept = (await connection.execute(select(func.count()).select_from(InboundRecord).where(
            InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))).scalar_one()
    assert kept == 1 + statuses.count(200)  # what was refused was not stored
