"""The dispute intake form: one form, five checklists (conversations.md), chosen by `topic`.

Questions already answered in the opening message are not asked again; the company-union
consent question is asked only when the employer is known to have a union; every answer is
validated with a clear re-ask, and after two failed answers the worker is offered a person.
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.evidence import acknowledge, attachments_of, is_evidence_message
from actions.questions import INTROS, say
from actions.summary import EVIDENCE_CHECKLIST, summary_text
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
FORM_SLOTS = sorted({"employer", "location", "amount_yuan", "retries", "evidence_files", *TAIL_SLOTS,
                     *(s for slots in TOPIC_SLOTS.values() for s in slots)})

SKIP_WORDS = ("跳过", "不留", "不想留", "没有", "不方便", "算了", "不用", "先不", "没证据", "发完", "好了", "就这些", "没了")
CANCEL_WORDS = ("取消", "不办了", "不弄了", "算了", "重新开始")
PHONE = re.compile(r"^1[3-9]\d{9}$")
NO_WORDS = re.compile(r"没|不|别|未|無|没有|no\b", re.I)
YES_WORDS = re.compile(r"^(?:是|对|有|签了|报了|可以|同意|行|好|嗯|中|yes)", re.I)
_LEADING = re.compile(r"^(?:我|我们)?(?:是|就是|在|于|给|帮)+")
_TRAILING = re.compile(r"(?:上班|打工|干活|做事|工作|做工|干|那里|这里|的)+$")
_EDGE_PUNCT = " \t\r\n，。,.!！?？~～、;；:：\"'“”‘’()（）【】"
MAX_FIELD = 200
# "不对，金额是九千" while another question is open: a correction, not an answer to it.
CORRECTION = re.compile(r"^\s*(?:不对|错了|搞错|写错|改一下|更正|应该是|不是不是)")
# "上下班路上 / 干活的时候" answered in words rather than with the buttons.
COMMUTE_WORDS = re.compile(r"路上|上班途中|下班途中|通勤|回家|骑车|开车|过马路|被车撞|车祸|交通事故")
AT_WORK_WORDS = re.compile(r"干活|上班的时候|上班时|工作时|做工|车间|工地|厂里|机器|岗位|值班|加班的时候|送货的时候")
# A place fine enough to route by (street, town, district, industrial zone …), not just a city.
FINE_PLACE = re.compile(r"街道|街|镇|乡|村|区|县|路|开发区|工业园|园区|市场|工地|社区|[0-9一二三四五六七八九十]号")
ONLY_ME = re.compile(r"只有我|就我|我一个|我自己|光我")
# A bare "no" mid-form: not an answer to an open question, not a request to cancel either.
BARE_NO = re.compile(r"^(?:不是|没有|不|没|否|不对|不用|不要|no)[了的啊呀吧哦噢]?$", re.I)
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


class ValidateDisputeForm(FormValidationAction):
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

    # -- extraction: facts given in passing are not asked again ---------------------------

    async def extract_amount(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        # The model may miss a money phrase inside a long sentence; the scanner catches it.
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("amount") or text.startswith("/"):
            return {}
        found = find_amounts(text)
        return {"amount": found[0].text} if found else {}

    # Yes/no questions must not hinge on the model: "没签" read as a topic, or "跳过", would
    # otherwise stall the form. Only the open question is read this way, never `confirmed`.
    def _yes_no(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        text = (tracker.latest_message.get("text") or "").strip()
        if tracker.get_slot("requested_slot") != slot or text.startswith("/") or not text:
            return {}
        if slot == "consent_union" and any(word in text for word in SKIP_WORDS):
            return {slot: False}  # when in doubt, the company union is not told
        if NO_WORDS.search(text):
            return {slot: False}
        if YES_WORDS.search(text):
            return {slot: True}
        return {}

    async def extract_service_length(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        # "干了三年" in a dismissal story is how long the worker was there: not asked again.
        if (tracker.get_slot("topic") != "dismissal" or tracker.get_slot("service_length")
                or tracker.get_slot("requested_slot") == "service_length"):
            return {}
        for entity in tracker.latest_message.get("entities") or []:
            if entity.get("entity") == "duration" and parse_duration_months(str(entity.get("value") or "")):
                return {"service_length": str(entity["value"])}
        return {}

    async def extract_construction(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._yes_no("construction", tracker)

    async def extract_commute(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = (tracker.latest_message.get("text") or "").strip()
        if tracker.get_slot("requested_slot") == "commute" and not text.startswith("/"):
            if COMMUTE_WORDS.search(text):
                return {"commute": True}
            if AT_WORK_WORDS.search(text):
                return {"commute": False}
        return self._yes_no("commute", tracker)

    async def extract_employer_reported(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._yes_no("employer_reported", tracker)

    async def extract_contract_signed(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._yes_no("contract_signed", tracker)

    async def extract_consent_union(self, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._yes_no("consent_union", tracker)

    # -- validation ------------------------------------------------------------------------

    @staticmethod
    def _corrects_another_slot(tracker: Tracker, slot: str) -> bool:
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        return bool(CORRECTION.match(text)) and any(ENTITY_SLOTS.get(e.get("entity")) != slot for e in entities)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        if is_evidence_message(tracker):
            # Files sent mid-form: each acknowledged; the open question stays open (it is
            # asked again, or for evidence, the worker is told to go on sending).
            held = list(tracker.get_slot("evidence_files") or [])
            kept = acknowledge(dispatcher, attachments_of(tracker), len(held))
            events = await super().run(dispatcher, tracker, domain)
            return [*events, SlotSet("evidence_files", held + kept)]
        if not (requested and self._corrects_another_slot(tracker, requested)):
            return await super().run(dispatcher, tracker, domain)
        # The corrected slot was filled from its entity; the open question stays open, so
        # the words of the correction must not become its answer.
        last_user = max(i for i, e in enumerate(tracker.events) if e.get("event") == "user")
        tracker.events = [e for i, e in enumerate(tracker.events)
                          if i <= last_user or not (e.get("event") == "slot" and e.get("name") == requested)]
        tracker.slots[requested] = None
        events = await super().run(dispatcher, tracker, domain)
        return [SlotSet(requested, None), *(e for e in events if e.get("name") != requested or e.get("event") != "slot")]

    def _fail(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            # Picked up in passing (e.g. from the opening message) and unusable: drop it
            # quietly; the question itself comes in its turn.
            return {slot: None}
        retries = int(tracker.get_slot("retries") or 0) + 1
        say(dispatcher, "offer_human" if retries >= 2 else response)
        return {slot: None, "retries": float(retries)}

    def _text(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text = clean_answer(str(value or ""))
        if len(text) < 2 or len(text) > MAX_FIELD or text.startswith("/"):
            return self._fail(dispatcher, tracker, slot, "invalid_text")
        return {slot: text, "retries": None}

    @staticmethod
    def _whole_answer(slot: str, value: Any, tracker: Tracker) -> Any:
        """The question's answer as written: "郑州航空港区" rather than the entity "郑州"
        when the worker answers the question with a short message containing it."""
        text = (tracker.latest_message.get("text") or "").strip()
        if (tracker.get_slot("requested_slot") == slot and isinstance(value, str) and value and value in text
                and len(text) <= 40 and not text.startswith("/") and not CORRECTION.match(text)):
            return text
        return value

    def validate_employer(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("employer", self._whole_answer("employer", value, tracker), dispatcher, tracker)

    def validate_location(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if tracker.get_slot("requested_slot") != "location" and not FINE_PLACE.search(str(value or "")):
            # A bare city in passing ("义乌鑫达电子厂"): too coarse to route to a 片区, so the
            # question is still asked (the answer names the street or town).
            return {"location": None}
        return self._text("location", self._whole_answer("location", value, tracker), dispatcher, tracker)

    def validate_dispute_text(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        if text.startswith("/") or len(text) < 2:
            return self._fail(dispatcher, tracker, "dispute_text", "invalid_text")
        return {"dispute_text": text[:2000], "retries": None}

    def validate_amount(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        raw = str(value or "").strip()
        amount = parse_amount(raw)
        if amount is None:
            found = find_amounts(raw)
            amount = found[0].yuan if found else None
        if amount is None or amount <= 0:
            return {**self._fail(dispatcher, tracker, "amount", "invalid_amount"), "amount_yuan": None}
        return {"amount": raw, "amount_yuan": float(amount), "retries": None}

    def validate_duration(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if parse_duration_months(str(value or "")) is None:
            return self._fail(dispatcher, tracker, "duration", "invalid_number")
        return {"duration": str(value).strip(), "retries": None}

    def validate_service_length(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if parse_duration_months(str(value or "")) is None:
            return self._fail(dispatcher, tracker, "service_length", "invalid_number")
        return {"service_length": str(value).strip(), "retries": None}

    def validate_headcount(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        said = (tracker.latest_message.get("text") or "") if tracker.get_slot("requested_slot") == "headcount" else ""
        if text in ("只有我", "就我", "就我一个", "我一个人") or ONLY_ME.search(said) or parse_headcount(text) == 1:
            return {"headcount": "1人", "retries": None}
        if parse_headcount(text) is None and text != "几个人":
            return self._fail(dispatcher, tracker, "headcount", "invalid_number")
        return {"headcount": text, "retries": None}

    def validate_daily_hours(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        numbers = [int(n) for n in re.findall(r"\d+", str(value or ""))]
        if not numbers and not re.search(r"[一二两三四五六七八九十]+个?(?:小时|钟头|点)", str(value or "")):
            return self._fail(dispatcher, tracker, "daily_hours", "invalid_number")
        if numbers and not 1 <= numbers[0] <= 24:
            return self._fail(dispatcher, tracker, "daily_hours", "invalid_number")
        return {"daily_hours": str(value).strip(), "retries": None}

    def _date(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        now = message_time(tracker)
        day = resolve_date(str(value or ""), now=now)
        if day is None or day > now.date():
            return self._fail(dispatcher, tracker, slot, "invalid_date")
        return {slot: day.isoformat(), "retries": None}

    def validate_incident_date(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._date("incident_date", value, dispatcher, tracker)

    def validate_dismissal_date(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._date("dismissal_date", value, dispatcher, tracker)

    def validate_since(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("since", value, dispatcher, tracker)

    def validate_overtime_paid(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("overtime_paid", value, dispatcher, tracker)

    def validate_dismissal_how(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("dismissal_how", value, dispatcher, tracker)

    def validate_missing_insurance(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        return self._text("missing_insurance", value, dispatcher, tracker)

    def validate_phone(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        text = str(value or "").strip()
        if any(word in text for word in SKIP_WORDS):
            return {"phone": "skipped", "retries": None}
        digits = re.sub(r"\D", "", text)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if not PHONE.match(digits):
            return self._fail(dispatcher, tracker, "phone", "invalid_phone")
        return {"phone": digits, "retries": None}

    def validate_evidence(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        attachments = (tracker.latest_message.get("metadata") or {}).get("attachments") or []
        for item in attachments:
            dispatcher.utter_message(text=f"收到：{item.get('name') or item.get('kind') or '文件'} ✅")
        if attachments:
            return {"evidence": None}  # keep the question open until the worker says they are done
        text = str(value or "").strip()
        if any(w in text for w in SKIP_WORDS) or text.startswith("/"):
            return {"evidence": "sent" if tracker.get_slot("evidence_files") else "skipped", "retries": None}
        return {"evidence": text[:500], "retries": None}

    def validate_confirmed(self, value, dispatcher, tracker, domain):  # type: ignore[no-untyped-def]
        if value:
            return {"confirmed": True}
        text = tracker.latest_message.get("text") or ""
        if any(word in text for word in CANCEL_WORDS):
            return {"confirmed": False}
        say(dispatcher, "correction_hint")
        return {"confirmed": None}


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
        events: list[EventType] = [SlotSet("topic", topic), SlotSet("confirmed", None), SlotSet("retries", None),
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
            dispatcher.utter_message(
                text="还有的话接着发；都发完了点「发完了」。",
                buttons=[{"title": "发完了", "payload": "发完了"}],
            )
            return []
        checklist = EVIDENCE_CHECKLIST.get(tracker.get_slot("topic") or "", "")
        dispatcher.utter_message(
            text=f"有证据的话现在就可以发照片、文件或语音：{checklist}\n"
                 "单位手里的考勤、工资表，单位有责任拿出来（《劳动争议调解仲裁法》第6条）。"
                 "暂时没有也没关系，以后回复「补充证据」再发。",
            buttons=[{"title": "发完了", "payload": "发完了"}, {"title": "跳过", "payload": "跳过"}],
        )
        # Where the channel cannot carry documents (WeChat), the gateway adds an upload link.
        dispatcher.utter_message(json_message={"offer": "upload"})
        return []


class AskConfirmed(Action):
    """Shows what will go on the case and asks the worker to confirm it."""

    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slots = tracker.current_slot_values()
        topic = slots.get("topic") or "unpaid_wages"
        shown = ["employer", "location", *TOPIC_SLOTS.get(topic, []), *TAIL_SLOTS]
        if topic in ("overtime", "social_insurance") and slots.get("amount"):
            shown.append("amount")  # the monthly wage: the overtime-pay estimate, the 社保 base
        dispatcher.utter_message(
            text=summary_text(slots, shown),
            buttons=[{"title": "确认提交", "payload": "/affirm"}, {"title": "不对，要改", "payload": "/deny"},
                     {"title": "取消", "payload": "取消"}],
        )
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
    as "no" ("这周一") is checked as the answer to the open question; a bare "不是" gets a
    hint and the question again.
    """

    def name(self) -> str:
        return "action_deny_in_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = (tracker.latest_message.get("text") or "").strip()
        if any(word in text for word in CANCEL_WORDS):
            say(dispatcher, "form_cancelled")
            return [ActiveLoop(None), SlotSet("requested_slot", None),
                    *(SlotSet(slot, None) for slot in FORM_SLOTS), SlotSet("topic", None)]
        slot = tracker.get_slot("requested_slot")
        validator = getattr(ValidateDisputeForm(), f"validate_{slot}", None) if slot else None
        if validator is None or BARE_NO.match(text) or text.startswith("/"):
            say(dispatcher, "deny_hint")
            return [FollowupAction("dispute_form")]
        result = validator(text, dispatcher, tracker, domain)
        if inspect.isawaitable(result):
            result = await result
        return [*(SlotSet(k, v) for k, v in result.items()), FollowupAction("dispute_form")]
