"""转人工: put the conversation in the responsible union's live list and say when a person
will answer."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.store import contact_for_tracker
from bot.cases.deadlines import load_calendar
from bot.cases.handoffs import do_open_handoff, next_opening
from bot.db import utcnow

__all__ = ["RequestHuman", "hand_over", "next_opening"]


async def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, *, reason: str | None) -> None:
    """Put the conversation in the live list of the responsible union and tell the worker
    when a person will answer (the bot stays out of it until staff hand it back)."""
    now = utcnow()
    async with store.transaction() as session:
        contact = await contact_for_tracker(session, tracker)
        await do_open_handoff(session, contact=contact, reason=reason, now=now)
        opening = next_opening(now, await load_calendar(session))
    if opening is None:
        text = "好的，已为您转给工会工作人员，请稍等，他们会在这里回复您。"
    else:
        text = (f"好的，已记下您的请求。现在是下班时间，工作人员会在 {opening.month}月{opening.day}日 "
                f"{opening:%H:%M} 以后回复您。急事请拨打职工维权热线 12351。")
    dispatcher.utter_message(text=text)


class RequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await hand_over(dispatcher, tracker, reason=tracker.latest_message.get("text"))
        return []
