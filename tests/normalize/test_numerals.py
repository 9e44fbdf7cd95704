from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import parse_number, parse_number_range

from .chinese_reference import to_chinese, to_financial


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("零", 0),
        ("〇", 0),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("一百一十", 110),
        ("两万", 20000),
        ("兩萬", 20000),
        ("三亿", 300_000_000),
        ("三億五千萬", 350_000_000),
        ("一千零五十", 1050),
        ("一千零五", 1005),
        ("叁仟伍佰", 3500),
        ("壹万贰仟", 12000),
        ("拾伍", 15),
        ("8000", 8000),
        ("8,000", 8000),
        ("１２００", 1200),
        ("1.5", Decimal("1.5")),
        ("二〇二四", 2024),
        ("二零二四", 2024),
    ],
)
def test_reads_standard_numerals(text: str, value: int | Decimal) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("三千五", 3500),
        ("一万二", 12000),
        ("两万五", 25000),
        ("三百五", 350),
        ("一亿五", 150_000_000),
        ("3万5", 35000),
        ("4万2千", 42000),
        ("4万2", 42000),
        ("1.2万", 12000),
        ("一点五万", 15000),
        ("1点5万", 15000),
        ("3k", 3000),
        ("1.2w", 12000),
        ("3万5000", 35000),
    ],
)
def test_reads_colloquial_and_mixed_numerals(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text", ["", "万", "百五", "五五", "六七千", "三万五万", "八千多", "一百二十百", "abc", "1.2.3"]
)
def test_rejects_what_is_not_one_numeral(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("六七千", 6000, 7000),
        ("五六万", 50000, 60000),
        ("二三十", 20, 30),
        ("十五六", 15, 16),
        ("一万五六", 15000, 16000),
        ("三五", 3, 5),
        ("5000-6000", 5000, 6000),
        ("5000到6000", 5000, 6000),
        ("5-6千", 5000, 6000),
        ("3到5万", 30000, 50000),
        ("500-1千", 500, 1000),
        ("十来万", 100000, 100000),
        ("十几万", 100000, 100000),
        ("八千多", 8000, 8000),
        ("4万余", 40000, 40000),
        ("8000", 8000, 8000),
    ],
)
def test_reads_ranges_and_approximations(text: str, low: int, high: int) -> None:
    assert parse_number_range(text) == (low, high)


def test_range_whose_ends_are_reversed_is_rejected() -> None:
    assert parse_number_range("6000-5000") is None


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_standard_reading_round_trips(n: int) -> None:
    assert parse_number(to_chinese(n)) == n


@given(st.integers(min_value=1, max_value=10**8 - 1))
def test_financial_reading_round_trips(n: int) -> None:
    assert parse_number(to_financial(n)) == n


@given(st.integers(min_value=0, max_value=10**12))
def test_digits_with_and_without_grouping(n: int) -> None:
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n


@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=1, max_value=9))
def test_lone_digit_after_wan_counts_in_thousands(wan: int, tail: int) -> None:
    assert parse_number(f"{wan}万{tail}") == wan * 10000 + tail * 1000


@given(st.text())
def test_never_raises(text: str) -> None:
    value = parse_number(text)
    assert value is None or value >= 0
    bounds = parse_number_range(text)
    assert bounds is None or 0 <= bounds[0] <= bounds[1]
