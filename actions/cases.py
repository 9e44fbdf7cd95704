"""Opening a case when the worker confirms, and telling a worker where their cases stand."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.store import contact_for_tracker  # noqa: F401  (re-exported)
from actions.texts import CATEGORY_NAMES, STATUS_NAMES, local_time
from bot.cases.deadlines import INJURY_RECOGNITION_DAYS
from bot.cases.intake import CaseDraft, do_open_case, referral_notice
from bot.cases.queries import list_cases
from actions.answers import SKIPPED
from actions.dispute_form import FORM_SLOTS
from actions.questions import say
from bot.normalize import parse_amount, parse_duration_months, parse_headcount, parse_number

logger = logging.getLogger(__name__)

FACT_SLOTS = {
    "unpaid_wages": ("duration", "headcount", "construction"),
    "overtime": ("daily_hours", "overtime_paid", "since"),
    "injury": ("incident_date", "commute", "employer_reported"),
    "dismissal": ("dismissal_date", "service_length", "dismissal_how"),
    "social_insurance": ("missing_insurance", "since", "contract_signed"),
}


# Topics where the money a worker names is their monthly wage rather than the sum owed.
WAGE_IS_CONTEXT = ("dismissal", "overtime", "social_insurance")


def dispute_draft(slots: dict[str, Any]) -> CaseDraft:
    """What the form collected, as the case domain wants it. Questions the worker skipped
    are listed in ``facts["unanswered"]`` for staff to ask, and are otherwise unknown."""
    unanswered = [k for k in FORM_SLOTS if slots.get(k) == SKIPPED and k not in ("phone", "evidence")]
    slots = {k: (None if k in unanswered else v) for k, v in slots.items()}
    topic = slots.get("topic") or "unpaid_wages"
    facts: dict[str, Any] = {k: slots[k] for k in FACT_SLOTS.get(topic, ()) if slots.get(k) is not None}
    if unanswered:
        facts["unanswered"] = unanswered
    if slots.get("duration"):
        facts["period_owed_months"] = parse_duration_months(slots["duration"])
    if slots.get("service_length"):
        facts["service_months"] = parse_duration_months(slots["service_length"])
    if slots.get("evidence") and slots["evidence"] not in ("skipped", "sent"):
        facts["evidence_note"] = slots["evidence"]
    amount = int(slots["amount_yuan"]) if slots.get("amount_yuan") is not None else None
    if amount is None and slots.get("amount"):
        amount = parse_amount(slots["amount"])  # mentioned in passing, not asked (overtime)
    if topic in WAGE_IS_CONTEXT and amount is not None:
        # the monthly wage, not a sum in dispute: it feeds the estimates and the 社保 base
        facts["monthly_wage"], amount = amount, None
    headcount = slots.get("headcount")
    description = slots.get("dispute_text")
    # a date said outside the form fills incident_date as written; only an injury asks for
    # it (and validates it to an ISO date)
    incident = _iso_date(slots.get("incident_date")) if topic == "injury" else None
    return CaseDraft(
        category=topic,
        employer=slots.get("employer"),
        location=slots.get("location"),
        amount=amount,
        amount_text=slots.get("amount") if amount is not None else None,
        headcount=parse_headcount(headcount) if headcount else None,
        description=description if description and not description.startswith("/") else None,
        facts=facts,
        consent_company_union=slots.get("consent_union") is True,
        hometown=slots.get("hometown"),
        incident_date=incident,
    )


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def overtime_estimate(monthly_wage: int, schedule: str) -> str | None:
    """Monthly overtime pay owed for a schedule like "每天12个小时 一周7天", with the formula:
    hours beyond 8 on the first five days at 150%, whole rest days at 200% (《劳动法》第44条);
    hourly wage = monthly wage / 21.75 days / 8 hours; 4.35 weeks a month."""
    hours_match = re.search(r"([\d一二两三四五六七八九十]+)\s*个?(?:小时|钟头|钟)", schedule)
    days_match = re.search(r"(?:一周|每周|一个?星期|一个?礼拜)\D{0,3}?([\d一二两三四五六七])\s*天", schedule)
    hours = parse_number(hours_match.group(1)) if hours_match else None
    days = parse_number(days_match.group(1)) if days_match else None
    if not hours or not days or not 8 < hours <= 24 or not 5 <= days <= 7:
        return None
    hourly = monthly_wage / 21.75 / 8
    weekday, rest = (float(hours) - 8) * 5, float(hours) * (float(days) - 5)
    owed = hourly * (weekday * 1.5 + rest * 2.0) * 4.35
    return (f"粗略估算每月应得加班费：小时工资 {monthly_wage:,}÷21.75÷8≈{hourly:.1f} 元；"
            f"工作日加班 {weekday:g} 小时/周×150%，休息日 {rest:g} 小时/周×200%，每月按4.35周："
            f"约 {owed:,.0f} 元（《劳动法》第44条）。这只是估算，以实际认定为准。")


def compensation_estimate(monthly_wage: int, service_months: float) -> str:
    """《劳动合同法》第47条: a month's wage per full year; ≥ 6 months counts as a year,
    less than 6 months as half a month. Shown with its formula, as an estimate."""
    years, rest = divmod(service_months, 12)
    months = years + (1 if rest >= 6 else 0.5 if rest > 0 else 0)
    return (f"粗略估算经济补偿：{months:g} 个月 × {monthly_wage:,} 元 = {months * monthly_wage:,.0f} 元"
            f"（违法解除为两倍，{2 * months * monthly_wage:,.0f} 元）。这只是估算，以实际认定为准。")


class OpenCase(Action):
    def name(self) -> str:
        return "action_open_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in (*FORM_SLOTS, "topic")]
        if not tracker.get_slot("confirmed"):
            say(dispatcher, "form_cancelled")
            return reset
        slots = tracker.current_slot_values()
        draft = dispute_draft(slots)
        # The worker's confirming message identifies this request: if the gateway posts it
        # again (a retry, a crash replayed) or Rasa retries the action, the same case comes
        # back instead of a second one. Our own message id survives a replay; Rasa's per-post
        # message id does not, so it is only the fallback for senders that bypass the gateway.
        inbound_id = (tracker.latest_message.get("metadata") or {}).get("inbound_id")
        message_id = tracker.latest_message.get("message_id") or ""
        source_key = (f"inbound:{inbound_id}" if inbound_id else
                      f"rasa:{tracker.sender_id}:{message_id}" if message_id else None)
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            if slots.get("phone") not in (None, "skipped"):
                contact.phone = slots["phone"]
            case = await do_open_case(
                session, contact=contact, draft=draft, actor=f"worker:{contact.id}", source_key=source_key,
            )
            org_name = case.org.name
        logger.info("opened case %s (%s) on %s", case.number, case.category, case.channel)
        notice = referral_notice(case)
        if notice:  # a place outside every area served here: who serves it, not our intake desk
            lines = [f"已为您登记，案件编号 {case.number}。", notice]
        else:
            lines = [
                f"已为您登记，案件编号 {case.number}。",
                f"负责单位：{org_name}",
                f"他们会在 {local_time(case.due_at)} 前受理，有进展我会在这里告诉您。回复「查进度」随时可以查看。",
            ]
        if draft.category == "injury" and draft.incident_date:
            last_day = draft.incident_date + timedelta(days=INJURY_RECOGNITION_DAYS)
            lines.append(f"提醒：单位不报的话，您或工会最晚在 {last_day:%Y年%m月%d日} 前申请工伤认定（《工伤保险条例》第17条）。")
        if draft.category == "overtime" and draft.facts.get("monthly_wage") and draft.facts.get("daily_hours"):
            estimate = overtime_estimate(draft.facts["monthly_wage"], draft.facts["daily_hours"])
            if estimate:
                lines.append(estimate)
        if draft.category == "dismissal" and draft.facts.get("monthly_wage") and draft.facts.get("service_months"):
            lines.append(compensation_estimate(draft.facts["monthly_wage"], draft.facts["service_months"]))
        dispatcher.utter_message(text="\n".join(lines))
        return [*reset, SlotSet("case_number", case.number)]


class CaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            cases = await list_cases(session, contact_id=contact.id, limit=5)
        if not cases:
            dispatcher.utter_message(
                text="您还没有在这里登记过案件。遇到欠薪、工伤等问题，直接跟我说就行。"
            )
            return []
        lines = ["您的案件："]
        for case in cases:
            line = (
                f"· {case.number}（{CATEGORY_NAMES.get(case.category, case.category)}）"
                f"{STATUS_NAMES.get(case.status, case.status)}，负责单位：{case.org.name}"
            )
            if case.due_at is not None:
                step = "受理" if case.status == "submitted" else "答复" if case.first_response_at is None else "办结"
                line += f"，应在 {local_time(case.due_at)} 前{step}"
            line += f"；最近更新 {local_time(case.updated_at)}"
            lines.append(line)
        dispatcher.utter_message(text="\n".join(lines))
        return []
