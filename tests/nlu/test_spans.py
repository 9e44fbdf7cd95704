"""The span conventions of the NLU contract (shared/design/nlu.md), enforced on what DIET
predicts by ``nlu/spans.py`` (run inside Rasa as ``nlu.components.EntitySpanRepair``).

Each case gives a message, the span the model might tag (often cut at a jieba boundary),
and the span the contract scores as right — or None when the contract rules it out."""

from __future__ import annotations

import pytest

from nlu.spans import SpanRepair

PLACES = ["湖南", "怀化", "江西", "赣州", "于都", "四川", "南充", "营山县", "河南", "周口", "义乌", "宁波", "北仑"]
EMPLOYERS = ["顺丰", "美团", "富士康", "美的"]
REPAIR = SpanRepair(PLACES, PLACES, EMPLOYERS)


def repaired(text: str, entity: str, tagged: str, occurrence: int = 0) -> list[str]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(tagged, start + 1)
    predicted = [{"entity": entity, "start": start, "end": start + len(tagged), "value": tagged}]
    out = REPAIR.repair(text, predicted)
    for e in out:
        assert e["value"] == text[e["start"]:e["end"]], "value must be the text of the span"
    return [e["value"] for e in out]


@pytest.mark.parametrize(("text", "tagged", "expected"), [
    ("老板欠我四千二不给", "四千", "四千二"),            # jieba split the numeral
    ("一共3万6到现在没给", "3万", "3万6"),
    ("欠了八千多块钱", "八千多", "八千多块"),
    ("说好的4万余元一直拖", "4万余", "4万余元"),
    ("一个月就两万出头", "两万", "两万出头"),
    ("工资1.2w拖了三个月", "1.2", "1.2w"),
    ("欠两千两个月了", "两千", "两千"),                  # 两个月 is a duration, not more money
])
def test_amount_is_the_money_phrase_with_its_unit(text: str, tagged: str, expected: str) -> None:
    assert repaired(text, "amount", tagged) == [expected]


@pytest.mark.parametrize(("text", "tagged"), [
    ("每天干12个小时", "12"),          # hours
    ("15号发工资一直没发", "15"),      # a date
    ("加班费按1.5倍算", "1.5"),        # a multiple
    ("做了三千多件衣服", "三千多"),    # a count of pieces
    ("我今年50了还要干", "50"),        # an age
])
def test_numbers_that_are_not_money_are_dropped(text: str, tagged: str) -> None:
    assert repaired(text, "amount", tagged) == []


@pytest.mark.parametrize(("text", "tagged", "expected"), [
    ("我们九个人全没拿到", "九个", "九个人"),
    ("工地一百多号人都没发", "一百多", "一百多号人"),
    ("四十多个工友一起", "四十多个", "四十多个"),
])
def test_headcount_takes_its_classifier_and_people(text: str, tagged: str, expected: str) -> None:
    assert repaired(text, "headcount", tagged) == [expected]


@pytest.mark.parametrize(("text", "tagged"), [
    ("加了一百多个小时的班", "一百多个"),   # hours, not people
    ("我们人都走了", "人"),                 # no number, no headcount
    ("5月20号通知的", "20号"),              # a date, not people
])
def test_headcount_without_people_is_dropped(text: str, tagged: str) -> None:
    assert repaired(text, "headcount", tagged) == []


@pytest.mark.parametrize(("text", "tagged", "expected"), [
    ("我是湖南怀化的", "怀化", "湖南怀化"),          # the province written before the city belongs to it
    ("我是湖南怀化的", "湖南", "湖南怀化"),
    ("老家江西赣州于都", "江西赣州于", "江西赣州于都"),  # a span ending inside a known place
    ("俺是河南来的", "河南来", "河南"),                # no glued 来
    ("我四川南充营山县的", "四川南充", "四川南充营山县"),
])
def test_hometown_is_the_whole_place_as_written(text: str, tagged: str, expected: str) -> None:
    assert repaired(text, "hometown", tagged) == [expected]


def test_hometown_that_is_no_place_is_dropped() -> None:
    assert repaired("我是老实人", "hometown", "老实人") == []


@pytest.mark.parametrize(("text", "tagged", "expected"), [
    ("在宏达模具厂干了两年", "宏达", "宏达模具厂"),        # the name with its business word
    ("张老板的厂欠我钱", "张老板的", "张老板的厂"),        # a possessive takes the workplace
    ("我在维也纳酒店当服务员", "酒店", "维也纳酒店"),      # a bare business word takes the name before it
    ("顺丰欠我派送费", "顺丰", "顺丰"),                    # a known name stays as it is
    ("在鑫达电子厂上班", "在鑫达电子厂", "鑫达电子厂"),      # no leading preposition
])
def test_employer_is_the_name_as_written(text: str, tagged: str, expected: str) -> None:
    assert repaired(text, "employer", tagged) == [expected]


@pytest.mark.parametrize(("text", "tagged"), [
    ("老板跑路了", "老板"),          # a person, not a name
    ("在一家钢构厂干活", "钢构厂"),  # a workplace counted, not named
    ("在义乌干活", "义乌"),          # a place is a location, not an employer
])
def test_generic_words_and_places_are_never_employers(text: str, tagged: str) -> None:
    assert repaired(text, "employer", tagged) == []


def test_other_entities_pass_through_and_spans_never_overlap() -> None:
    text = "在宏达模具厂干了三个月欠我四千二"
    predicted = [
        {"entity": "employer", "start": 1, "end": 3, "value": "宏达"},
        {"entity": "duration", "start": 8, "end": 11, "value": "三个月"},
        {"entity": "amount", "start": 13, "end": 15, "value": "四千"},
    ]
    out = REPAIR.repair(text, predicted)
    assert [(e["entity"], e["value"]) for e in out] == [
        ("employer", "宏达模具厂"), ("duration", "三个月"), ("amount", "四千二")]
    assert "_changed" in out[0] and "_changed" not in out[1]


def test_adjacent_pieces_of_one_place_merge() -> None:
    text = "我老家湖南怀化的"
    predicted = [
        {"entity": "hometown", "start": 3, "end": 5, "value": "湖南"},
        {"entity": "hometown", "start": 5, "end": 7, "value": "怀化"},
    ]
    assert [e["value"] for e in REPAIR.repair(text, predicted)] == ["湖南怀化"]
