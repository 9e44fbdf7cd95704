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
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = f"w-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "text": "在吗", "message_id": "m-1"}
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
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    from bot.cases.messages import do_request_handoff, get_or_create_contact
    from bot.db import create_sessionmaker, session_scope

    sender = f"w-{uuid.uuid4().hex[:8]}"
    async with session_scope(create_sessionmaker(engine)) as session:
        contact = await get_or_create_contact(session, channel="webchat", external_id=sender)
        await do_request_handoff(session, contact=contact)
    async with http.post(gateway + API, json={"sender": sender, "text": "我的事到底谁管"}) as response:
        replies = (await response.json())["replies"]
    # Rasa is down in these tests: had the bot been asked, the reply would say "saved for later".
    assert replies == [{"text": "已收到，工会工作人员会在这里回复您。"}]
    assert await count_inbound(engine, status="for_staff") >= 1
