"""Every dispute topic, typed as a worker would, reaches its case number in at most 8 worker
turns when the opening message names the employer and the amount (issue #4). The scripts
are those of ``bench/transcripts.py``, which prints the same conversations against
`make run`. On PostgreSQL, the production database."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests
import yaml

from bench.transcripts import MAX_TURNS, SCRIPTS, Script, play
from tests.e2e.conftest import ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.topic)
def test_each_topic_opens_its_case_in_at_most_eight_turns(stack: Stack, script: Script) -> None:
    transcript, number = play(stack.gateway, script)
    said = "\n".join(f"工友: {line}\n助手: {' / '.join(replies)}" for line, replies in transcript)
    assert number, f"no case number after {len(transcript)} turns:\n{said}"
    assert len(transcript) <= MAX_TURNS, said
    # nothing the opening message already said was asked again
    asked = " ".join(" ".join(replies) for _, replies in transcript[:-1])
    assert "哪家单位" not in asked and "多少钱" not in asked, said

    case = json.loads(stack.cli("cases", "show", number, "--json"))
    assert case["category"] == script.topic, case
    for key, value in script.expect.items():
        found = case
        for part in key.split("."):  # "facts.monthly_wage"
            found = found.get(part) if isinstance(found, dict) else None
        assert found == value, (key, case)
    assert case["description"] == script.lines[0]


async def test_a_message_kept_while_rasa_was_down_is_answered_when_it_is_back(stack: Stack, tmp_path) -> None:
    import aiohttp
    from sqlalchemy import select

    from bot.cases.models import InboundRecord, OutboundRecord
    from bot.channels.base import InboundMessage
    from bot.db import create_engine, create_sessionmaker
    from bot.dialogue.pipeline import InboundPipeline
    from bot.dialogue.rasa_client import RasaClient
    from tests.conftest import free_port

    engine = create_engine(stack.env["DATABASE_URL"])
    sessionmaker = create_sessionmaker(engine)
    try:
        async with aiohttp.ClientSession() as http:
            down = InboundPipeline(sessionmaker=sessionmaker, rasa=RasaClient(http, f"http://127.0.0.1:{free_port()}"),
                                   evidence_dir=tmp_path)
            message = InboundMessage(channel="webchat", external_id="retry-worker", dedupe_key="webchat:retry-1",
                                     text="老板欠我三个月工资一万五")
            outcome = await down.handle(message)
            assert not outcome.answered and "保存" in outcome.replies[0].text

            back = InboundPipeline(sessionmaker=sessionmaker,
                                   rasa=RasaClient(http, f"http://127.0.0.1:{stack.ports['rasa']}"), evidence_dir=tmp_path)
            assert await back.retry_pending() >= 1
        async with sessionmaker() as session:
            record = (await session.execute(
                select(InboundRecord).where(InboundRecord.dedupe_key == "webchat:retry-1"))).scalar_one()
            said = (await session.execute(
                select(OutboundRecord.text).where(OutboundRecord.inbound_id == record.id))).scalars().all()
        assert record.status == "answered" and record.attempts == 2
        assert any("欠薪" in (text or "") for text in said), said  # the wage intro: understood, not just "saved"
    finally:
        await engine.dispose()


def test_a_real_conversation_is_saved_as_a_test_story_from_the_console(stack: Stack) -> None:
    script = SCRIPTS[0]
    sender = f"save-{script.topic}-test"
    _, number = play(stack.gateway, script, sender=sender)
    assert number
    env = {**stack.env, "GONGYOU_ADMIN_PASSWORD": "save as test password"}
    subprocess.run([sys.executable, "-m", "bot", "users", "add", "--username", "save.admin", "--org", "city",
                    "--role", "admin", "--name", "管理员"], cwd=ROOT, env=env, check=True, capture_output=True)
    with requests.Session() as browser:
        page = browser.post(f"{stack.gateway}/console/login", timeout=30, data={
            "username": "save.admin", "password": "save as test password", "next": f"/console/cases/{number}"})
        assert page.status_code == 200 and "对话存为测试" in page.text
        csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        saved = browser.post(f"{stack.gateway}/console/cases/{number}/save-test", data={"csrf": csrf}, timeout=60)
    assert saved.status_code == 200 and "attachment" in saved.headers["Content-Disposition"]
    steps = yaml.safe_load(saved.text)["stories"][0]["steps"]
    assert steps[0] == {"user": script.lines[0], "intent": f"report_{script.topic}"}
    assert {"action": "dispute_form"} in steps and int(saved.headers["X-Inbox-Candidates"]) >= 1
