import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import parse_duration_months, parse_headcount

from .chinese_reference import to_chinese

FILLER = st.text(alphabet="老板公司拖欠我的工资请帮忙看说好给结算没还在厂干活辛苦怎么办呢吧啊", max_size=15)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("我们12个人", 12),
        ("四十多个工友", 40),
        ("十几个", 10),
        ("二三十人", 20),
        ("一百多号人", 100),
        ("三名员工", 3),
        ("我们十几个吧", 10),
        ("一共三十来个人", 30),
        ("两個人", 2),
        ("12", 12),
        ("厂里三千多人都没拿到工资", 3000),
    ],
)
def test_headcount_is_stored_as_integer(text: str, count: int) -> None:
    assert parse_headcount(text) == count


@pytest.mark.parametrize(
    "text",
    ["三个月", "五个厂", "8000块", "3000人民币", "我个人觉得", "我们12个人，其中3个人受伤", "第3个人", ""],
)
def test_no_headcount(text: str) -> None:
    assert parse_headcount(text) is None


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("三个月", 3),
        ("3个月", 3),
        ("半年", 6),
        ("大半年", 6),
        ("两年", 24),
        ("一年半", 18),
        ("两年半", 30),
        ("1.5年", 18),
        ("一年多", 12),
        ("三个多月", 3),
        ("两三个月", 2),
        ("3-5年", 36),
        ("三周", 0.75),
        ("两个星期", 0.5),
        ("一个礼拜", 0.25),
        ("十来天", 0.33),
        ("15天", 0.5),
        ("半个月", 0.5),
        ("两个半月", 2.5),
        ("两月", 2),
        ("一年零三个月", 15),
        ("两年三个月", 27),
        ("一个月零十天", 1.33),
        ("老板拖了三个月工资", 3),
        ("干了24年", 288),
    ],
)
def test_duration_is_stored_in_months(text: str, months: float) -> None:
    assert parse_duration_months(text) == months


@pytest.mark.parametrize(
    "text",
    ["2024年", "24年3月", "三月", "去年底", "半天", "三周岁", "3", "干了两年，三个月没发工资", ""],
)
def test_no_duration(text: str) -> None:
    assert parse_duration_months(text) is None


@given(
    FILLER,
    st.integers(min_value=1, max_value=1_000_000),
    st.sampled_from(["{n}个人", "{zh}个工友", "{zh}名工人"]),
    FILLER,
)
def test_headcount_in_filler(before: str, n: int, form: str, after: str) -> None:
    assert parse_headcount(before + form.format(n=n, zh=to_chinese(n)) + after) == n


@given(
    FILLER,
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=1, max_value=11),
    FILLER,
)
def test_years_and_months_add_up(before: str, years: int, months: int, after: str) -> None:
    assert parse_duration_months(f"{before}{to_chinese(years)}年") == years * 12
    assert parse_duration_months(f"{before}{months}个月{after}") == months
    text = f"{before}{to_chinese(years)}年零{to_chinese(months)}个月{after}"
    assert parse_duration_months(text) == years * 12 + months


@given(st.integers(min_value=1, max_value=52))
def test_weeks_are_quarter_months(weeks: int) -> None:
    assert parse_duration_months(f"{weeks}周") == round(weeks / 4, 2)


@given(st.text())
def test_never_raises(text: str) -> None:
    count = parse_headcount(text)
    assert count is None or (isinstance(count, int) and count >= 1)
    months = parse_duration_months(text)
    assert months is None or (isinstance(months, float) and months > 0)
