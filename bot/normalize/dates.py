"""Points in time as workers write them, resolved to calendar dates.

Forms: 2025-03-01, 2025/3/1, 2025年3月1日, 二〇二五年三月, 6月15号, 6月15日, 6.15,
3/1 (month/day), 15号, 上个月10号, 去年6月, 去年年底, 年初, 月底, 6月初, 今天, 昨天,
前天, 大前天, 上周三, 周五, 上周, 三天前, 两个月前, 半年前.

Decisions:
    * Without a year (or month), a date is the most recent such date not after
      ``now``: workers mostly talk about what already happened. 6月15号 said on
      2025-05-01 is 2024-06-15; 年底 said in June is last year's 31 December.
    * Relative words that name a period explicitly (上个月, 去年, 这周三, 下个月)
      are taken literally, even when that is in the future.
    * A period alone stands for its first day: 2025年3月 → 2025-03-01, 去年 →
      1 January last year, 上周 → last week's Monday. 初 is the first day, 中 the
      15th (年中: 1 July), 底/末 the last day (年底: 31 December).
    * Weeks start on Monday; 上周日 is the Sunday before this week's Monday.
    * Text naming several different dates gives None.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.normalize._text import fold_text
from bot.normalize.numerals import parse_number

_YEARS_BACK = 9  # enough to find the last 29 February
_CN = "〇零一二三四五六七八九十"
_YEAR = (
    r"(?:(?<![0-9])(?P<y_num>[0-9]{4}|[0-9]{2}|[〇零一二三四五六七八九]{2,4})年"
    r"|(?P<y_rel>大前年|前年|去年|今年|明年))"
)
_MONTH = (
    r"(?:(?<![0-9])(?P<m_num>[0-9]{1,2}|十[一二]?|[一二三四五六七八九])月份?"
    r"|(?P<m_rel>上上个?月|上个?月|这个?月|本月|当月|下个?月))"
)
_DAY = (
    r"(?<![0-9])(?P<d_num>[0-9]{1,2}|三十一?|二十[一二三四五六七八九]?"
    r"|十[一二三四五六七八九]?|[一二三四五六七八九])[号日]"
)
_PART = r"(?P<part>初|中(?!秋)|底|末)"
_YEAR_PART = _PART.replace("?P<part>", "?P<ypart>")
_WEEK_REL = r"(?P<w_rel>上上个?|上个?|这个?|本|下个?)"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAYS.update({str(n): n - 1 for n in range(1, 8)})

_YEAR_OFFSETS = {"大前年": -3, "前年": -2, "去年": -1, "今年": 0, "明年": 1}
_DAY_WORDS = {
    "大前天": -3, "前天": -2, "前日": -2, "昨天": -1, "昨日": -1, "昨儿": -1,
    "今天": 0, "今日": 0, "今儿": 0, "当天": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3,
}
_PART_DAYS = {"初": "first", "中": "mid", "底": "last", "末": "last"}


@dataclass(frozen=True)
class _Spec:
    """A date with possibly unknown year or month; ``day`` is 1..31 or first/mid/last."""

    year: int | None
    month: int | None
    day: int | str
    scope: str  # "year": day is a part of the year (年底); "month": of the month


def resolve_date(text: str, *, now: datetime) -> date | None:
    """Resolves the point in time named in ``text``.

    Args:
        text: a date entity or a message, e.g. "6月15号", "上周三", "去年年底".
        now: the moment the worker wrote; relative and year-less dates count from it.

    Returns:
        The date, or None when ``text`` names no resolvable date (2月30号, 几号) or
        several different ones.
    """
    text = fold_text(text)
    today = now.date()
    found = [
        (match.start(), match.end(), handler, match)
        for pattern, handler in _RULES
        for match in pattern.finditer(text)
    ]
    found.sort(key=lambda item: (item[0], item[0] - item[1]))
    dates, end = set(), -1
    for start, stop, handler, match in found:
        if start < end:
            continue
        # An expression that resolves to nothing (2月30号) still hides the shorter ones
        # inside it (30号): those are not what the worker wrote.
        end = stop
        if (resolved := handler(match, today)) is not None:
            dates.add(resolved)
    return dates.pop() if len(dates) == 1 else None


def _numeric_ymd(match: re.Match[str], today: date) -> date | None:
    year, month = int(match.group(1)), int(match.group(2))
    day = int(match.group(3)) if match.group(3) else "first"
    return _build(_Spec(year, month, day, "month"))


def _numeric_md(match: re.Match[str], today: date) -> date | None:
    return _resolve(_Spec(None, int(match.group(1)), int(match.group(2)), "month"), today)


def _chinese_ymd(match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    year = _year_of(groups.get("y_num"), groups.get("y_rel"), today)
    if year is None and (groups.get("y_num") or groups.get("y_rel")):
        return None
    month: int | None = None
    if groups.get("m_rel"):
        shifted = _add_months(today.replace(day=1), _month_offset(groups["m_rel"]))
        year, month = shifted.year, shifted.month
    elif groups.get("m_num"):
        month = _small_int(groups["m_num"])
    day: int | str = "first"
    if groups.get("d_num"):
        day = _small_int(groups["d_num"]) or 0
    elif part := groups.get("part") or groups.get("ypart"):
        day = _PART_DAYS[part]
    scope = groups.get("scope") or ("month" if month or groups.get("d_num") else "year")
    scope = {"年": "year", "月": "month"}.get(scope, scope)
    return _resolve(_Spec(year, month, day, scope), today)


def _weekday(match: re.Match[str], today: date) -> date | None:
    weekday = _WEEKDAYS[match.group("wd")]
    if match.group("w_rel") is None:  # 周三: the most recent Wednesday
        return today - timedelta(days=(today.weekday() - weekday) % 7)
    return _monday(today, match.group("w_rel")) + timedelta(days=weekday)


def _week(match: re.Match[str], today: date) -> date | None:
    return _monday(today, match.group("w_rel"))


def _day_word(match: re.Match[str], today: date) -> date | None:
    return today + timedelta(days=_DAY_WORDS[match.group()])


def _ago(match: re.Match[str], today: date) -> date | None:
    numeral, unit = match.group("num"), match.group("unit")
    count = 0.5 if numeral == "半" else parse_number(numeral)
    if count is None or count <= 0 or count > 100:
        return None
    count = float(count) + (0.5 if match.group("half") else 0)
    if unit in ("天", "日"):
        return today - timedelta(days=round(count))
    if unit in ("周", "星期", "礼拜"):
        return today - timedelta(days=round(count * 7))
    months = count * (12 if unit == "年" else 1)
    whole = int(months)
    return _add_months(today, -whole) - timedelta(days=round((months - whole) * 30))


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], date], date | None]], ...] = (
    (
        re.compile(r"(?<![0-9])([0-9]{4})[-/.]([0-9]{1,2})(?:[-/.]([0-9]{1,2}))?(?![0-9])"),
        _numeric_ymd,
    ),
    (re.compile(r"(?<![0-9.])([0-9]{1,2})[/.]([0-9]{1,2})(?![0-9./万千元块kKwW])"), _numeric_md),
    (re.compile(rf"{_YEAR}(?:{_MONTH}(?:{_DAY}|月?{_PART})?|年?{_YEAR_PART})?"), _chinese_ymd),
    (re.compile(rf"{_MONTH}(?:{_DAY}|月?{_PART})?"), _chinese_ymd),
    (re.compile(_DAY), _chinese_ymd),
    (re.compile(r"(?P<scope>年|月)" + _PART), _chinese_ymd),
    (re.compile(rf"{_WEEK_REL}?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"), _weekday),
    (re.compile(rf"{_WEEK_REL}(?:周|星期|礼拜)(?![一二三四五六日天1-7])"), _week),
    (re.compile("|".join(sorted(_DAY_WORDS, key=len, reverse=True))), _day_word),
    (
        re.compile(
            rf"(?<![0-9.{_CN}两])(?P<num>[0-9]+|[{_CN}两]+|半)个?(?P<half>半)?多?"
            r"(?P<unit>天|日|周|星期|礼拜|月|年)(?:之|以)?前"
        ),
        _ago,
    ),
)


def _resolve(spec: _Spec, today: date) -> date | None:
    """Builds the date; an unknown year or month is the latest one not after today."""
    if spec.year is not None:
        return _build(spec)
    if spec.month is not None or spec.scope == "year":
        for year in range(today.year, today.year - _YEARS_BACK, -1):
            built = _build(_Spec(year, spec.month, spec.day, spec.scope))
            if built is not None and built <= today:
                return built
        return None
    for back in range(13):
        first = _add_months(today.replace(day=1), -back)
        built = _build(_Spec(first.year, first.month, spec.day, "month"))
        if built is not None and built <= today:
            return built
    return None


def _build(spec: _Spec) -> date | None:
    assert spec.year is not None
    month, day = spec.month, spec.day
    if spec.scope == "year" and month is None:
        month, day = {"first": (1, 1), "mid": (7, 1), "last": (12, 31)}[str(day)]
    if month is None:
        return None
    if day == "first":
        day = 1
    elif day == "mid":
        day = 15
    elif day == "last":
        day = calendar.monthrange(spec.year, month)[1] if 1 <= month <= 12 else 0
    try:
        return date(spec.year, month, int(day))
    except ValueError:
        return None


def _year_of(numeral: str | None, relative: str | None, today: date) -> int | None:
    if relative:
        return today.year + _YEAR_OFFSETS[relative]
    if numeral is None:
        return None
    if not numeral.isdigit():  # 二〇二四: read digit by digit
        numeral = "".join(str(_small_int(char) or 0) for char in numeral)
    year = int(numeral)
    if len(numeral) == 2:  # 24年: this century unless that is in the future
        year += 2000 if 2000 + year <= today.year + 1 else 1900
    return year if 1900 <= year <= 2100 else None


def _month_offset(relative: str) -> int:
    if relative.startswith("上上"):
        return -2
    return {"上": -1, "下": 1}.get(relative[0], 0)


def _monday(today: date, relative: str) -> date:
    this_monday = today - timedelta(days=today.weekday())
    return this_monday + timedelta(weeks=_month_offset(relative))


def _small_int(numeral: str) -> int | None:
    value = parse_number(numeral)
    return int(value) if value is not None and value == int(value) else None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
