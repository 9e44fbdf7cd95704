"""Not understood outside a form (actions/fallback.py): the topics as buttons, and never the
same words four times: a hint, then 转人工 in so many words, then a person."""

from __future__ import annotations

import uuid

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import store
from actions.fallback import HINT, OFFER, QUESTION, FallbackTopics
from bot.cases.messages import get_contact_by_sender_id
from tests.actions.test_dispute_form import DOMAIN, SLOTS


def after(sender: str, answers: list[str]) -> Tracker:
    """A tracker whose earlier messages got ``answers`` (the action run after each), now
    with one more message the model is unsure about."""
    events: list[dict] = []
    for name in answers:
        events += [{"event": "user", "text": "啊这个", "parse_data": {}},
                   {"event": "action", "name": name}, {"event": "action", "name": "action_listen"}]
    latest = {"text": "嗯那个啥", "intent": {"name": "nlu_fallback", "confidence": 0.4},
              "intent_ranking": [{"name": "report_injury", "confidence": 0.3}], "entities": []}
    events.append({"event": "user", "text": "嗯那个啥", "parse_data": latest})
    return Tracker(sender, dict(SLOTS), latest, events, False, None, {}, "action_listen")


async def test_not_understood_again_and_again_ends_with_a_person(case_store: str) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    said = []
    for before in ([], ["action_fallback_topics"], ["action_fallback_topics"] * 2, ["action_fallback_topics"] * 3):
        dispatcher = CollectingDispatcher()
        await FallbackTopics().run(dispatcher, after(sender, ["utter_greet", *before]), DOMAIN)
        said.append([m["text"] for m in dispatcher.messages])
    assert said[0] == [QUESTION]
    assert said[1] == [HINT, QUESTION]
    assert said[2] == [f"{QUESTION}\n{OFFER}"]
    assert "工作人员" in said[3][0] and QUESTION not in said[3][0]
    async with store.transaction() as session:
        contact = await get_contact_by_sender_id(session, sender_id=sender)
        assert contact is not None and contact.handoff_at is not None


async def test_a_message_understood_in_between_starts_the_count_again(case_store: str) -> None:
    dispatcher = CollectingDispatcher()
    tracker = after(f"webchat:{uuid.uuid4().hex[:8]}", ["action_fallback_topics"] * 2 + ["utter_thank"])
    await FallbackTopics().run(dispatcher, tracker, DOMAIN)
    assert [m["text"] for m in dispatcher.messages] == [QUESTION]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        "/report_injury", "/report_unpaid_wages", "/request_human"]


async def test_a_message_that_fits_nothing_gets_all_five_topics_and_the_core_fallback_forgets_it(
    case_store: str,
) -> None:
    from actions.fallback import DefaultFallback

    tracker = after(f"webchat:{uuid.uuid4().hex[:8]}", [])
    tracker.latest_message["intent"] = {"name": "inform", "confidence": 0.99}
    dispatcher = CollectingDispatcher()
    events = await DefaultFallback().run(dispatcher, tracker, DOMAIN)
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == [
        "工资被拖欠", "加班问题", "工伤", "被辞退", "社保没交", "转人工"]
    assert events == [{"event": "rewind", "timestamp": None}]
