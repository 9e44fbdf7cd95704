from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import resolve_date

# A Wednesday.
NOW = datetime(2025, 5, 14, 10, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025/3/1", date(2025, 3, 1)),
        ("2025.3.1", date(2025, 3, 1)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("二〇二五年三月一日", date(2025, 3, 1)),
        ("2025年3月", date(2025, 3, 1)),
        ("24年3月", date(2024, 3, 1)),
        ("6月15号", date(2024, 6, 15)),
        ("6月15日", date(2024, 6, 15)),
        ("六月十五号", date(2024, 6, 15)),
        ("6.15", date(2024, 6, 15)),
        ("3/1", date(2025, 3, 1)),
        ("5月14号", date(2025, 5, 14)),
        ("5月15号", date(2024, 5, 15)),
        ("2月29号", date(2024, 2, 29)),
        ("15号", date(2025, 4, 15)),
        ("十号", date(2025, 5, 10)),
        ("上个月10号", date(2025, 4, 10)),
        ("下个月10号", date(2025, 6, 10)),
        ("上个月底", date(2025, 4, 30)),
        ("去年6月", date(2024, 6, 1)),
        ("去年6月15号", date(2024, 6, 15)),
        ("去年年底", date(2024, 12, 31)),
        ("去年底", date(2024, 12, 31)),
        ("2024年底", date(2024, 12, 31)),
        ("前年", date(2023, 1, 1)),
        ("年初", date(2025, 1, 1)),
        ("年底", date(2024, 12, 31)),
        ("今年年中", date(2025, 7, 1)),
        ("月初", date(2025, 5, 1)),
        ("月底", date(2025, 4, 30)),
        ("6月底", date(2024, 6, 30)),
        ("今天", date(2025, 5, 14)),
        ("昨天", date(2025, 5, 13)),
        ("前天", date(2025, 5, 12)),
        ("大前天", date(2025, 5, 11)),
        ("明天", date(2025, 5, 15)),
        ("上周三", date(2025, 5, 7)),
        ("上个星期五", date(2025, 5, 9)),
        ("上礼拜天", date(2025, 5, 11)),
        ("这周五", date(2025, 5, 16)),
        ("周五", date(2025, 5, 9)),
        ("星期三", date(2025, 5, 14)),
        ("上周", date(2025, 5, 5)),
        ("三天前", date(2025, 5, 11)),
        ("两个星期前", date(2025, 4, 30)),
        ("两个月前", date(2025, 3, 14)),
        ("半年前", date(2024, 11, 14)),
        ("老板6月15号就跑了", date(2024, 6, 15)),
        ("6月15號", date(2024, 6, 15)),
    ],
)
def test_resolves_dates_relative_to_now(text: str, expected: date) -> None:
    assert resolve_date(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "几号", "2月30号", "13月1号", "6月15号到7月1号", "老板跑了", "三个月", "8000块"]
)
def test_unresolvable_or_ambiguous_dates_give_none(text: str) -> None:
    assert resolve_date(text, now=NOW) is None


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(["{y}年{m}月{d}日", "{y}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}号"]),
)
def test_full_dates_resolve_exactly(day: date, form: str) -> None:
    text = form.format(y=day.year, m=day.month, d=day.day)
    assert resolve_date(text, now=NOW) == day


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)),
    st.sampled_from(["{m}月{d}号", "{m}月{d}日", "{m}.{d}", "{m}/{d}"]),
)
def test_dates_without_year_are_the_latest_not_after_now(
    now: datetime, day: date, form: str
) -> None:
    resolved = resolve_date(form.format(m=day.month, d=day.day), now=now)
    assert resolved is not None
    assert (resolved.month, resolved.day) == (day.month, day.day)
    assert resolved <= now.date()
    # 29 February may lie up to eight years back; any other day within a year.
    limit = timedelta(days=8 * 366) if (day.month, day.day) == (2, 29) else timedelta(days=366)
    assert now.date() - resolved < limit


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31)))
def test_relative_days_and_weeks(now: datetime) -> None:
    today = now.date()
    assert resolve_date("昨天", now=now) == today - timedelta(days=1)
    last_wednesday = resolve_date("上周三", now=now)
    assert last_wednesday is not None and last_wednesday.weekday() == 2
    assert (today - last_wednesday).days == today.weekday() + 5
    assert resolve_date("去年年底", now=now) == date(today.year - 1, 12, 31)


@given(st.text(), st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31)))
def test_never_raises(text: str, now: datetime) -> None:
    resolved = resolve_date(text, now=now)
    assert resolved is None or isinstance(resolved, date)
