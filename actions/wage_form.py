"""The unpaid-wages form: validation of each answer and the summary before confirmation."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.texts import yuan
from bot.normalize import find_amounts, parse_amount

# Framing words workers put around a bare answer: "在鑫达电子厂上班" → "鑫达电子厂".
_LEADING = re.compile(r"^(?:我|我们)?(?:是|就是|在|于|给|帮)+")
_TRAILING = re.compile(r"(?:上班|打工|干活|做事|工作|做工|干|那里|这里|的)+$")
_EDGE_PUNCT = " \t\r\n，。,.!！?？~～、;；:：\"'“”‘’()（）【】"
MAX_FIELD = 100


def clean_answer(text: str) -> str:
    """A free-text answer without framing words and edge punctuation, as typed otherwise."""
    value = text.strip(_EDGE_PUNCT)
    stripped = _TRAILING.sub("", _LEADING.sub("", value)).strip(_EDGE_PUNCT)
    return stripped or value


class ValidateWageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_wage_form"

    async def extract_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # The model may miss a money phrase ("八千多块" inside a long sentence); the
        # normaliser's scanner catches it so the worker is not asked again.
        if tracker.get_slot("amount"):
            return {}
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            return {}
        found = find_amounts(text)
        return {"amount": found[0].text} if found else {}

    def validate_employer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        employer = clean_answer(str(value or ""))
        if len(employer) < 2 or len(employer) > MAX_FIELD or employer.startswith("/"):
            dispatcher.utter_message(response="utter_invalid_text")
            return {"employer": None}
        return {"employer": employer}

    def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        location = clean_answer(str(value or ""))
        if len(location) < 2 or len(location) > MAX_FIELD or location.startswith("/"):
            dispatcher.utter_message(response="utter_invalid_text")
            return {"location": None}
        return {"location": location}

    def validate_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        raw = str(value or "").strip()
        amount = parse_amount(raw)
        if amount is None:
            found = find_amounts(raw)
            amount = found[0].yuan if found else None
        if amount is None or amount <= 0:
            dispatcher.utter_message(response="utter_invalid_amount")
            return {"amount": None, "amount_yuan": None}
        return {"amount": raw, "amount_yuan": float(amount)}

    def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"confirmed": bool(value)}


class AskConfirmed(Action):
    """Shows what will go on the case and asks the worker to confirm it."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        amount_yuan = tracker.get_slot("amount_yuan")
        amount_line = yuan(int(amount_yuan)) if amount_yuan is not None else "未填"
        raw = tracker.get_slot("amount")
        if raw and not raw.isdigit():
            amount_line += f"（您写的是「{raw}」）"
        lines = [
            "请核对一下，没问题就点「确认提交」：",
            f"· 欠薪单位：{tracker.get_slot('employer')}",
            f"· 干活地点：{tracker.get_slot('location')}",
            f"· 欠款金额：{amount_line}",
        ]
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "不对，重新填", "payload": "/deny"},
            ],
        )
        return []
