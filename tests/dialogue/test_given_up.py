"""A message the bot can never answer (Rasa keeps failing) is not left where nobody sees it:
after the last try it goes to a person of the responsible union, the union gets an alert,
the worker is told, and operators find it in ``python -m bot messages unanswered``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.cases.demo import do_seed_demo
from bot.cases.handoffs import Handoff
from bot.cases.messages import list_unanswered
from bot.cases.models import InboundRecord
from bot.cases.outbox import CONSOLE_CHANNEL, OutboxMessage
from bot.channels.base import InboundMessage
from bot.db import create_engine, create_sessionmaker, session_scope
from bot.dialogue.pipeline import MAX_ATTEMPTS, InboundPipeline
from bot.dialogue.rasa_client import RasaClient
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
STORY = "老板欠我三个月工资，我电话 138 1234 5678"


@pytest.fixture
async def seeded(own_database: str) -> str:
    """A database of this test's own (the retry round takes every due message) with the
    union hierarchy a handoff needs."""
    engine = create_engine(own_database)
    async with session_scope(create_sessionmaker(engine)) as session:
        await do_seed_demo(session, history=False)
    await engine.dispose()
    return own_database


async def test_a_message_rasa_never_answers_goes_to_a_person_with_an_alert_and_is_listed(
    seeded: str, tmp_path: Path
) -> None:
    own_database = seeded
    engine = create_engine(own_database)
    sessionmaker = create_sessionmaker(engine)
    sender = f"w-{uuid.uuid4().hex[:8]}"
    try:
        async with aiohttp.ClientSession() as client:
            # Rasa is down for good here (a closed port)
            pipeline = InboundPipeline(sessionmaker=sessionmaker, evidence_dir=tmp_path,
                                       rasa=RasaClient(client, f"http://127.0.0.1:{free_port()}"))
            first = await pipeline.handle(InboundMessage(
                channel="webchat", external_id=sender, dedupe_key=f"webchat:{sender}:1", text=STORY))
            assert "保存" in first.replies[0].text
            for _ in range(MAX_ATTEMPTS + 3):  # more rounds than tries: the cap holds
                async with session_scope(sessionmaker) as session:  # the back-off is over
                    await session.execute(update(InboundRecord).values(lease_until=None))
                await pipeline.retry_pending()

        async with session_scope(sessionmaker) as session:
            record = (await session.execute(select(InboundRecord))).scalar_one()
            assert (record.status, record.attempts) == ("failed", MAX_ATTEMPTS)
            handoff = (await session.execute(select(Handoff))).scalar_one()
            assert handoff.status == "waiting" and handoff.contact_id == record.contact_id
            assert "机器人没能回复" in handoff.reason and "老板欠我三个月工资" in handoff.reason
            alert = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.channel == CONSOLE_CHANNEL))).scalar_one()
            assert alert.template == "org_handoff_requested" and alert.org_id == handoff.org_id
            told = [row.params for row in (await session.execute(select(OutboxMessage).where(
                OutboxMessage.contact_id == record.contact_id))).scalars()]
            assert any("工会工作人员" in json.dumps(p, ensure_ascii=False) for p in told)
            listed = await list_unanswered(session)
        assert [(r["id"], r["status"], r["attempts"]) for r in listed] == [(record.id, "failed", MAX_ATTEMPTS)]
    finally:
        await engine.dispose()

    # as an operator sees it: masked, with the state in words
    env = {**os.environ, "DATABASE_URL": own_database, "GONGYOU_VAR_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "bot", "messages", "unanswered"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "given to staff" in run.stdout and "138****5678" in run.stdout and "1234 5678" not in run.stdout
    as_json = json.loads(subprocess.run(
        [sys.executable, "-m", "bot", "messages", "unanswered", "--json", "--failed-only"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=True).stdout)
    assert [r["status"] for r in as_json] == ["failed"] and sender not in json.dumps(as_json)
