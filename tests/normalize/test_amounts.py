import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import AmountMatch, find_amounts, parse_amount

from .chinese_reference import to_chinese

# Chinese filler without numerals, units, approximation marks, counters or currency.
FILLER = st.text(alphabet="老板公司拖欠我的工资请帮忙看说好给结算没还在厂干活辛苦怎么办呢吧啊", max_size=20)


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("8000", 8000),
        ("8000块", 8000),
        ("8000元", 8000),
        ("8000块钱", 8000),
        ("8,000块", 8000),
        ("８０００元", 8000),
        ("八千多块", 8000),
        ("4万余元", 40000),
        ("两万出头", 20000),
        ("一万多", 10000),
        ("三千五", 3500),
        ("1.2w", 12000),
        ("1.2W", 12000),
        ("3k", 3000),
        ("5千", 5000),
        ("十来万", 100000),
        ("十几万", 100000),
        ("大概六七千", 6000),
        ("五六万", 50000),
        ("5000-6000", 5000),
        ("5000到6000元", 5000),
        ("5-6千", 5000),
        ("8000左右", 8000),
        ("差不多8000吧", 8000),
        ("￥3500", 3500),
        ("¥3500", 3500),
        ("3500RMB", 3500),
        ("3500 元", 3500),
        ("人民币叁仟伍佰元整", 3500),
        ("肆万伍仟元", 45000),
        ("兩萬塊", 20000),
        ("1.5元", 2),
        ("老板欠我八千多块工资", 8000),
        ("工资8000", 8000),
        ("欠我3500没给", 3500),
        ("万一5000块要不回来怎么办", 5000),
        ("三万一", 31000),
    ],
)
def test_amount_is_stored_as_integer_yuan(text: str, yuan: int) -> None:
    assert parse_amount(text) == yuan


@pytest.mark.parametrize(
    "text",
    [
        "我们12个人",
        "6月15号",
        "2024年",
        "三个月",
        "我今年45岁",
        "电话13812345678",
        "13812345678",
        "身份证410101199001011234",
        "三千多人",
        "两万公里",
        "我们一块去找老板",
        "千万别走",
        "第3000名",
        "几千块",
        "工资8",
        "8，000",
        "",
    ],
)
def test_numbers_that_are_not_money_give_no_amount(text: str) -> None:
    assert parse_amount(text) is None
    assert find_amounts(text) == []


def test_several_different_sums_are_ambiguous_for_parse_but_all_found() -> None:
    text = "工资8000，加班费2000块"
    assert parse_amount(text) is None
    assert [(m.text, m.yuan) for m in find_amounts(text)] == [("8000", 8000), ("2000块", 2000)]


def test_span_covers_the_sum_as_written_without_hedging_adverbs() -> None:
    text = "老板大概欠我4万余元，我们12个人干了三个月"
    assert find_amounts(text) == [AmountMatch(6, 10, "4万余元", 40000)]


def test_span_keeps_original_characters_when_input_is_full_width() -> None:
    (match,) = find_amounts("欠了８０００块钱")
    assert match.text == "８０００块钱"
    assert match.span == (2, 8)


def test_message_with_money_and_counts_reports_only_money() -> None:
    text = "2024年6月15号老板跑了，欠我们12个人三个月工资，每人两万出头"
    assert [(m.text, m.yuan) for m in find_amounts(text)] == [("两万出头", 20000)]


@given(st.integers(min_value=1, max_value=99_999_999))
def test_standard_chinese_reading_is_read(n: int) -> None:
    assert parse_amount(to_chinese(n)) == n


@given(st.integers(min_value=1, max_value=99_999_999))
def test_digits_with_yuan(n: int) -> None:
    assert parse_amount(f"{n}元") == n


@given(st.integers(min_value=1, max_value=99_999_999))
def test_grouped_digits_with_kuai(n: int) -> None:
    assert parse_amount(f"{n:,}块") == n


@given(
    FILLER,
    st.integers(min_value=1, max_value=99_999_999),
    st.sampled_from(["{n}元", "{n:,}块", "{zh}元", "￥{n}", "{n}块钱"]),
    FILLER,
)
def test_finds_exactly_the_inserted_amount(before: str, n: int, form: str, after: str) -> None:
    inserted = form.format(n=n, zh=to_chinese(n))
    text = before + inserted + after
    assert find_amounts(text) == [
        AmountMatch(len(before), len(before) + len(inserted), inserted, n)
    ]


@given(FILLER, st.integers(min_value=1, max_value=99), FILLER)
def test_counted_numbers_in_filler_are_not_money(before: str, n: int, after: str) -> None:
    for counted in (f"{n}个人", f"{n}岁", f"{n}个月", f"{n % 12 + 1}月{n % 28 + 1}号", f"20{n:02d}年"):
        assert find_amounts(before + counted + after) == []


@given(st.text())
def test_never_raises(text: str) -> None:
    value = parse_amount(text)
    assert value is None or (isinstance(value, int) and value >= 0)
    for match in find_amounts(text):
        assert text[match.start : match.end] == match.text
        assert match.yuan >= 0
