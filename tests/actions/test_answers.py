"""Free text read as the answer to a button question (actions/answers.py): an option or
nothing, never the words themselves."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from actions.answers import OPTIONS, UNKNOWN, is_filler, is_skip, read_option, schedule

INJURY_STORY = "那天我在车间搬货 机器突然砸下来 手指骨折了 住了一个礼拜院 老板就给了两千块"
OVERTIME_STORY = "我在厂里每天从早上八点干到晚上十点，一个月就休两天，老板说是计件的，加班费一分都没有"


@pytest.mark.parametrize("slot, text, intent, expected", [
    # the brief's three: a yes, a no, a don't-know, on a button question
    ("overtime_paid", "是的呀", "affirm", "给了"),
    ("overtime_paid", "没给", "deny", "没给加班费"),
    ("overtime_paid", "不清楚", "deny", "不清楚"),
    ("construction", "是的呀", "affirm", True),
    ("construction", "没给", "deny", False),
    ("construction", "不清楚", "deny", UNKNOWN),
    ("contract_signed", "不清楚", "deny", UNKNOWN),
    ("employer_reported", "不清楚", "deny", False),  # the button says 没报/不知道
    # keywords, whatever the model made of it (报了 is nlu_fallback, 木有 dialect)
    ("employer_reported", "报了", "nlu_fallback", True),
    ("employer_reported", "应该是没报吧", "inform", False),
    ("commute", "木有", "deny", False),
    ("commute", "在车间干活的时候", "report_injury", False),
    ("commute", "下班骑电动车回家路上", "report_injury", True),
    ("construction", "不是工地 是电子厂", "inform", False),
    ("contract_signed", "系的", "affirm", True),
    ("consent_union", "跳过", "deny", False),
    ("dismissal_how", "店长口头说的", "inform", "口头通知"),
    ("dismissal_how", "微信上说的", "inform", "微信或短信通知"),
    ("missing_insurance", "五险都没有", "report_social_insurance", "社保全都没交"),
    ("missing_insurance", "只交了医保", "report_social_insurance", "只交了一部分险种"),
    ("confirmed", "确认提交", "affirm", True),
    ("confirmed", "不对的", "deny", None),  # not the 对 of a yes
    # the model's affirm on noise is no answer
    ("employer_reported", "啊啊啊", "affirm", None),
    ("construction", "😭😭", "affirm", None),
    ("construction", "👍", "affirm", True),
    ("construction", "emmm", "affirm", None),
    # where a wrong yes would hurt, the model's affirm on unknown words is not taken
    ("construction", "间间", "affirm", True),
    ("consent_union", "间间", "affirm", None),
    ("confirmed", "间间", "affirm", None),
])
def test_words_are_read_as_an_option(slot: str, text: str, intent: str, expected: object) -> None:
    assert read_option(slot, text, intent, 0.98) == expected


def test_a_story_is_an_answer_only_when_it_says_what_the_question_asks() -> None:
    assert read_option("employer_reported", INJURY_STORY, "report_injury", 1.0) is None
    assert read_option("employer_reported", INJURY_STORY + " 老板也不给报工伤", "report_injury", 1.0) is False
    assert read_option("overtime_paid", OVERTIME_STORY, "report_overtime", 1.0) == "没给加班费"
    # 没有休息 in a story says nothing about overtime pay
    assert read_option("overtime_paid", "每天从早上八点干到晚上十点 一个月没有休息", "report_overtime", 1.0) is None


def _values(slot: str) -> set:
    options = OPTIONS[slot]
    return {v for v, _ in options.keywords} | {options.yes, options.no, options.unknown, *options.exact} - {None}


@given(slot=st.sampled_from(sorted(OPTIONS)), text=st.text(max_size=120),
       intent=st.sampled_from(["affirm", "deny", "inform", "report_injury", "nlu_fallback"]))
def test_whatever_is_said_the_answer_is_one_of_the_options_or_none(slot: str, text: str, intent: str) -> None:
    picked = read_option(slot, text, intent, 0.99)
    assert picked is None or picked in _values(slot)


def test_skip_filler_and_schedules() -> None:
    assert is_skip("跳过") and is_skip("先跳过吧") and is_skip("不想说") and not is_skip("跳过这个我也不知道怎么说")
    assert all(is_filler(t) for t in ("好的", "在吗", "嗯嗯", "hhh", "？？？", "👍"))
    assert not any(is_filler(t) for t in ("顺丰", "义乌稠江街道", "张老板的工地"))
    assert schedule("每天12个小时 一周7天") == "每天12个小时 一周7天"
    assert schedule(OVERTIME_STORY) == "我在厂里每天从早上八点干到晚上十点 一个月就休两天"
    assert schedule("天天加班") is None and schedule("看情况") is None
