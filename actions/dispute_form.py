"""The dispute intake form: one form, five checklists (conversations.md), chosen by `topic`.

Questions already answered in the opening message are not asked again; the company-union
consent question is asked only when the employer is known to have a union. Every answer is
checked: button questions read free text as one of their options (actions/answers.py),
free-text questions keep a short answer, or the fact inside a long one, never a whole story
in place of a fact. A turn without an answer counts against the question, with a hint, then
跳过/转人工, then the question is skipped (actions/failures.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.answers import (
    CORRECTION, OPTIONS, SKIPPED, UNKNOWN_WORDS, bare, is_filler, is_skip, read_option, schedule,
)
from actions.evidence import acknowledge, attachments_of, is_evidence_message
from actions.failures import CANNOT_SKIP, SKIP_INSTEAD, CountsFailures
from actions.questions import say
from actions.turns import is_answer_turn, message_intent, message_text
from bot.cases.orgs import load_jurisdiction
from bot.cases.routing import match_employer
from bot.normalize import find_amounts, parse_amount, parse_duration_months, parse_headcount, resolve_date

TOPIC_OF_INTENT = {
    "report_unpaid_wages": "unpaid_wages",
    "report_overtime": "overtime",
    "report_injury": "injury",
    "report_dismissal": "dismissal",
    "report_social_insurance": "social_insurance",
}

# The facts each topic needs, in the order they are asked (conversations.md).
TOPIC_SLOTS = {
    "unpaid_wages": ["amount", "duration", "headcount", "construction"],
    "overtime": ["daily_hours", "overtime_paid", "since"],
    "injury": ["incident_date", "commute", "employer_reported"],
    "dismissal": ["dismissal_date", "service_length", "amount", "dismissal_how"],
    "social_insurance": ["missing_insurance", "since", "contract_signed"],
}
TAIL_SLOTS = ["dispute_text", "phone", "consent_union", "evidence", "confirmed"]
FORM_SLOTS = sorted({"employer", "location", "amount_yuan", "failures", "evidence_files", *TAIL_SLOTS,
                     *(s for slots in TOPIC_SLOTS.values() for s in slots)})

SKIP_WORDS = ("跳过", "不留", "不想留", "没有", "不方便", "算了", "不用", "先不", "没证据", "发完", "好了", "就这些", "没了")
CANCEL_WORDS = ("取消", "不办了", "不弄了", "算了", "重新开始")
PHONE = re.compile(r"^1[3-9]\d{9}$")
_LEADING = re.compile(r"^(?:我|我们)?(?:是|就是|在|于|给|帮)+")
_TRAILING = re.compile(r"(?:上班|打工|干活|做事|工作|做工|干|那里|这里|的)+$")
_EDGE_PUNCT = " \t\r\n，。,.!！?？~～、;；:：\"'“”‘’()（）【】"
MAX_NAME = 40  # a name or a place; a longer answer is a story, and only its entity is kept
SHORT_FACT = 20  # a duration, a headcount, a time: longer answers keep the fact, not the words
# A place fine enough to route by (street, town, district, industrial zone …), not just a city.
FINE_PLACE = re.compile(r"街道|街|镇|乡|村|区|县|路|开发区|工业园|园区|市场|工地|社区|[0-9一二三四五六七八九十]号")
ONLY_ME = re.compile(r"只有我|就我|我一个|我自己|光我")
# A bare "no" mid-form: not an answer to an open question, not a request to cancel either.
BARE_NO = re.compile(r"^(?:不是|没有|不|没|否|不对|不用|不要|no)[了的啊呀吧哦噢]?$", re.I)
# Intents a bare name or place is read with; a topic, a yes or a greeting is no name.
NAME_INTENTS = ("inform", "nlu_fallback", "out_of_scope")
ENTITY_SLOTS = {"amount": "amount", "employer": "employer", "location": "location", "headcount": "headcount",
                "duration": "duration", "date": "incident_date"}


def clean_answer(text: str) -> str:
    """A free-text answer without framing words and edge punctuation, as typed otherwise."""
    value = text.strip(_EDGE_PUNCT)
    stripped = _TRAILING.sub("", _LEADING.sub("", value)).strip(_EDGE_PUNCT)
    return stripped or value


def message_time(tracker: Tracker) -> datetime:
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("timestamp"):
            return datetime.fromtimestamp(event["timestamp"], tz=timezone.utc)
    return datetime.now(timezone.utc)


def entity_value(tracker: Tracker, *names: str) -> str | None:
    """The first entity of one of ``names`` in the latest message."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") in names and entity.get("value"):
            return str(entity["value"]).strip()
    return None


