"""The wage form's actions with real rasa_sdk trackers and a collecting dispatcher, writing
to a real case store (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import store
from actions.cases import CaseStatus, OpenCase, compensation_estimate
from actions.dispute_form import ValidateDisputeForm, clean_answer
from actions.dispute_steps import AskConfirmed
from actions.questions import REPLIES
from bot.cases.queries import get_case_detail_or_raise

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())
SLOTS = {name: None for name in DOMAIN["slots"]}
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def tracker(
    text: str,
    *,
    slots: dict[str, Any] | None = None,
    sender: str | None = None,
    intent: str = "inform",
    entities: list[dict] | None = None,
    requested_slot: str | None = None,
    message_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    values = {**SLOTS, **(slots or {}), "requested_slot": requested_slot}
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "message_id": message_id or uuid.uuid4().hex,
        "metadata": metadata or {},
    }
    events = [{"event": "user", "text": text, "parse_data": latest, "timestamp": NOW.timestamp()}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()]
    return Tracker(
        sender or f"webchat:{uuid.uuid4().hex[:8]}", values, latest, events, False, None,
        {"name": "dispute_form", "is_interrupted": False, "rejected": False}, "action_listen",
    )


def set_slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def validate(text: str, *, slot: str | None = None, topic: str = "unpaid_wages", intent: str = "inform",
                   slots: dict[str, Any] | None = None) -> tuple[dict[str, Any], CollectingDispatcher]:
    given = {"topic": topic, **(slots or {})}
    if slot:
        given[slot] = text
    dispatcher = CollectingDispatcher()
    events = await ValidateDisputeForm().run(
        dispatcher, tracker(text, slots=given, requested_slot=slot, intent=intent), DOMAIN
    )
    return set_slots(events), dispatcher


@pytest.mark.parametrize(
    "written, yuan",
    [("八千多块", 8000), ("4万余元", 40000), ("三千五", 3500), ("1.2w", 12000), ("欠了两万出头", 20000), ("8000", 8000)],
)
async def test_amounts_are_kept_as_integer_yuan_with_the_words_used(case_store: str, written: str, yuan: int) -> None:
    slots, dispatcher = await validate(written, slot="amount")
    assert (slots["amount_yuan"], slots["amount"]) == (yuan, written)
    assert not dispatcher.messages


async def test_an_amount_missed_by_the_model_is_still_picked_up(case_store: str) -> None:
    slots, _ = await validate("老板欠我三个月工资一共八千多块", intent="report_unpaid_wages")
    assert slots["amount_yuan"] == 8000


async def test_a_bad_answer_is_asked_again_and_the_second_offers_a_person(case_store: str) -> None:
    slots, dispatcher = await validate("不记得了", slot="amount")
    assert slots["amount"] is None and "请写一个数" in dispatcher.messages[0]["text"]
    assert slots["failures"] == {"amount": 1}
    # the second is counted too; its question comes with 跳过 and 转人工 (test_failures.py)
    slots, dispatcher = await validate("真不记得", slot="amount", slots={"failures": {"amount": 1}})
    assert slots["failures"] == {"amount": 2} and not dispatcher.messages


@pytest.mark.parametrize(
    "answer, kept",
    [("13812345678", "13812345678"), ("我电话是139 1234 5678", "13912345678"), ("+86 137-0000-1111", "13700001111"),
     ("跳过", "skipped"), ("不想留", "skipped"), ("12345", None), ("23812345678", None)],
)
async def test_phone_numbers_are_checked(case_store: str, answer: str, kept: str | None) -> None:
    slots, dispatcher = await validate(answer, slot="phone")
    assert slots["phone"] == kept
    assert bool(dispatcher.messages) == (kept is None)


@pytest.mark.parametrize("answer, kept", [("11月20号", "2026-11-20"), ("上周三", "2026-11-18"), ("昨天", "2026-11-22"),
                                          ("下个月5号", None), ("哪天忘了", None)])
async def test_dates_are_resolved_and_future_dates_refused(case_store: str, answer: str, kept: str | None) -> None:
    slots, _ = await validate(answer, slot="incident_date", topic="injury")
    assert slots["incident_date"] == kept


@pytest.mark.parametrize(
    "topic, employer, expected",
    [
        ("unpaid_wages", "顺捷物流", ["employer", "location", "amount", "duration", "headcount", "construction",
                                    "dispute_text", "phone", "evidence", "confirmed"]),
        ("injury", "顺捷物流", ["employer", "location", "incident_date", "commute", "employer_reported",
                              "dispute_text", "phone", "evidence", "confirmed"]),
        # 鑫达电子 has a company union: only then is the worker asked whether it may be told.
        ("overtime", "鑫达电子厂", ["employer", "location", "daily_hours", "overtime_paid", "since",
                                 "dispute_text", "phone", "consent_union", "evidence", "confirmed"]),
    ],
)
async def test_each_topic_asks_its_own_checklist(case_store: str, topic: str, employer: str, expected: list[str]) -> None:
    form = ValidateDisputeForm()
    t = tracker("x", slots={"topic": topic, "employer": employer})
    assert await form.required_slots([], CollectingDispatcher(), t, DOMAIN) == expected


def test_employer_answers_are_kept_as_typed_without_framing_words() -> None:
    assert [clean_answer(a) for a in ("在义乌鑫达电子厂上班", "张老板的工地", "顺丰。")] == ["义乌鑫达电子厂", "张老板的工地", "顺丰"]


async def test_the_summary_shows_what_goes_on_the_case() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"topic": "unpaid_wages", "employer": "义乌鑫达电子厂", "location": "义乌稠江街道", "amount": "八千多块",
             "amount_yuan": 8000.0, "phone": "13812345678", "construction": False}
    await AskConfirmed().run(dispatcher, tracker("跳过", slots=slots), DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "义乌鑫达电子厂" in text and "8,000元（您写的是「八千多块」）" in text
    assert "138****5678" in text and "13812345678" not in text and "工程项目：否" in text
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]][:2] == ["/affirm", "/deny"]


async def test_confirming_opens_one_case_and_tells_its_number(case_store: str) -> None:
    slots = {
        "topic": "unpaid_wages", "employer": "义乌鑫达电子厂", "location": "义乌稠江街道", "amount": "八千多块",
        "amount_yuan": 8000.0, "confirmed": True, "dispute_text": "老板欠我三个月工资一共八千多块",
        "duration": "三个月", "phone": "13812345678", "consent_union": True,
    }
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    confirm = tracker("确认", slots=slots, sender=sender, intent="affirm", message_id="confirm-1")
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(dispatcher, confirm, DOMAIN)
    number = set_slots(events)["case_number"]
    assert number in dispatcher.messages[0]["text"]
    assert set_slots(events)["employer"] is None  # the form is reset for the next dispute

    # Rasa retrying the same action (same confirming message) gets the same case back.
    again = await OpenCase().run(CollectingDispatcher(), confirm, DOMAIN)
    assert set_slots(again)["case_number"] == number

    async with store.transaction() as session:
        detail = await get_case_detail_or_raise(session, number=number)
    assert (detail["category"], detail["employer"], detail["amount"]) == ("unpaid_wages", "义乌鑫达电子厂", 8000)
    assert detail["org"] == "义乌市鑫达电子有限公司工会"  # consent given: the company union
    assert detail["consent_company_union"] is True
    assert f"负责单位：{detail['org']}" in dispatcher.messages[0]["text"]
    assert detail["facts"]["period_owed_months"] == 3
    assert detail["description"] == "老板欠我三个月工资一共八千多块"

    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    assert number in status.messages[0]["text"] and "等待工会受理" in status.messages[0]["text"]


async def test_an_injury_case_tells_the_recognition_deadline(case_store: str) -> None:
    slots = {"topic": "injury", "employer": "某某五金厂", "location": "义乌佛堂镇", "incident_date": "2026-06-15",
             "commute": False, "employer_reported": False, "dispute_text": "手被冲床压了", "phone": "skipped",
             "evidence": "skipped", "confirmed": True}
    dispatcher = CollectingDispatcher()
    await OpenCase().run(dispatcher, tracker("确认", slots=slots, intent="affirm"), DOMAIN)
    assert "2027年06月15日 前申请工伤认定" in dispatcher.messages[0]["text"]


async def test_a_dismissal_case_shows_the_compensation_estimate_with_its_formula(case_store: str) -> None:
    slots = {"topic": "dismissal", "employer": "某某服饰", "location": "义乌北苑街道", "dismissal_date": "2026-11-01",
             "service_length": "两年八个月", "amount": "6000", "amount_yuan": 6000.0, "dismissal_how": "口头通知",
             "dispute_text": "突然让我明天别来了", "phone": "skipped", "evidence": "skipped", "confirmed": True}
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(dispatcher, tracker("确认", slots=slots, intent="affirm"), DOMAIN)
    assert "3 个月 × 6,000 元 = 18,000 元" in dispatcher.messages[0]["text"]
    async with store.transaction() as session:
        detail = await get_case_detail_or_raise(session, number=set_slots(events)["case_number"])
    assert detail["amount"] is None and detail["facts"]["monthly_wage"] == 6000


def test_compensation_follows_article_47() -> None:
    assert "0.5 个月 × 5,000 元 = 2,500 元" in compensation_estimate(5000, 4)
    assert "1 个月 × 5,000 元 = 5,000 元" in compensation_estimate(5000, 6)
    assert "2.5 个月" in compensation_estimate(5000, 29)


async def test_cancelling_opens_nothing(case_store: str) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(
        dispatcher, tracker("取消", slots={"confirmed": False}, sender=sender, intent="deny"), DOMAIN
    )
    assert "case_number" not in set_slots(events)
    assert "已取消" in dispatcher.messages[0]["text"]
    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    assert "还没有" in status.messages[0]["text"]


async def test_a_correction_changes_the_corrected_fact_and_keeps_the_question_open(case_store: str) -> None:
    given = {"topic": "unpaid_wages", "employer": "恒达建筑劳务", "amount": "九千", "location": "不对，金额是九千"}
    t = tracker("不对，金额是九千", slots=given, requested_slot="location",
                entities=[{"entity": "amount", "value": "九千", "start": 5, "end": 7}])
    dispatcher = CollectingDispatcher()
    slots = set_slots(await ValidateDisputeForm().run(dispatcher, t, DOMAIN))
    assert slots["location"] is None and slots["amount_yuan"] == 9000
    assert not dispatcher.messages  # no complaint about a bad location


def test_overtime_pay_is_estimated_with_its_formula() -> None:
    from actions.cases import overtime_estimate

    text = overtime_estimate(4350, "每天12个小时 一周7天")
    # hourly 4350/21.75/8 = 25; weekly 4h×5 at 150% + 24h at 200%; × 4.35 weeks
    assert text is not None and "≈25.0 元" in text and f"约 {25 * (20 * 1.5 + 24 * 2) * 4.35:,.0f} 元" in text
    assert overtime_estimate(4350, "一周五天 每天八小时") is None  # no overtime, no estimate
    assert overtime_estimate(4350, "看情况") is None


def test_outside_office_hours_the_worker_is_told_when_someone_answers() -> None:
    from actions.handoff import next_opening
    from bot.cases.deadlines import Calendar

    calendar = Calendar()
    monday_10 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # 10:00 in Yiwu
    friday_20 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)  # 20:00 in Yiwu
    assert next_opening(monday_10, calendar) is None
    opening = next_opening(friday_20, calendar)
    assert (opening.month, opening.day, opening.hour, opening.minute) == (11, 30, 8, 30)  # Monday 08:30


async def test_asking_for_a_person_pauses_the_bot(case_store: str) -> None:
    from actions.handoff import RequestHuman
    from bot.cases.messages import get_contact_by_sender_id

    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    dispatcher = CollectingDispatcher()
    await RequestHuman().run(dispatcher, tracker("转人工", sender=sender, intent="request_human"), DOMAIN)
    assert "工作人员" in dispatcher.messages[0]["text"]
    async with store.transaction() as session:
        contact = await get_contact_by_sender_id(session, sender_id=sender)
        assert contact is not None and contact.handoff_at is not None


async def test_a_membership_application_lands_with_the_city_federation(case_store: str) -> None:
    from sqlalchemy import select

    from actions.membership import SubmitMembership, ValidateJoinForm
    from bot.cases.membership import MembershipApplication

    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    skipped = tracker("跳过", slots={"phone": "跳过"}, requested_slot="phone", sender=sender)
    assert set_slots(await ValidateJoinForm().run(CollectingDispatcher(), skipped, DOMAIN))["phone"] is None
    slots = {"applicant_name": "王小红", "employer": "美团", "location": "义乌稠城街道", "phone": "13912345678"}
    dispatcher = CollectingDispatcher()
    await SubmitMembership().run(dispatcher, tracker("13912345678", slots=slots, sender=sender), DOMAIN)
    assert "入会申请已提交" in dispatcher.messages[0]["text"]
    async with store.transaction() as session:
        row = (await session.execute(select(MembershipApplication).where(MembershipApplication.name == "王小红"))).scalars().first()
    assert row is not None and (row.employer, row.city, row.status) == ("美团", "义乌稠城街道", "new")


@pytest.mark.parametrize(
    "slot, answer, intent, kept",
    [("contract_signed", "没签", "report_social_insurance", False), ("contract_signed", "签了的", "inform", True),
     ("commute", "不是 在车间", "out_of_scope", False), ("consent_union", "跳过", "nlu_fallback", False),
     ("employer_reported", "报了", "inform", True)],
)
async def test_yes_no_questions_do_not_hinge_on_the_model(
    case_store: str, slot: str, answer: str, intent: str, kept: bool
) -> None:
    topic = {"contract_signed": "social_insurance", "consent_union": "overtime"}.get(slot, "injury")
    t = tracker(answer, slots={"topic": topic, "employer": "鑫达电子厂"}, requested_slot=slot, intent=intent)
    slots = set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))
    assert slots[slot] is kept


async def test_only_the_open_question_is_read_as_yes_or_no(case_store: str) -> None:
    t = tracker("没签", slots={"topic": "social_insurance"}, requested_slot="since")
    slots = set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))
    assert "contract_signed" not in slots


def events_of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


async def test_only_words_meaning_stop_cancel_the_form(case_store: str) -> None:
    from actions.dispute_steps import DenyInForm

    dispatcher = CollectingDispatcher()
    events = await DenyInForm().run(dispatcher, tracker(
        "取消", intent="deny", requested_slot="location", slots={"topic": "overtime", "employer": "宏达模具厂"}), DOMAIN)
    assert "已取消" in dispatcher.messages[0]["text"]
    assert events_of(events, "active_loop") == [{"event": "active_loop", "name": None, "timestamp": None}]
    assert set_slots(events)["employer"] is None and set_slots(events)["topic"] is None

    # "这周一" read as "no" by the model: it is the answer to "哪天让您走的", not a cancel
    answer = CollectingDispatcher()
    events = await DenyInForm().run(answer, tracker(
        "这周一", intent="deny", requested_slot="dismissal_date", slots={"topic": "dismissal"}), DOMAIN)
    assert set_slots(events)["dismissal_date"] == "2026-11-23"  # the Monday of the message's week
    assert events_of(events, "followup")[0]["name"] == "dispute_form"
    assert not events_of(events, "active_loop") and not answer.messages

    # a bare "不是" is neither: a hint, and the question again; it counts as no answer
    bare = CollectingDispatcher()
    events = await DenyInForm().run(bare, tracker(
        "不是", intent="deny", requested_slot="location", slots={"topic": "unpaid_wages"}), DOMAIN)
    assert [m["text"] for m in bare.messages] == [REPLIES["deny_hint"][0]]
    assert set_slots(events) == {"location": None, "failures": {"location": 1}}
    assert events_of(events, "followup")[0]["name"] == "dispute_form"


async def test_the_same_topic_mid_form_goes_on_without_a_second_introduction(case_store: str) -> None:
    from actions.dispute_steps import DisputeIntro, StartDispute

    mid = tracker("在车间干活的时候", intent="report_injury", requested_slot="commute",
                  slots={"topic": "injury", "employer": "顺丰", "location": "杭州萧山"})
    events = await StartDispute().run(CollectingDispatcher(), mid, DOMAIN)
    assert set_slots(events) == {"intro_due": False}  # nothing reset
    intro = CollectingDispatcher()
    await DisputeIntro().run(intro, tracker("x", slots={"topic": "injury", "intro_due": False}), DOMAIN)
    assert not intro.messages

    fresh = tracker("手被机器压了", intent="report_injury")
    fresh.active_loop = {}
    events = await StartDispute().run(CollectingDispatcher(), fresh, DOMAIN)
    assert set_slots(events)["topic"] == "injury" and set_slots(events)["intro_due"] is True
    intro = CollectingDispatcher()
    await DisputeIntro().run(intro, tracker("x", slots={"topic": "injury", "intro_due": True}), DOMAIN)
    assert "《工伤保险条例》第17条" in intro.messages[0]["text"]


@pytest.mark.parametrize("answer, commute", [
    ("在车间干活的时候", False), ("上班的时候机器压的", False), ("下班骑电动车回家路上", True), ("路上被车撞了", True),
])
async def test_the_commute_question_is_read_from_words(case_store: str, answer: str, commute: bool) -> None:
    other = tracker(answer, slots={"topic": "injury"}, requested_slot="incident_date", intent="report_injury")
    assert "commute" not in set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), other, DOMAIN))
    dispatcher = CollectingDispatcher()
    t = tracker(answer, slots={"topic": "injury"}, requested_slot="commute", intent="report_injury")
    assert set_slots(await ValidateDisputeForm().run(dispatcher, t, DOMAIN))["commute"] is commute


async def test_the_answer_to_where_is_kept_whole_not_cut_to_the_city(case_store: str) -> None:
    t = tracker("郑州航空港区", slots={"topic": "social_insurance", "location": "郑州"}, requested_slot="location",
                entities=[{"entity": "location", "value": "郑州", "start": 0, "end": 2}])
    slots = set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))
    assert slots["location"] == "郑州航空港区"
    # a place named in passing inside a long story stays the entity
    story = "我在郑州一个厂干了两年，老板一直不给交社保，现在想走了也不给开证明，怎么办才好呢真的没办法了"
    t = tracker(story, slots={"topic": "social_insurance", "location": "郑州"}, requested_slot="location",
                entities=[{"entity": "location", "value": "郑州", "start": 2, "end": 4}])
    assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["location"] == "郑州"


async def test_how_long_the_worker_was_there_is_taken_from_a_dismissal_story(case_store: str) -> None:
    story = "永辉超市突然叫我明天不用来了 干了三年 一个月六千 补偿一分没有"
    t = tracker(story, slots={"topic": "dismissal"}, intent="report_dismissal",
                entities=[{"entity": "duration", "value": "三年", "start": 17, "end": 19}])
    assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["service_length"] == "三年"
    # in a wage story the same words are how long wages are owed, not asked as service length
    t = tracker("拖了三年工资", slots={"topic": "unpaid_wages"}, intent="report_unpaid_wages",
                entities=[{"entity": "duration", "value": "三年", "start": 2, "end": 4}])
    assert "service_length" not in set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))


async def test_a_bare_city_in_passing_still_gets_the_where_question(case_store: str) -> None:
    opening = "义乌鑫达电子厂欠我三个月工资八千多块"
    t = tracker(opening, slots={"topic": "unpaid_wages", "location": "义乌"}, intent="report_unpaid_wages",
                entities=[{"entity": "location", "value": "义乌", "start": 0, "end": 2}])
    assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["location"] is None
    fine = "我在义乌稠江街道的鑫达电子厂 欠了三个月工资"
    t = tracker(fine, slots={"topic": "unpaid_wages", "location": "义乌稠江街道"}, intent="report_unpaid_wages",
                entities=[{"entity": "location", "value": "义乌稠江街道", "start": 2, "end": 8}])
    assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["location"] == "义乌稠江街道"


@pytest.mark.parametrize("answer, entity", [("就我一个", "一个"), ("只有我", None), ("我自己", None)])
async def test_only_me_is_one_person(case_store: str, answer: str, entity: str | None) -> None:
    t = tracker(answer, slots={"topic": "unpaid_wages", "headcount": entity or answer}, requested_slot="headcount")
    assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["headcount"] == "1人"


async def test_the_wage_named_in_a_social_insurance_story_is_shown_as_the_monthly_wage() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"topic": "social_insurance", "employer": "富士康", "location": "郑州航空港区", "amount": "五千二",
             "amount_yuan": 5200.0, "missing_insurance": "五险都没有", "since": "入职就没交", "contract_signed": False}
    await AskConfirmed().run(dispatcher, tracker("没有", slots=slots), DOMAIN)
    assert "月工资：5,200元（您写的是「五千二」）" in dispatcher.messages[0]["text"]


async def test_a_confirmation_the_gateway_posts_again_opens_no_second_case(case_store: str) -> None:
    # a crash after Rasa answered, or a retry: the same message of ours reaches Rasa again,
    # and Rasa gives each post a new message id
    slots = {
        "topic": "unpaid_wages", "employer": "义乌鑫达电子厂", "location": "义乌稠江街道", "amount": "八千",
        "amount_yuan": 8000.0, "confirmed": True, "dispute_text": "老板欠我两个月工资", "duration": "两个月",
        "phone": "skipped", "consent_union": False,
    }
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    ours = {"inbound_id": int(uuid.uuid4().int % 10**9)}
    numbers = []
    for rasa_id in ("first-post", "second-post"):
        confirm = tracker("确认", slots=slots, sender=sender, intent="affirm", message_id=rasa_id, metadata=ours)
        dispatcher = CollectingDispatcher()
        numbers.append(set_slots(await OpenCase().run(dispatcher, confirm, DOMAIN))["case_number"])
        assert numbers[-1] in dispatcher.messages[0]["text"]
    assert numbers[0] == numbers[1]
    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    assert status.messages[0]["text"].count("GY-") == 1  # the worker has one case, not two


async def test_where_a_referred_case_stands_is_told_in_words(case_store: str) -> None:
    from bot.cases import workflow as wf
    from datetime import timedelta

    from bot.db import utcnow

    slots = {"topic": "dismissal", "employer": "顺捷物流", "location": "义乌江东街道", "confirmed": True,
             "dispute_text": "被辞退了", "phone": "skipped", "consent_union": False}
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    events = await OpenCase().run(CollectingDispatcher(), tracker("确认", slots=slots, sender=sender, intent="affirm"), DOMAIN)
    number = set_slots(events)["case_number"]
    async with store.transaction() as session:
        case = await wf.get_case_for_update_or_raise(session, number=number)
        now = utcnow()
        await wf.do_accept(session, case=case, actor="staff:tester", now=now)
        await wf.do_refer(session, case=case, actor="staff:tester", now=now, agency="义乌市劳动人事争议仲裁院",
                          reply_due=now + timedelta(days=10))
    status = CollectingDispatcher()
    await CaseStatus().run(status, tracker("查进度", sender=sender, intent="check_case_status"), DOMAIN)
    text = status.messages[0]["text"]
    assert number in text and "referred" not in text and "转交" in text
