"""入会: the short application form and its submission to the city federation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.store import contact_for_tracker
from actions.dispute_form import ValidateDisputeForm
from actions.failures import CountsFailures
from bot.cases.membership import do_apply_for_membership

JOIN_SLOTS = ("applicant_name", "employer", "location", "phone")


class ValidateJoinForm(CountsFailures):
    """Same answers, same checks as the dispute form, except that a phone is needed here and
    nothing can be skipped: after two unusable answers the worker is offered a person."""

    skippable = False

    def name(self) -> str:
        return "validate_join_form"

    def validate_applicant_name(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        name = str(value or "").strip()
        if not 2 <= len(name) <= 20 or name.startswith("/"):
            return {"applicant_name": None}
        return {"applicant_name": name}

    def validate_employer(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return ValidateDisputeForm()._text("employer", value, tracker, entity="employer")

    def validate_location(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return ValidateDisputeForm()._text("location", value, tracker, entity="location")

    def validate_phone(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        result: dict[str, Any] = ValidateDisputeForm().validate_phone(value, dispatcher, tracker, domain)
        if result.get("phone") == "skipped":
            return {"phone": None}
        return result


class SubmitMembership(Action):
    def name(self) -> str:
        return "action_submit_membership"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slots = tracker.current_slot_values()
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            application = await do_apply_for_membership(
                session, contact=contact, name=slots["applicant_name"], employer=slots["employer"],
                city=slots["location"], phone=slots["phone"],
            )
        dispatcher.utter_message(
            text=f"入会申请已提交（编号 R{application.id:05d}），义乌市总工会的工作人员会打电话跟您联系。欢迎加入工会！"
        )
        return [SlotSet(slot, None) for slot in (*JOIN_SLOTS, "failures")]