def _drop_slot_events(tracker: Tracker, slot: str) -> None:
    """Forget what the slot's mappings took from the latest message (the form decides)."""
    last_user = max(i for i, e in enumerate(tracker.events) if e.get("event") == "user")
    tracker.events = [e for i, e in enumerate(tracker.events)
                      if i <= last_user or not (e.get("event") == "slot" and e.get("name") == slot)]


class ValidateDisputeForm(CountsFailures):
    def name(self) -> str:
        return "validate_dispute_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        topic = tracker.get_slot("topic") or "unpaid_wages"
        slots = ["employer", "location", *TOPIC_SLOTS.get(topic, [])]
        tail = list(TAIL_SLOTS)
        if not await self._employer_has_union(tracker.get_slot("employer")):
            tail.remove("consent_union")
        return slots + tail

    @staticmethod
    async def _employer_has_union(employer: str | None) -> bool:
        if not employer:
            return False
        async with store.transaction() as session:
            matched = match_employer(employer, await load_jurisdiction(session))
        return bool(matched and matched.union)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        if is_evidence_message(tracker):
            # Files sent mid-form: each acknowledged; the open question stays open (asked
            # again with the count of files, or for evidence, the worker goes on sending).
            held = list(tracker.get_slot("evidence_files") or [])
            kept = acknowledge(dispatcher, attachments_of(tracker), len(held))
            tracker.slots["evidence_files"] = held + kept  # the re-ask counts them
            events = await super().run(dispatcher, tracker, domain)
            return [*events, SlotSet("evidence_files", held + kept)]
        if requested and is_answer_turn(tracker) and self._skips(requested, tracker):
            return await self._decided(dispatcher, tracker, domain, requested, SKIP_INSTEAD.get(requested, SKIPPED))
        if requested and self._corrects_another_slot(tracker, requested):
            # The corrected slot was filled from its entity; the open question stays open, so
            # the words of the correction must not become its answer.
            return await self._decided(dispatcher, tracker, domain, requested, None)
        return await super().run(dispatcher, tracker, domain)

    @staticmethod
    def _skips(slot: str, tracker: Tracker) -> bool:
        # 跳过 (the offer's button, or typed): evidence and phone read it themselves
        return slot not in ("evidence", "phone", *CANNOT_SKIP) and is_skip(message_text(tracker))

    async def _decided(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                       slot: str, value: Any) -> list[EventType]:
        """Validate the message with ``slot`` set to ``value`` whatever its mappings took."""
        _drop_slot_events(tracker, slot)
        tracker.slots[slot] = value
        events = await super().run(dispatcher, tracker, domain)
        return [SlotSet(slot, value), *(e for e in events if e.get("name") != slot or e.get("event") != "slot")]

    @staticmethod
    def _corrects_another_slot(tracker: Tracker, slot: str) -> bool:
        entities = tracker.latest_message.get("entities") or []
        return bool(CORRECTION.match(message_text(tracker))) and any(
            ENTITY_SLOTS.get(e.get("entity")) != slot for e in entities)

    # -- extraction: facts given in passing are not asked again ---------------------------

    async def extract_amount(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        # The model may miss a money phrase inside a long sentence; the scanner catches it.
        text = message_text(tracker)
        if tracker.get_slot("amount") or text.startswith("/"):
            return {}
        found = find_amounts(text)
        return {"amount": found[0].text} if found else {}

    async def extract_service_length(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        # "干了三年" in a dismissal story is how long the worker was there: not asked again.
        if (tracker.get_slot("topic") != "dismissal" or tracker.get_slot("service_length")
                or tracker.get_slot("requested_slot") == "service_length"):
            return {}
        for entity in tracker.latest_message.get("entities") or []:
            if entity.get("entity") == "duration" and parse_duration_months(str(entity.get("value") or "")):
                return {"service_length": str(entity["value"])}
        return {}

    # Button questions: the words of the answer are read by _option below. Nothing may have
    # mapped them (a story is no affirm/deny, "报了" is nlu_fallback): then they are handed
    # over here, so that the reading never hinges on the model.
    @staticmethod
    def _words(slot: str, tracker: Tracker) -> dict[str, Any]:
        if (tracker.get_slot("requested_slot") != slot or tracker.get_slot(slot) is not None
                or not is_answer_turn(tracker) or is_evidence_message(tracker)):
            return {}
        text = message_text(tracker)
        return {slot: text} if text else {}

    async def extract_construction(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("construction", tracker)

    async def extract_commute(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("commute", tracker)

    async def extract_employer_reported(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("employer_reported", tracker)

    async def extract_contract_signed(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("contract_signed", tracker)

    async def extract_consent_union(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("consent_union", tracker)

    async def extract_overtime_paid(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("overtime_paid", tracker)

    async def extract_dismissal_how(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("dismissal_how", tracker)

    async def extract_missing_insurance(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("missing_insurance", tracker)

    async def extract_confirmed(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._words("confirmed", tracker)

    # -- validation: {slot: None} for an answer that cannot be used (counted in failures.py) --

    @staticmethod
    def _fail(slot: str) -> dict[str, Any]:
        return {slot: None}

    def _option(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        """A button question's answer: the pressed button, or the words read as an option."""
        if tracker.get_slot("requested_slot") != slot or not is_answer_turn(tracker):
            return {slot: value}
        text = message_text(tracker)
        intent, confidence = message_intent(tracker)
        if text.startswith("/"):  # a button: its intent is the answer
            options = OPTIONS[slot]
            picked = {"affirm": options.yes, "deny": options.no}.get(intent or "")
        else:
            picked = read_option(slot, text, intent, confidence)
        return {slot: picked}

    def _text(self, slot: str, value: Any, tracker: Tracker, *, entity: str | None = None,
              limit: int = MAX_NAME) -> dict[str, Any]:
        """A short free-text answer as typed; from a long one only the entity it names."""
        text = clean_answer(str(value or ""))
        if text.startswith("/") or len(bare(text)) < 2 or is_filler(text):
            return self._fail(slot)
        if len(text) > limit:
            found = entity_value(tracker, entity) if entity else None
            return {slot: found} if found else self._fail(slot)
        return {slot: text}

    @staticmethod
    def _whole_answer(slot: str, value: Any, tracker: Tracker) -> Any:
        """The question's answer as written: "郑州航空港区" rather than the entity "郑州"
        when the worker answers the question with a short message containing it."""
        text = message_text(tracker)
        if (tracker.get_slot("requested_slot") == slot and isinstance(value, str) and value and value in text
                and len(text) <= MAX_NAME and not text.startswith("/") and not CORRECTION.match(text)):
            return text
        return value

    def _name(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        """The employer or the place: named by the model (an entity), or typed as a bare
        name; a story ("工资没发"), a "don't know" or a yes is no name."""
        text = message_text(tracker)
        if tracker.get_slot("requested_slot") == slot and is_answer_turn(tracker) and not entity_value(tracker, slot):
            intent, _ = message_intent(tracker)
            if intent not in NAME_INTENTS or UNKNOWN_WORDS.search(text):
                return self._fail(slot)
            # a place must be one to route by; the model sometimes takes a town for a firm
            if slot == "location" and not FINE_PLACE.search(text) and entity_value(tracker, "employer") != text:
                return self._fail(slot)
        return self._text(slot, self._whole_answer(slot, value, tracker), tracker, entity=slot)

    def validate_employer(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._name("employer", value, tracker)

    def validate_location(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if tracker.get_slot("requested_slot") != "location" and not FINE_PLACE.search(str(value or "")):
            # A bare city in passing ("义乌鑫达电子厂"): too coarse to route to a 片区, so the
            # question is still asked (the answer names the street or town).
            return {"location": None}
        return self._name("location", value, tracker)

    def validate_dispute_text(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        if text.startswith("/") or len(bare(text)) < 2 or is_filler(text):
            return self._fail("dispute_text")
        return {"dispute_text": text[:2000]}

    def validate_amount(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        raw = str(value or "").strip()
        amount = parse_amount(raw)
        if amount is None:
            # a sum inside a sentence: the sum is kept, not the sentence
            found = find_amounts(raw)
            amount, raw = (found[0].yuan, found[0].text) if found else (None, raw)
        if amount is None or amount <= 0:
            return {**self._fail("amount"), "amount_yuan": None}
        return {"amount": raw, "amount_yuan": float(amount)}

    def _duration(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        text = str(value or "").strip()
        months = parse_duration_months(text)
        if months is None:
            return self._fail(slot)
        if len(text) > SHORT_FACT:
            text = entity_value(tracker, "duration") or f"{months:g}个月"
        return {slot: text}

    def validate_duration(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._duration("duration", value, tracker)

    def validate_service_length(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._duration("service_length", value, tracker)

    def validate_headcount(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        said = message_text(tracker) if tracker.get_slot("requested_slot") == "headcount" else ""
        if text in ("只有我", "就我", "就我一个", "我一个人") or ONLY_ME.search(said) or parse_headcount(text) == 1:
            return {"headcount": "1人"}
        count = parse_headcount(text)
        if count is None and text != "几个人":
            return self._fail("headcount")
        if len(text) > SHORT_FACT:
            text = entity_value(tracker, "headcount") or f"{count}人"
        return {"headcount": text}

    def validate_daily_hours(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        said = schedule(str(value or ""))
        numbers = [int(n) for n in re.findall(r"\d+", said or "")]
        if said is None or (numbers and not 1 <= numbers[0] <= 24) or len(said) > 80:
            return self._fail("daily_hours")
        return {"daily_hours": said}

    def _date(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        now = message_time(tracker)
        day = resolve_date(str(value or ""), now=now)
        if day is None or day > now.date():
            return self._fail(slot)
        return {slot: day.isoformat()}

    def validate_incident_date(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._date("incident_date", value, tracker)

    def validate_dismissal_date(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._date("dismissal_date", value, tracker)

    def validate_since(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("since", value, tracker, entity="date", limit=SHORT_FACT)

    def validate_construction(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("construction", value, tracker)

    def validate_commute(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("commute", value, tracker)

    def validate_employer_reported(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("employer_reported", value, tracker)

    def validate_contract_signed(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("contract_signed", value, tracker)

    def validate_consent_union(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if tracker.get_slot("requested_slot") == "consent_union" and any(w in message_text(tracker) for w in SKIP_WORDS):
            return {"consent_union": False}  # when in doubt, the company union is not told
        return self._option("consent_union", value, tracker)

    def validate_overtime_paid(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("overtime_paid", value, tracker)

    def validate_dismissal_how(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("dismissal_how", value, tracker)

    def validate_missing_insurance(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._option("missing_insurance", value, tracker)

    def validate_phone(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        if any(word in text for word in SKIP_WORDS) or is_skip(text):
            return {"phone": "skipped"}
        digits = re.sub(r"\D", "", text)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if not PHONE.match(digits):
            return self._fail("phone")
        return {"phone": digits}

    def validate_evidence(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        if any(w in text for w in SKIP_WORDS) or text.startswith("/") or is_filler(text):
            return {"evidence": "sent" if tracker.get_slot("evidence_files") else "skipped"}
        return {"evidence": text[:500]}

    def validate_confirmed(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = message_text(tracker)
        if any(word in text for word in CANCEL_WORDS):
            return {"confirmed": False}  # action_open_case says it is cancelled
        if not is_answer_turn(tracker) or tracker.get_slot("requested_slot") != "confirmed":
            return {"confirmed": value if value is True else None}
        if self._corrects_another_slot(tracker, "confirmed"):
            return {"confirmed": None}  # the summary is shown again with the change
        if self._option("confirmed", value, tracker)["confirmed"] is True:
            return {"confirmed": True}
        intent, _ = message_intent(tracker)
        if value is False or intent == "deny" or BARE_NO.match(text):
            say(dispatcher, "correction_hint")
        return {"confirmed": None}
