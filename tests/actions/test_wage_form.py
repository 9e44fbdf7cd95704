"""The wage form's actions with real rasa_sdk trackers and a collecting dispatcher, writing
to a real case store (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import store
from actions.cases import CaseStatus, OpenCase
from actions.wage_form import AskConfirmed, ValidateWageForm, clean_answer
from bot.cases.demo import do_seed_demo
from bot.cases.queries import get_case_detail_or_raise
from bot.db import create_engine, create_sessionmaker, session_scope

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())
SLOTS = {name: None for name in DOMAIN["slots"]}


def tracker(
    text: str,
    *,
    slots: dict[str, Any] | None = None,
    sender: str | None = None,
    intent: str = "inform",
    entities: list[dict] | None = None,
    requested_slot: str | None = None,
    message_id: str | None = None,
) -> Tracker:
    values = {**SLOTS, **(slots or {}), "requested_slot": requested_slot}
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "message_id": message_id or uuid.uuid4().hex,
    }
    events = [{"event": "user", "text": text, "parse_data": latest}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()]
    return Tracker(
        sender or f"webchat:{uuid.uuid4().hex[:8]}", values, latest, events, False, None,
        {"name": "wage_form", "is_interrupted": False, "rejected": False}, "action_listen",
    )


def set_slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.fixture
async def case_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    await store.close()
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        await do_seed_demo(session, history=False)
    await engine.dispose()
    yield database_url
    await store.close()


@pytest.mark.parametrize(
    "written, yuan",
    [("八千多块", 8000), ("4万余元", 40000), ("三千五", 3500), ("1.2w", 12000), ("欠了两万出头", 20000), ("8000", 8000)],
)
async def test_amounts_are_kept_as_integer_yuan_with_the_words_used(written: str, yuan: int) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateWageForm().run(
        dispatcher, tracker(written, slots={"amount": written}, requested_slot="amount"), DOMAIN
    )
    slots = set_slots(events)
    assert slots["amount_yuan"] == yuan
    assert slots["amount"] == written
    assert not dispatcher.messages


async def test_an_amount_missed_by_the_model_is_still_picked_up() -> None:
    # No entity from NLU, but the opening message names the sum: not asked again.
    events = await ValidateWageForm().run(
        CollectingDispatcher(), tracker("老板欠我三个月工资一共八千多块", intent="report_unpaid_wages"), DOMAIN
    )
    slots = set_slots(events)
    assert slots["amount_yuan"] == 8000


async def test_an_unreadable_amount_is_asked_again_with_an_example() -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateWageForm().run(
        dispatcher, tracker("不记得了", slots={"amount": "不记得了"}, requested_slot="amount"), DOMAIN
    )
    assert set_slots(events)["amount"] is None
    assert dispatcher.messages[0]["response"] == "utter_invalid_amount"


@pytest.mark.parametrize(
    "answer, kept",
    [("在义乌鑫达电子厂上班", "义乌鑫达电子厂"), ("张老板的工地", "张老板的工地"), ("顺丰。", "顺丰"), ("浙江恒泰服饰有限公司", "浙江恒泰服饰有限公司")],
)
def test_employer_answers_are_kept_as_typed_without_framing_words(answer: str, kept: str) -> None:
    assert clean_answer(answer) == kept


async def test_the_summary_shows_what_goes_on_the_case() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"employer": "义乌鑫达电子厂", "location": "义乌稠江街道", "amount": "八千多块", "amount_yuan": 8000.0}
    await AskConfirmed().run(dispatcher, tracker("义乌稠江街道", slots=slots), DOMAIN)
    message = dispatcher.messages[0]
    assert "义乌鑫达电子厂" in message["text"] and "8,000元" in message["text"] and "八千多块" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


async def test_confirming_opens_one_case_and_tells_its_number(case_store: str) -> None:
    slots = {
        "employer": "义乌鑫达电子厂", "location": "义乌稠江街道", "amount": "八千多块",
        "amount_yuan": 8000.0, "confirmed": True, "dispute_text": "老板欠我三个月工资一共八千多块",
        "duration": "三个月",
    }
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    confirm = tracker("确认", slots=slots, sender=sender, intent="affirm", message_id="confirm-1")
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(dispatcher, confirm, DOMAIN)
    number = set_slots(events)["case_number"]
    assert number in dispatcher.messages[0]["text"]
    assert set_slots(events)["employer"] is None  # the form is reset for the next dispute

    # Rasa retrying the same action (same confirming message) gets the same case back.
    again = await OpenCase().run(CollectingDispatcher(), confirm, DOMAIN)
    assert set_slots(again)["case_number"] == number

    async with store.transaction() as session:
        detail = await get_case_detail_or_raise(session, number=number)
    assert (detail["category"], detail["employer"], detail["amount"]) == ("unpaid_wages", "义乌鑫达电子厂", 8000)
    assert f"负责单位：{detail['org']}" in dispatcher.messages[0]["text"]
    assert detail["facts"]["period_owed_months"] == 3
    assert detail["description"] == "老板欠我三个月工资一共八千多块"

    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    assert number in status.messages[0]["text"] and "等待工会受理" in status.messages[0]["text"]


async def test_declining_the_summary_opens_nothing(case_store: str) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(
        dispatcher, tracker("不对", slots={"confirmed": False}, sender=sender, intent="deny"), DOMAIN
    )
    assert "case_number" not in set_slots(events)
    assert dispatcher.messages[0]["response"] == "utter_not_confirmed"
    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    assert "还没有" in status.messages[0]["text"]
