"""转人工: pause the bot for this worker and say when a person will answer."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.store import contact_for_tracker
from bot.cases.deadlines import UNION_TZ, Calendar, load_calendar
from bot.cases.messages import do_request_handoff
from bot.db import utcnow

OPENS, CLOSES = time(8, 30), time(17, 30)


def next_opening(now: datetime, calendar: Calendar) -> datetime | None:
    """None while the office is open; else when it opens next (union time)."""
    local = now.astimezone(UNION_TZ)
    if calendar.is_working_day(local.date()) and OPENS <= local.time() < CLOSES:
        return None
    day = local.date() if local.time() < OPENS else local.date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, OPENS, UNION_TZ)


class RequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        now = utcnow()
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            await do_request_handoff(session, contact=contact, now=now)
            opening = next_opening(now, await load_calendar(session))
        if opening is None:
            text = "好的，已为您转给工会工作人员，请稍等，他们会在这里回复您。"
        else:
            text = (f"好的，已记下您的请求。现在是下班时间，工作人员会在 {opening.month}月{opening.day}日 "
                    f"{opening:%H:%M} 以后回复您。急事请拨打职工维权热线 12351。")
        dispatcher.utter_message(text=text)
        return []
