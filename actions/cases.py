"""Opening a case when the worker confirms, and telling a worker where their cases stand."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.ext.asyncio import AsyncSession

from actions import store
from actions.texts import CATEGORY_NAMES, STATUS_NAMES, local_time
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_contact_by_sender_id, get_or_create_contact
from bot.cases.models import Contact
from bot.cases.queries import list_cases
from bot.normalize import parse_duration_months, parse_headcount

logger = logging.getLogger(__name__)

FORM_SLOTS = ("employer", "location", "amount", "amount_yuan", "confirmed", "dispute_text")


async def contact_for_tracker(session: AsyncSession, tracker: Tracker) -> Contact:
    """The contact behind the conversation (``<channel>:<id>``; ``rasa`` for bare senders)."""
    contact = await get_contact_by_sender_id(session, sender_id=tracker.sender_id)
    if contact is not None:
        return contact
    channel, sep, external_id = tracker.sender_id.partition(":")
    if not sep:
        channel, external_id = "rasa", tracker.sender_id
    return await get_or_create_contact(session, channel=channel, external_id=external_id)


def wage_draft(tracker: Tracker) -> CaseDraft:
    amount_yuan = tracker.get_slot("amount_yuan")
    duration = tracker.get_slot("duration")
    headcount = tracker.get_slot("headcount")
    description = tracker.get_slot("dispute_text")
    facts: dict[str, Any] = {}
    if duration:
        facts["period_owed"] = duration
        facts["period_owed_months"] = parse_duration_months(duration)
    return CaseDraft(
        category="unpaid_wages",
        employer=tracker.get_slot("employer"),
        location=tracker.get_slot("location"),
        amount=int(amount_yuan) if amount_yuan is not None else None,
        amount_text=tracker.get_slot("amount"),
        headcount=parse_headcount(headcount) if headcount else None,
        description=description if description and not description.startswith("/") else None,
        facts=facts,
    )


class OpenCase(Action):
    def name(self) -> str:
        return "action_open_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS]
        if not tracker.get_slot("confirmed"):
            dispatcher.utter_message(response="utter_not_confirmed")
            return reset
        # The worker's confirming message identifies this request: if Rasa retries the
        # action, the same case comes back instead of a second one.
        message_id = tracker.latest_message.get("message_id") or ""
        source_key = f"rasa:{tracker.sender_id}:{message_id}" if message_id else None
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            case = await do_open_case(
                session,
                contact=contact,
                draft=wage_draft(tracker),
                actor=f"worker:{contact.id}",
                source_key=source_key,
            )
            org_name = case.org.name
        logger.info("opened case %s (%s) on %s", case.number, case.category, case.channel)
        dispatcher.utter_message(
            text=(
                f"已为您登记，案件编号 {case.number}。\n"
                f"负责单位：{org_name}\n"
                f"他们会在 {local_time(case.due_at)} 前受理，有进展我会在这里告诉您。"
                "回复「查进度」随时可以查看。"
            )
        )
        return [*reset, SlotSet("case_number", case.number)]


class CaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            cases = await list_cases(session, contact_id=contact.id, limit=5)
        if not cases:
            dispatcher.utter_message(
                text="您还没有在这里登记过案件。遇到欠薪、工伤等问题，直接跟我说就行。"
            )
            return []
        lines = ["您的案件："]
        for case in cases:
            line = (
                f"· {case.number}（{CATEGORY_NAMES.get(case.category, case.category)}）"
                f"{STATUS_NAMES.get(case.status, case.status)}，负责单位：{case.org.name}"
            )
            if case.due_at is not None and case.status == "submitted":
                line += f"，{local_time(case.due_at)} 前受理"
            lines.append(line)
        dispatcher.utter_message(text="\n".join(lines))
        return []
