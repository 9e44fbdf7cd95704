"""A real conversation saved as a test: the story a developer adds to tests/stories, and the
worker's messages as inbox candidates."""

from __future__ import annotations

import uuid

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.training.inbox import InboxItem
from bot.training.saved_tests import do_inbox_candidates, story_from_events

EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "老板欠我三个月工资 我电话13812345678",
     "parse_data": {"intent": {"name": "report_unpaid_wages", "confidence": 0.93},
                    "intent_ranking": [{"name": "report_unpaid_wages", "confidence": 0.93}]}},
    {"event": "action", "name": "action_start_dispute"},
    {"event": "action", "name": "dispute_form"},
    {"event": "active_loop", "name": "dispute_form"},
    {"event": "bot", "text": "是哪家单位？"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "/affirm", "parse_data": {"intent": {"name": "affirm", "confidence": 1.0}}},
]


def test_the_conversation_becomes_a_test_story_without_personal_data() -> None:
    story = yaml.safe_load(story_from_events(EVENTS, title="GY-2026-000001 的对话"))
    steps = story["stories"][0]["steps"]
    assert steps == [
        {"user": "老板欠我三个月工资 我电话（手机号）", "intent": "report_unpaid_wages"},
        {"action": "action_start_dispute"}, {"action": "dispute_form"}, {"active_loop": "dispute_form"},
        {"intent": "affirm"},
    ]


async def test_typed_messages_become_inbox_candidates_once(session: AsyncSession) -> None:
    sender = f"telegram:{uuid.uuid4().hex[:8]}"
    assert await do_inbox_candidates(session, sender=sender, events=EVENTS) == 1
    assert await do_inbox_candidates(session, sender=sender, events=EVENTS) == 0  # saved twice: once
    item = (await session.execute(select(InboxItem).where(InboxItem.sender == sender))).scalar_one()
    assert item.status == "new" and item.ranking[0]["name"] == "report_unpaid_wages"
