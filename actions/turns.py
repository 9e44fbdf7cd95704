"""What the current turn is, read from the tracker a form's actions receive.

Rasa runs a form's validation in several situations: right after the worker's message (the
message answers the open question, or should), after another action answered the message
first (查进度, 你是机器人吗, a "no" the form could not take, staff handing the worker back),
or when the form starts. Only the first is an answer; the failure counter counts it, and
also a return after an interruption (the question stayed open another turn).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

FAILURES = "failures"  # slot: {question slot: turns it stayed open without an answer}


def _last_user(tracker: Tracker) -> int | None:
    return next((i for i in range(len(tracker.events) - 1, -1, -1) if tracker.events[i].get("event") == "user"), None)


def actions_since_message(tracker: Tracker) -> list[str]:
    """The actions run since the worker's latest message (Rasa's form adds its own name
    to the tracker it hands its validation: that one is left out)."""
    last = _last_user(tracker)
    if last is None:
        return []
    names = [e.get("name") or "" for e in tracker.events[last + 1:] if e.get("event") == "action"]
    form = (tracker.active_loop or {}).get("name")
    return [name for name in names if name != form]


def is_answer_turn(tracker: Tracker) -> bool:
    """The form is reading the worker's latest message as the answer to its question."""
    return _last_user(tracker) is not None and not actions_since_message(tracker)


def is_return_after_interruption(tracker: Tracker) -> bool:
    """The form is asking again after a rule answered something else mid-form."""
    return "utter_back_to_form" in actions_since_message(tracker)


def value_before_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the worker's latest message was read."""
    last = _last_user(tracker)
    events = tracker.events if last is None else tracker.events[:last]
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
        if event.get("event") in ("restart", "session_started"):
            break
    return None


def failures(tracker: Tracker, slot: str) -> int:
    counts = tracker.get_slot(FAILURES)
    return int(counts.get(slot, 0)) if isinstance(counts, dict) else 0


def with_failure(tracker: Tracker, slot: str) -> dict[str, int]:
    """The failure counts with one more for ``slot``."""
    counts = tracker.get_slot(FAILURES)
    counts = dict(counts) if isinstance(counts, dict) else {}
    counts[slot] = int(counts.get(slot, 0)) + 1
    return counts


def message_text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def message_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)
