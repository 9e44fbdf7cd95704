"""What a question asked again says first, so that it is never the same words again for
nothing: the files that just came (numbered), or the fact the worker just corrected."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.evidence import is_evidence_message
from actions.summary import LABELS, fact_text
from actions.turns import value_before_message

# Facts a correction can change while another question is open (the summary's labels).
_LABELS = dict(LABELS)


def latest_values(tracker: Tracker) -> dict[str, Any]:
    """The slot values set since the worker's latest message (the last of each)."""
    last = next((i for i in range(len(tracker.events) - 1, -1, -1) if tracker.events[i].get("event") == "user"), -1)
    return {e["name"]: e.get("value") for e in tracker.events[last + 1:] if e.get("event") == "slot"}


def changed_facts(tracker: Tracker, values: dict[str, Any], *, besides: str | None) -> list[str]:
    """The facts in ``values`` (other than ``besides``) that differ from before the message."""
    return [slot for slot, value in values.items()
            if slot in _LABELS and slot != besides and value is not None
            and value != value_before_message(tracker, slot)]


def reask_prefix(tracker: Tracker) -> str:
    """The line before a question that is asked again in this turn ("" otherwise)."""
    slot = tracker.get_slot("requested_slot")
    if not slot or value_before_message(tracker, "requested_slot") != slot:
        return ""  # a new question
    if is_evidence_message(tracker):
        held = tracker.get_slot("evidence_files") or []
        return f"收到，已有 {len(held)} 份证据，登记时一起交给工会。\n" if held else ""
    slots = tracker.current_slot_values()
    changed = changed_facts(tracker, latest_values(tracker), besides=slot)
    if not changed:
        return ""
    return "好的，已记下：" + "；".join(f"{_LABELS[s]} {fact_text(s, slots)}" for s in changed) + "。\n"
