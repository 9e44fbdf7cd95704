"""When the model is unsure: offer the two likeliest topics as buttons, and put the message
in the NLU inbox for an admin to label."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from bot.training.inbox import do_record_unsure

TOPIC_TITLES = {
    "report_unpaid_wages": "工资被拖欠", "report_overtime": "加班问题", "report_injury": "工伤",
    "report_dismissal": "被辞退", "report_social_insurance": "社保没交", "check_case_status": "查进度",
    "join_union": "加入工会", "ask_matchmaking_events": "联谊活动",
}
DEFAULT_PAIR = ("report_unpaid_wages", "report_injury")


def likeliest_topics(ranking: list[dict[str, Any]], n: int = 2) -> list[str]:
    ranked = [r["name"] for r in sorted(ranking, key=lambda r: -r.get("confidence", 0)) if r.get("name") in TOPIC_TITLES]
    for name in DEFAULT_PAIR:
        if len(ranked) >= n:
            break
        if name not in ranked:
            ranked.append(name)
    return ranked[:n]


class FallbackTopics(Action):
    def name(self) -> str:
        return "action_fallback_topics"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        message = tracker.latest_message
        ranking = [{"name": r.get("name"), "confidence": round(float(r.get("confidence", 0)), 4)}
                   for r in message.get("intent_ranking") or []]
        text = message.get("text") or ""
        if text and not text.startswith("/"):
            async with store.transaction() as session:
                await do_record_unsure(session, text=text, sender=tracker.sender_id, ranking=ranking)
        buttons = [{"title": TOPIC_TITLES[name], "payload": f"/{name}"} for name in likeliest_topics(ranking)]
        buttons.append({"title": "转人工", "payload": "/request_human"})
        dispatcher.utter_message(text="抱歉，我没太明白。您是想说下面哪件事？", buttons=buttons)
        return []
