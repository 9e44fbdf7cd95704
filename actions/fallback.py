"""When the model is unsure (or a message fits nothing outside a form, or no policy knows what
to do): offer the two likeliest topics as buttons, and put an unsure message in the NLU inbox
for an admin to label.

Not understood again and again, the worker is not left with the same words: the second time
a hint comes first, the third time 转人工 is offered in so many words, and the fourth time a
person is asked to look (failures.py does the same for the questions of a form).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.handoff import hand_over
from bot.training.inbox import do_record_unsure

TOPIC_TITLES = {
    "report_unpaid_wages": "工资被拖欠", "report_overtime": "加班问题", "report_injury": "工伤",
    "report_dismissal": "被辞退", "report_social_insurance": "社保没交", "check_case_status": "查进度",
    "join_union": "加入工会", "ask_matchmaking_events": "联谊活动",
}
DEFAULT_PAIR = ("report_unpaid_wages", "report_injury")
QUESTION = "抱歉，我没太明白。您是想说下面哪件事？"
HINT = "没看懂 🙏 请点下面的按钮，或者直接说说遇到了什么事，比如「老板欠我三个月工资」。"
OFFER = "还是不好说的话，点「转人工」找工作人员。"
NAME = "action_fallback_topics"


def likeliest_topics(ranking: list[dict[str, Any]], n: int = 2) -> list[str]:
    ranked = [r["name"] for r in sorted(ranking, key=lambda r: -r.get("confidence", 0)) if r.get("name") in TOPIC_TITLES]
    for name in DEFAULT_PAIR:
        if len(ranked) >= n:
            break
        if name not in ranked:
            ranked.append(name)
    return ranked[:n]


def not_understood_before(tracker: Tracker) -> int:
    """How many of the worker's messages in a row, just before this one, got this answer."""
    turns, answered = 0, False
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == NAME:
            answered = True
        elif event.get("event") == "user":
            if turns and not answered:
                break
            turns, answered = turns + 1, False
    return max(turns - 1, 0)


class FallbackTopics(Action):
    def name(self) -> str:
        return NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        message = tracker.latest_message
        ranking = [{"name": r.get("name"), "confidence": round(float(r.get("confidence", 0)), 4)}
                   for r in message.get("intent_ranking") or []]
        text = message.get("text") or ""
        unsure = (message.get("intent") or {}).get("name") == "nlu_fallback"
        if unsure and text and not text.startswith("/"):
            async with store.transaction() as session:
                await do_record_unsure(session, text=text, sender=tracker.sender_id, ranking=ranking)
        before = not_understood_before(tracker)
        if before >= 3:
            await hand_over(dispatcher, tracker, reason="多次没能理解工友的消息")
            return []
        if before == 1:
            dispatcher.utter_message(text=HINT)
        # an unsure model: its two likeliest topics; a message that fits nothing: all five
        topics = likeliest_topics(ranking) if unsure else list(TOPIC_TITLES)[:5]
        buttons = [{"title": TOPIC_TITLES[name], "payload": f"/{name}"} for name in topics]
        buttons.append({"title": "转人工", "payload": "/request_human"})
        dispatcher.utter_message(text=QUESTION + (f"\n{OFFER}" if before == 2 else ""), buttons=buttons)
        return []


class DefaultFallback(FallbackTopics):
    """Rasa's core fallback (no policy confident), answered like an unsure model rather than
    with a fixed response; the message is then forgotten, as Rasa's own fallback does."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [*await super().run(dispatcher, tracker, domain), UserUtteranceReverted()]
