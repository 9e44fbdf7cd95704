"""The dispute intake's other steps: starting a dispute and its introduction, the evidence
and confirmation questions, and a "no" the form could not take."""

from __future__ import annotations

import inspect

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dispute_form import (
    BARE_NO, CANCEL_WORDS, FORM_SLOTS, TAIL_SLOTS, TOPIC_OF_INTENT, TOPIC_SLOTS, ValidateDisputeForm,
)
from actions.answers import is_filler
from actions.evidence import is_evidence_message
from actions.failures import count_failure
from actions.questions import HUMAN_BUTTON, INTROS, OFFER_CONFIRM, say, with_offer
from actions.reasks import reask_prefix
from actions.summary import EVIDENCE_CHECKLIST, summary_text
from actions.turns import failures, message_intent, message_text


class StartDispute(Action):
    """Remembers which dispute the worker opened, and forgets the facts of the last one."""

    def name(self) -> str:
        return "action_start_dispute"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        topic = TOPIC_OF_INTENT.get(intent or "", "unpaid_wages")
        if (tracker.active_loop or {}).get("name") == "dispute_form" and tracker.get_slot("topic") == topic:
            # An answer that reads like the topic itself ("在车间干活的时候" in an injury
            # form): the same dispute goes on, no second introduction.
            return [SlotSet("intro_due", False)]
        events: list[EventType] = [SlotSet("topic", topic), SlotSet("confirmed", None), SlotSet("failures", None),
                                   SlotSet("intro_due", True)]
        if tracker.latest_message.get("text", "").startswith("/"):
            events.append(SlotSet("dispute_text", None))  # a button, not the worker's words
        return events


class AskEvidence(Action):
    """The evidence checklist of the topic, and how to send it."""

    def name(self) -> str:
        return "action_ask_evidence"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if is_evidence_message(tracker):
            held = len(tracker.get_slot("evidence_files") or [])
            dispatcher.utter_message(
                text=f"收到，一共 {held} 份了。还有的话接着发；都发完了点「发完了」。",
                buttons=[{"title": "发完了", "payload": "发完了"}],
            )
            return []
        checklist = EVIDENCE_CHECKLIST.get(tracker.get_slot("topic") or "", "")
        text = (f"有证据的话现在就可以发照片、文件或语音：{checklist}\n"
                "单位手里的考勤、工资表，单位有责任拿出来（《劳动争议调解仲裁法》第6条）。"
                "暂时没有也没关系，以后回复「补充证据」再发。")
        buttons = [{"title": "发完了", "payload": "发完了"}, {"title": "跳过", "payload": "跳过"}]
        if failures(tracker, "evidence") >= 2:
            text, buttons = with_offer(text, buttons)
        dispatcher.utter_message(text=reask_prefix(tracker) + text, buttons=buttons)
        # Where the channel cannot carry documents (WeChat), the gateway adds an upload link.
        dispatcher.utter_message(json_message={"offer": "upload"})
        return []


class AskConfirmed(Action):
    """Shows what will go on the case and asks the worker to confirm it."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        tries = failures(tracker, "confirmed")
        if tries >= 3 and message_intent(tracker)[0] != "resume_dialogue":
            return []  # just handed to a person (failures.py), who goes through it with the worker
        slots = tracker.current_slot_values()
        topic = slots.get("topic") or "unpaid_wages"
        shown = ["employer", "location", *TOPIC_SLOTS.get(topic, []), *TAIL_SLOTS]
        if topic in ("overtime", "social_insurance") and slots.get("amount"):
            shown.append("amount")  # the monthly wage: the overtime-pay estimate, the 社保 base
        buttons = [{"title": "确认提交", "payload": "/affirm"}, {"title": "不对，要改", "payload": "/deny"},
                   {"title": "取消", "payload": "取消"}]
        text = reask_prefix(tracker) + summary_text(slots, shown)
        if tries >= 2:
            text, buttons = f"{text}\n{OFFER_CONFIRM}", [*buttons, HUMAN_BUTTON]
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class DisputeIntro(Action):
    """The topic's introduction (what the law says, then "I'll ask a few questions"), once
    per dispute."""

    def name(self) -> str:
        return "action_dispute_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("intro_due") is not False:
            dispatcher.utter_message(text=INTROS.get(tracker.get_slot("topic"), INTROS[None]))
        return [SlotSet("intro_due", None)]


class DenyInForm(Action):
    """"No" while the form is open and the open question could not take it.

    Only words that mean "stop" (取消, 不办了 …) cancel the dispute; an answer the model read
    as "no" ("这周一") is checked as the answer to the open question; anything else (a bare
    "不是") counts as a turn without an answer, with a hint, like any other (failures.py).
    """

    def name(self) -> str:
        return "action_deny_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = message_text(tracker)
        form = (tracker.active_loop or {}).get("name") or "dispute_form"
        if any(word in text for word in CANCEL_WORDS):
            say(dispatcher, "form_cancelled")
            return [ActiveLoop(None), SlotSet("requested_slot", None),
                    *(SlotSet(slot, None) for slot in FORM_SLOTS), SlotSet("topic", None)]
        slot = tracker.get_slot("requested_slot")
        validator = getattr(ValidateDisputeForm(), f"validate_{slot}", None) if slot else None
        result = {}
        bare = BARE_NO.match(text) or is_filler(text) or text.startswith("/")
        if validator is not None and not bare:
            result = validator(text, dispatcher, tracker, domain)
            if inspect.isawaitable(result):
                result = await result
        if slot and result.get(slot) is None:
            if bare:
                say(dispatcher, "deny_hint")
            result = {**result, **await count_failure(dispatcher, tracker, slot, quiet=bool(dispatcher.messages),
                                                      skippable=form == "dispute_form")}
        return [*(SlotSet(k, v) for k, v in result.items()), FollowupAction(form)]
