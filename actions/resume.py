"""Back from a person: when staff hand the conversation back, the bot says so and goes on
with the dispute form where it stopped (the slots filled before the handoff are kept)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ResumeDialogue(Action):
    def name(self) -> str:
        return "action_resume_dialogue"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("topic"):
            # a dispute was being taken in (the slot is cleared once its case opens)
            dispatcher.utter_message(text="工作人员已把对话交回给我，我们接着刚才的登记继续。")
            return [FollowupAction("dispute_form")]
        dispatcher.utter_message(text="工作人员已把对话交回给我。还有什么需要帮忙的，直接告诉我就行。")
        return []
