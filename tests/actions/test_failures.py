"""No worker stuck (actions/failures.py): every question counts the turns it stays open
without an answer — a hint, then 跳过/转人工, then it is skipped — and a story is never stored
in place of a fact. Played turn by turn on real trackers (tests/actions/conversation.py)
against a real case store."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import store
from actions.cases import dispute_draft
from actions.questions import HINTS, REPLIES, question
from actions.summary import summary_text
from bot.cases.messages import get_contact_by_sender_id
from tests.actions.conversation import Conversation
from tests.actions.test_answers import INJURY_STORY, OVERTIME_STORY

INJURED_AT_WORK = {"employer": "佳禾拉链厂", "location": "义乌稠江街道", "incident_date": "2026-11-18", "commute": False}
OVERTIME_FORM = {"employer": "宏兴五金厂", "location": "义乌苏溪镇"}
EMPLOYER_REPORTED = question("employer_reported", "injury")[0]


async def test_an_injury_story_told_eleven_times_gets_two_reasks_then_a_way_out(case_store: str) -> None:
    form = Conversation("injury", dict(INJURED_AT_WORK))
    await form.start("employer_reported")
    turns = [await form.say(INJURY_STORY, intent="report_injury",
                            entities=[{"entity": "amount", "value": "两千块", "start": 38, "end": 41}])
             for _ in range(11)]

    reasks = [t for t in turns if t.asked == "employer_reported"]
    assert len(reasks) == 2
    first, second = reasks
    # the hint shows the options; the amount in the story is taken, and the re-ask says so
    assert first.texts == [f"没看懂 🙏 {HINTS['employer_reported']}",
                           f"好的，已记下：金额 2,000元（您写的是「两千块」）。\n{EMPLOYER_REPORTED}"]
    assert "「报了」「没报」「不知道」" in first.texts[0]
    # the second re-ask is the way out: the same question, with 跳过 and 转人工 added
    assert second.texts[-1].startswith(EMPLOYER_REPORTED) and "「转人工」" in second.texts[-1]
    assert second.payloads == ["/affirm", "/deny", "跳过", "/request_human"]
    # the third skips it, and the form goes on to what happened
    assert turns[2].texts[0] == "这个问题先跳过，工作人员之后会跟您核实。" and turns[2].asked == "dispute_text"
    assert form.slots["employer_reported"] == "skipped"
    assert form.slots["amount"] == "两千块"  # the facts in the story are still taken
    assert form.slots["dispute_text"] == INJURY_STORY  # asked what happened: the story is the answer
    # no question was asked more than three times in a row in all eleven turns
    runs = [t.asked for t in turns]
    assert all(len({*runs[i:i + 4]}) > 1 for i in range(len(runs) - 3)), runs

    summary = summary_text(form.slots, ["employer_reported"])
    assert "单位已报工伤：未说明" in summary
    assert dispute_draft(form.slots).facts["unanswered"] == ["employer_reported"]


async def test_the_overtime_story_is_not_stored_as_hours_nor_as_overtime_pay(case_store: str) -> None:
    form = Conversation("overtime", dict(OVERTIME_FORM))
    await form.start("daily_hours")
    turn = await form.say(OVERTIME_STORY, intent="report_overtime")
    # the hours are the schedule clauses of the story, not the story
    assert form.slots["daily_hours"] == "我在厂里每天从早上八点干到晚上十点 一个月就休两天"
    assert turn.asked == "overtime_paid"

    # the same story to 加班费给了吗？: read as the option its words choose
    turn = await form.say(OVERTIME_STORY, intent="report_overtime")
    assert form.slots["overtime_paid"] == "没给加班费" and turn.asked == "since"
    assert form.slots["daily_hours"] != OVERTIME_STORY

    # a story that does not say whether overtime was paid is no answer to it
    other = Conversation("overtime", {**OVERTIME_FORM, "daily_hours": "每天12个小时 一周7天"})
    await other.start("overtime_paid")
    story = "天天干到半夜 一个月休一天 老板还老是骂人 厂里好多人都走了"
    turn = await other.say(story, intent="report_overtime")
    assert other.slots["overtime_paid"] is None and other.slots["daily_hours"] == "每天12个小时 一周7天"
    assert turn.texts[0] == f"没看懂 🙏 {HINTS['overtime_paid']}" and turn.asked == "overtime_paid"


@pytest.mark.parametrize("slot, topic, answer, intent, kept", [
    ("construction", "unpaid_wages", "是的呀", "affirm", True),
    ("overtime_paid", "overtime", "没给", "deny", "没给加班费"),
    ("overtime_paid", "overtime", "不清楚", "deny", "不清楚"),
    ("overtime_paid", "overtime", "是的呀", "affirm", "给了"),
    ("contract_signed", "social_insurance", "不清楚", "deny", "unknown"),
    ("employer_reported", "injury", "报了", "nlu_fallback", True),
    ("dismissal_how", "dismissal", "店长打电话说的", "inform", "口头通知"),
])
async def test_a_button_question_answered_in_words_gets_an_option(
    case_store: str, slot: str, topic: str, answer: str, intent: str, kept: object
) -> None:
    form = Conversation(topic, {"employer": "顺捷物流", "location": "义乌江东街道"})
    await form.start(slot)
    turn = await form.say(answer, intent=intent)
    assert form.slots[slot] == kept and turn.asked != slot and not form.slots["failures"]


async def test_skip_moves_the_form_on_and_shows_as_not_said(case_store: str) -> None:
    form = Conversation("unpaid_wages", {"employer": "恒达建筑劳务", "location": "义乌佛堂镇", "amount": "八千",
                                         "amount_yuan": 8000.0, "duration": "三个月", "headcount": "1人"})
    await form.start("construction")
    turn = await form.say("跳过", intent="deny")  # the offer's button sends its title
    assert form.slots["construction"] == "skipped" and turn.asked == "dispute_text" and not turn.rejected
    turn = await form.say("先跳过吧", intent="deny")
    assert form.slots["dispute_text"] == "skipped" and turn.asked == "phone"
    assert "工程项目：未说明" in summary_text(form.slots, ["construction"])
    draft = dispute_draft(form.slots)
    assert draft.description is None and draft.facts["unanswered"] == ["construction", "dispute_text"]


async def test_files_and_corrections_are_progress_and_the_reask_says_so(case_store: str, tmp_path) -> None:
    from tests.actions.test_evidence import stored_files

    form = Conversation("injury", {"employer": "佳禾拉链厂"})
    await form.start("location")
    files = await stored_files(form.sender, tmp_path, "病历.jpg")
    turn = await form.say("/send_evidence", intent="send_evidence", metadata={"attachments": files})
    assert turn.texts == ["收到第 1 份证据：照片「病历.jpg」 ✅",
                          "收到，已有 1 份证据，登记时一起交给工会。\n" + question("location", "injury")[0]]
    turn = await form.say("不对，金额是九千", entities=[{"entity": "amount", "value": "九千", "start": 5, "end": 7}])
    assert turn.texts == ["好的，已记下：金额 9,000元（您写的是「九千」）。\n" + question("location", "injury")[0]]
    assert form.slots["location"] is None and not form.slots["failures"]
    # the same correction again changes nothing: that turn counts
    await form.say("不对，金额是九千", entities=[{"entity": "amount", "value": "九千", "start": 5, "end": 7}])
    assert form.slots["failures"] == {"location": 1}


async def test_messages_for_other_rules_are_not_answers(case_store: str) -> None:
    form = Conversation("overtime", dict(OVERTIME_FORM))
    await form.start("daily_hours")
    for text, intent in (("转人工", "request_human"), ("查进度", "check_case_status"), ("取消", "deny"),
                         ("不是", "deny"), ("你是机器人吗", "bot_challenge")):
        turn = await form.say(text, intent=intent)
        assert turn.rejected and not turn.messages, text
    assert not form.slots["failures"] and form.slots["daily_hours"] is None


async def test_asked_again_after_an_interruption_counts_quietly(case_store: str) -> None:
    form = Conversation("overtime", dict(OVERTIME_FORM))
    await form.start("daily_hours")
    assert (await form.say("查进度", intent="check_case_status")).rejected
    turn = await form.back_after("action_case_status", "utter_back_to_form")
    assert turn.texts == [question("daily_hours", "overtime")[0]] and form.slots["failures"] == {"daily_hours": 1}


async def test_a_confirmation_that_never_comes_reaches_a_person(case_store: str) -> None:
    form = Conversation("unpaid_wages", {"employer": "恒达建筑劳务", "location": "义乌佛堂镇", "amount": "八千",
                                         "amount_yuan": 8000.0, "duration": "三个月", "headcount": "1人",
                                         "construction": True, "dispute_text": "包工头欠钱", "phone": "skipped",
                                         "evidence": "skipped"})
    await form.start("confirmed")
    first = await form.say("哈哈哈", intent="affirm")  # the model's affirm on noise confirms nothing
    assert form.slots["confirmed"] is None and first.texts[0] == f"没看懂 🙏 {HINTS['confirmed']}"
    second = await form.say("asdfgh", intent="nlu_fallback")
    assert "「转人工」" in second.texts[-1] and "/request_human" in second.payloads
    third = await form.say("？？？", intent="greet")
    assert len(third.texts) == 1 and "工作人员" in third.texts[0] and form.slots["confirmed"] is None
    async with store.transaction() as session:
        contact = await get_contact_by_sender_id(session, sender_id=form.sender)
        assert contact is not None and contact.handoff_at is not None


async def test_not_right_at_the_summary_asks_what_to_change_once(case_store: str) -> None:
    form = Conversation("injury", {**INJURED_AT_WORK, "employer_reported": False, "dispute_text": "手被压了",
                                   "phone": "skipped", "consent_union": False, "evidence": "skipped"})
    await form.start("confirmed")
    turn = await form.say("/deny", intent="deny")  # 不对，要改
    assert not turn.rejected and turn.texts[0] == REPLIES["correction_hint"][0]
    assert len(turn.texts) == 2 and turn.texts[1].startswith("请核对一下（工伤）")
    assert form.slots["failures"] == {"confirmed": 1}


async def test_only_a_real_yes_confirms(case_store: str) -> None:
    from actions.dispute_form import ValidateDisputeForm
    from tests.actions.test_dispute_form import DOMAIN, set_slots, tracker

    for text, intent, kept in (("确认", "affirm", True), ("/affirm", "affirm", True), ("嗯嗯", "affirm", True),
                               ("啊啊啊", "affirm", None)):
        t = tracker(text, slots={"topic": "injury", "confirmed": True}, requested_slot="confirmed", intent=intent)
        assert set_slots(await ValidateDisputeForm().run(CollectingDispatcher(), t, DOMAIN))["confirmed"] is kept


async def test_a_case_opens_with_its_skipped_questions_listed_for_staff(case_store: str) -> None:
    from actions.cases import OpenCase
    from bot.cases.queries import get_case_detail_or_raise
    from tests.actions.test_dispute_form import DOMAIN, set_slots, tracker

    slots = {"topic": "injury", "employer": "skipped", "location": "义乌佛堂镇", "incident_date": "skipped",
             "commute": "unknown", "employer_reported": False, "dispute_text": "手被冲床压了", "phone": "skipped",
             "evidence": "skipped", "confirmed": True}
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(dispatcher, tracker("确认", slots=slots, intent="affirm"), DOMAIN)
    async with store.transaction() as session:
        detail = await get_case_detail_or_raise(session, number=set_slots(events)["case_number"])
    assert detail["employer"] is None and detail["facts"]["unanswered"] == ["employer", "incident_date"]
    assert detail["facts"]["commute"] == "unknown" and "incident_date" not in detail["facts"]


async def test_a_date_said_outside_the_form_does_not_break_another_topics_case(case_store: str) -> None:
    # found by the walker: "错了，是上个月15号" after a cancel filled incident_date as written
    from actions.cases import OpenCase
    from tests.actions.test_dispute_form import DOMAIN, set_slots, tracker

    slots = {"topic": "overtime", "employer": "宏兴五金厂", "location": "义乌苏溪镇", "incident_date": "上个月15号",
             "daily_hours": "每天12小时 一周7天", "overtime_paid": "没给加班费", "since": "今年3月",
             "phone": "skipped", "evidence": "skipped", "confirmed": True}
    dispatcher = CollectingDispatcher()
    events = await OpenCase().run(dispatcher, tracker("确认", slots=slots, intent="affirm"), DOMAIN)
    assert set_slots(events)["case_number"] in dispatcher.messages[0]["text"]


async def test_the_evidence_question_says_what_changed_and_offers_a_person_too(case_store: str) -> None:
    form = Conversation("social_insurance", {"employer": "顺捷物流", "location": "义乌江东街道",
                                             "missing_insurance": "社保全都没交", "since": "进厂就没交",
                                             "contract_signed": False, "dispute_text": "不交社保", "phone": "skipped"})
    await form.start("evidence")
    turn = await form.say("应该是12个人", entities=[{"entity": "headcount", "value": "12个人", "start": 3, "end": 7}])
    assert turn.asked == "evidence" and turn.texts[0].startswith("好的，已记下：涉及人数 12个人。\n有证据的话")
    for _ in range(2):
        assert (await form.say("查进度", intent="check_case_status")).rejected
        turn = await form.back_after("action_case_status", "utter_back_to_form")
    assert form.slots["failures"] == {"evidence": 2}
    assert [b["payload"] for b in turn.messages[0]["buttons"]] == ["发完了", "跳过", "/request_human"]
