"""`python -m bot tick` and the gateway deliver the outbox the same way, with the same
senders: a row is marked sent only when its channel accepted it. Telegram is the local fake
Bot API; the web chat holds its rows for the browser; a channel the process does not run
leaves its rows alone."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cases import workflow as wf
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.outbox import OutboxMessage
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.fakes.telegram import FakeTelegram, running_fake_telegram
from bot.gateway import running
from bot.settings import load_settings
from tests.cases.factories import make_tree

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4242:same-delivery"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with running_fake_telegram(TOKEN) as server:
        yield server


def environment(database_url: str, fake: FakeTelegram, var: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "GONGYOU_VAR_DIR": str(var), "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_SECRET_TOKEN": "s3cret", "TELEGRAM_API_BASE_URL": fake.base_url,
            "RASA_URL": "http://127.0.0.1:9", "ACTION_URL": "http://127.0.0.1:9"}


async def tick(env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "tick", "--limit", "1000", cwd=ROOT, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]


async def gateway_round(env: dict[str, str], tmp_path: Path) -> None:
    async with running(load_settings(env, dotenv=tmp_path / "none.env")) as gateway:
        await gateway.dispatcher.run_once(now=utcnow() + timedelta(seconds=1), limit=1000)


async def accepted_cases(database_url: str, fake: FakeTelegram) -> dict[str, tuple[str, int]]:
    """One accepted case per worker channel (telegram, webchat, wechat); channel → (number, row id)."""
    engine = create_engine(database_url)
    out = {}
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            tree = await make_tree(session)
            for channel in ("telegram", "webchat", "wechat"):
                external = str(random.randrange(10**8, 10**9)) if channel == "telegram" else uuid.uuid4().hex[:12]
                if channel == "telegram":
                    fake.start_chat(int(external))
                contact = await get_or_create_contact(session, channel=channel, external_id=external)
                case = await do_open_case(session, contact=contact, actor="worker", now=utcnow(), draft=CaseDraft(
                    category="unpaid_wages", employer=f"测试厂{uuid.uuid4().hex[:6]}", location=tree.place))
                event = await wf.do_accept(session, case=case, actor="staff:li", now=utcnow())
                await session.flush()
                row = (await session.execute(select(OutboxMessage).where(
                    OutboxMessage.idempotency_key == f"event:{event.id}:worker"))).scalar_one()
                out[channel] = (case.number, row.id)
    finally:
        await engine.dispose()
    return out


async def rows(database_url: str, ids: list[int]) -> dict[int, OutboxMessage]:
    engine = create_engine(database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            found = (await session.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))).scalars()
            return {r.id: r for r in found}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("runner", ["tick", "gateway"])
async def test_a_row_is_sent_only_when_its_channel_took_it(
    runner: str, database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    env = environment(database_url, fake, tmp_path)

    async def deliver() -> None:
        await (tick(env) if runner == "tick" else gateway_round(env, tmp_path))

    # Telegram refuses (502): nothing is marked sent, the row waits for its retry
    cases = await accepted_cases(database_url, fake)
    number, telegram_row = cases["telegram"]
    fake.fail_next("sendMessage", status=502, times=100)
    await deliver()
    found = await rows(database_url, [r for _, r in cases.values()])
    assert (found[telegram_row].status, found[telegram_row].attempts) == ("pending", 1)
    assert "502" in (found[telegram_row].last_error or "") or "Bad Gateway" in (found[telegram_row].last_error or "")
    # the web chat has no browser polling: held for it, not sent
    assert found[cases["webchat"][1]].status == "held"
    # no WeChat in this process: its row is left for a gateway that runs WeChat
    assert (found[cases["wechat"][1]].status, found[cases["wechat"][1]].attempts) == ("pending", 0)

    # Telegram takes it: sent, once, with the words the worker reads
    fake.failures["sendmessage"].clear()
    cases = await accepted_cases(database_url, fake)
    number, telegram_row = cases["telegram"]
    await deliver()
    found = await rows(database_url, [telegram_row])
    assert found[telegram_row].status == "sent" and found[telegram_row].sent_at is not None
    chat_id = next(int(c) for c in fake.chats if any(number in (m.get("text") or "") for m in fake.sent_messages(c)))
    texts = [m["text"] for m in fake.sent_messages(chat_id)]
    assert texts == [f"您的案件 {number} 已被工会受理，会有专人跟进。"]
