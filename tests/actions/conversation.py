"""A dispute form played turn by turn on real rasa_sdk trackers, the way Rasa runs it.

Each turn: the worker's message (with the model's intent and entities, as a test states
them) → the slot mappings of the real domain.yml (what Rasa's action_extract_slots does)
→ the form's validation action → the ask action of the question that is open after it.
The tracker grows event by event, so "before this message" and "the same question again"
mean what they mean in a running bot. Rules are not run: a turn the form hands to a rule
(转人工, a bare 不是) comes back as ``rejected``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dispute_form import ValidateDisputeForm
from actions.dispute_steps import AskConfirmed, AskEvidence
from actions.questions import ASK_ACTIONS
from tests.actions.test_dispute_form import DOMAIN, NOW

ASKERS = {**{slot: cls for slot, cls in ASK_ACTIONS.items()}, "evidence": AskEvidence, "confirmed": AskConfirmed}


def mapped(slot: str, text: str, intent: str, entities: list[dict[str, Any]], requested: str | None) -> Any:
    """The value the domain's mappings of ``slot`` take from the message (None: none)."""
    for mapping in DOMAIN["slots"][slot].get("mappings", []):
        conditions = mapping.get("conditions")
        if conditions and not any(c.get("active_loop") == "dispute_form" and c.get("requested_slot") in (None, requested)
                                  for c in conditions):
            continue
        kind = mapping["type"]
        if kind == "from_entity":
            found = [e["value"] for e in entities if e["entity"] == mapping["entity"]]
            if found:
                return found[-1]
        elif kind == "from_intent" and intent == mapping["intent"]:
            return mapping["value"]
        elif kind == "from_text":
            wanted, unwanted = mapping.get("intent"), mapping.get("not_intent") or []
            if (not wanted or intent in wanted) and intent not in unwanted:
                return text
    return None


@dataclass
class Turn:
    messages: list[dict[str, Any]]
    asked: str | None  # the question open after the turn
    rejected: bool  # the form stepped aside for a rule

    @property
    def texts(self) -> list[str]:
        return [m.get("text") or "" for m in self.messages]

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def payloads(self) -> list[str]:
        return [b["payload"] for b in self.last.get("buttons") or []]


@dataclass
class Conversation:
    topic: str
    slots: dict[str, Any] = field(default_factory=dict)
    sender: str = field(default_factory=lambda: f"webchat:{uuid.uuid4().hex[:8]}")
    events: list[dict[str, Any]] = field(default_factory=list)
    _latest: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = {name: None for name in DOMAIN["slots"]} | {"topic": self.topic} | self.slots
        self.events = [{"event": "slot", "name": k, "value": v} for k, v in self.slots.items() if v is not None]

    def _tracker(self, events: list[dict[str, Any]], latest: dict[str, Any]) -> Tracker:
        return Tracker(self.sender, dict(self.slots), latest, events, False, None,
                       {"name": "dispute_form", "is_interrupted": False, "rejected": False}, "action_listen")

    async def start(self, requested: str) -> None:
        """The form is at ``requested`` (its question was asked)."""
        self.slots["requested_slot"] = requested
        self.events.append({"event": "slot", "name": "requested_slot", "value": requested})

    async def say(self, text: str, *, intent: str = "inform", confidence: float = 0.99,
                  entities: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None) -> Turn:
        requested = self.slots.get("requested_slot")
        self._latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
                        "entities": entities or [], "message_id": uuid.uuid4().hex, "metadata": metadata or {}}
        self.events.append({"event": "user", "text": text, "parse_data": self._latest, "timestamp": NOW.timestamp()})
        extracted = {slot: value for slot in DOMAIN["slots"]
                     if (value := mapped(slot, text, intent, entities or [], requested)) is not None}
        for slot, value in extracted.items():
            self.slots[slot] = value
            self.events.append({"event": "slot", "name": slot, "value": value})
        return await self._form(extracted)

    async def back_after(self, *actions: str) -> Turn:
        """The form again after rules answered the last message (查进度 → its reply, then
        utter_back_to_form): no answer to read, the question is asked again."""
        self.events += [{"event": "action", "name": name} for name in actions]
        return await self._form({})

    async def _form(self, extracted: dict[str, Any]) -> Turn:
        requested, latest = self.slots.get("requested_slot"), self._latest
        # what FormAction._temporary_tracker hands the validation
        form_events = [*self.events, {"event": "slot", "name": "requested_slot", "value": requested},
                       {"event": "action", "name": "dispute_form"},
                       *({"event": "slot", "name": k, "value": v} for k, v in extracted.items())]
        dispatcher = CollectingDispatcher()
        result = await ValidateDisputeForm().run(dispatcher, self._tracker(form_events, latest), DOMAIN)
        if any(e["event"] == "action_execution_rejected" for e in result):
            return Turn(dispatcher.messages, requested, rejected=True)
        for event in result:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        self.events += [e for e in result if e["event"] == "slot"]
        asked = self.slots.get("requested_slot")
        if asked:
            ask_events = [*form_events, *result]
            await ASKERS[asked]().run(dispatcher, self._tracker(ask_events, latest), DOMAIN)
        self.events.append({"event": "action", "name": "dispute_form"})
        self.events.append({"event": "action", "name": "action_listen"})
        return Turn(dispatcher.messages, asked, rejected=False)
