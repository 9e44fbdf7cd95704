"""No worker stuck: one failure counter for every question of a form.

A turn in which the open question gets no answer counts against that question
(``failures`` = {slot: n}): an unusable answer, a story without the words this question
needs, nonsense, or a return after 查进度 mid-form. The first gets a hint with the options
(button questions) or an example (free text) before the question; from the second on the
question offers 「跳过」 and 「转人工」 (``questions.ask``); the third skips the question
(stored as "skipped", shown as 未说明; staff follow up) — or, for the confirmation, which
cannot be skipped, hands the worker to a person. So no question is asked more than three
times in a row, and every conversation can reach a case or a person.

Not counted: a turn that brings files, and a correction that changes another fact (the
question is asked again saying what was received or changed). Messages other rules answer
(转人工, 查进度, 你是机器人吗, 取消) are no answer either: the form steps aside (rejects) so that
the rule runs; a bare 不是 goes to action_deny_in_form, which counts it like the rest.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answers import CANCEL, CORRECTION, SKIPPED
from actions.evidence import is_evidence_message
from actions.handoff import hand_over
from actions.questions import hint, say
from actions.reasks import changed_facts, latest_values
from actions.turns import (
    FAILURES, is_answer_turn, is_return_after_interruption, message_intent, message_text, with_failure,
)

# Intents with their own mid-form rules (stories/rules.yml), and the gateway's system intents.
HANDLED_BY_RULES = frozenset({"request_human", "check_case_status", "bot_challenge", "resume_dialogue"})
SKIP_INSTEAD = {"consent_union": False}  # when in doubt, the company union is not told
CANNOT_SKIP = frozenset({"confirmed"})


def steps_aside(tracker: Tracker) -> bool:
    """The worker's message is for another rule, not an answer to the open question."""
    intent, _ = message_intent(tracker)
    return is_answer_turn(tracker) and (intent in HANDLED_BY_RULES or bool(CANCEL.search(message_text(tracker))))


def is_correction(tracker: Tracker, slot: str) -> bool:
    """The message corrected another fact (progress, not a failure to answer)."""
    return bool(CORRECTION.match(message_text(tracker))) and bool(
        changed_facts(tracker, latest_values(tracker), besides=slot))


async def count_failure(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, *,
                        quiet: bool = False, skippable: bool = True) -> dict[str, Any]:
    """One more turn without an answer to ``slot``: the hint, or skip, or a person.

    Args:
        quiet: say nothing (the turn already said why, e.g. after 查进度).
        skippable: the form lets a question be skipped (the dispute form; not 入会).
    """
    counts = with_failure(tracker, slot)
    n = counts[slot]
    if skippable and n >= 3:
        if slot in CANNOT_SKIP:
            # the confirmation has no "skip": a person checks the summary with the worker
            await hand_over(dispatcher, tracker, reason="确认登记时没能确认，需要人工核对")
            return {FAILURES: counts}
        say(dispatcher, "skipped")
        return {slot: SKIP_INSTEAD.get(slot, SKIPPED), FAILURES: counts}
    if not quiet and n == 1:
        hint(dispatcher, slot)
    elif not quiet and not skippable:
        say(dispatcher, "offer_human")  # the dispute form's questions offer it themselves
    return {slot: None, FAILURES: counts}


class CountsFailures(FormValidationAction):
    """A form validation whose questions share the failure counter.

    Validators return ``{slot: None}`` for an answer they cannot use and say nothing: the
    counting, hints and offers happen once, here, for whichever question is open.
    """

    skippable = True

    @abstractmethod
    def name(self) -> str:
        """validate_<form>; abstract so that rasa_sdk does not register this base class."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if steps_aside(tracker):
            return [ActionExecutionRejected(self.form_name())]
        events = await super().run(dispatcher, tracker, domain)
        slot = tracker.get_slot("requested_slot")  # the question asked before this message
        intent, _ = message_intent(tracker)
        if (slot and intent == "deny" and is_answer_turn(tracker) and tracker.get_slot(slot) is None
                and FAILURES not in _set(events) and not is_correction(tracker, slot)):
            # 不是 / 这周一 read as "no": action_deny_in_form reads it (it cancels only on 取消)
            return [*events, ActionExecutionRejected(self.form_name())]
        return events

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        slot = tracker.get_slot("requested_slot")
        if not slot or is_evidence_message(tracker):
            return events
        if tracker.get_slot(slot) is not None or FAILURES in _set(events):
            return events  # answered (or skipped), or already counted
        intent, _ = message_intent(tracker)
        if is_answer_turn(tracker):
            if (intent == "deny" and not dispatcher.messages) or is_correction(tracker, slot):
                return events  # a bare "no" is read by action_deny_in_form (run() steps aside)
            # a validator that already explained itself (e.g. the correction hint) is enough
            counted = await count_failure(dispatcher, tracker, slot, quiet=bool(dispatcher.messages),
                                          skippable=self.skippable)
        elif is_return_after_interruption(tracker):
            counted = await count_failure(dispatcher, tracker, slot, quiet=True, skippable=self.skippable)
        else:
            return events
        return [*(e for e in events if e.get("name") not in counted), *(SlotSet(k, v) for k, v in counted.items())]


def _set(events: list[EventType]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in events if e.get("event") == "slot"}
