"""Headcounts (我们12个人) and durations (三个月, 一年半) as numbers.

Shared decisions with amounts: approximations round to the stated figure (四十多个
→ 40, 十几个 → 10, 十来天 → 10 days), ranges take their lower bound (二三十人 →
20, 两三个月 → 2), and text naming several different values gives None.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.normalize._text import fold_text, is_filler
from bot.normalize.numerals import (
    NUMERAL_START,
    RANGE_PATTERN,
    blank_idioms,
    parse_number_range,
)

MAX_HEADCOUNT = 1_000_000
MAX_MONTHS = 1200.0

_PEOPLE = (
    "农民工", "工友", "工人", "兄弟", "同事", "员工", "老乡", "师傅", "伙计", "姐妹",
    "老表", "人(?!民币)",
)
_HEADCOUNT_RE = re.compile(
    rf"(?<![0-9.第])(?P<num>{RANGE_PATTERN})\s?(?P<counter>个|名|位|号|口)?多?"
    rf"(?P<people>{'|'.join(_PEOPLE)})?"
)
_HEADCOUNT_FILLER = ("我们", "咱们", "他们", "一起", "都", "全", "共", "人")


def parse_headcount(text: str) -> int | None:
    """Reads how many workers ``text`` speaks of.

    Counted: a number before a word for people (12个人, 四十多个工友, 二三十人,
    一百多号人, 三名员工), or a number, with or without 个/名/位, that is the whole
    answer apart from filler (十几个, 我们十几个吧, 12). A number with any other
    word after it is not a headcount (三个月, 五个厂).

    Returns:
        The count (at least 1), or None when there is none or several different.
    """
    text = blank_idioms(fold_text(text))
    counts = set()
    for match in _HEADCOUNT_RE.finditer(text):
        count = _headcount_of(match, text)
        if count is not None:
            counts.add(count)
    return counts.pop() if len(counts) == 1 else None


def _headcount_of(match: re.Match[str], text: str) -> int | None:
    if match.group("people") is None:
        rest = text[: match.start()] + " " + text[match.end() :]
        if not is_filler(rest, _HEADCOUNT_FILLER):
            return None
    bounds = parse_number_range(match.group("num"))
    if bounds is None or bounds[0] != bounds[0].to_integral_value():
        return None
    count = int(bounds[0])
    return count if 1 <= count <= MAX_HEADCOUNT else None


# One duration part: a number (or 半) and a unit. A part's "half" is 一年半, 三个半月.
# Parts start where a numeral run starts, so a long digit string is tried once.
_N = rf"{NUMERAL_START}(?<!第)(?P<num>{RANGE_PATTERN}|半|大半)"
_PART_RES: tuple[tuple[re.Pattern[str], Decimal, int], ...] = (
    # 2024年 is a year, 24年3月 and 去年底 are dates: a year part needs a small number
    # and must not run into a month name or a season word.
    (
        re.compile(
            rf"{_N}个?[多来]?年(?P<half>半)?多?"
            r"(?![0-9]{1,2}月|[一二三四五六七八九十]{1,2}月(?!份)|[初底末中])"
        ),
        Decimal(12),
        0,
    ),
    (re.compile(rf"{_N}(?P<ge>个)?[多来]?(?P<half>半)?月"), Decimal(1), 1),
    (re.compile(rf"{_N}个?[多来]?(?P<half>半)?(?:周|星期|礼拜)(?!岁|年)"), Decimal("0.25"), 2),
    (re.compile(rf"{_N}[多来]?(?P<half>)天"), Decimal(1) / 30, 3),
)
_JOINERS = ("", "零", "又", "加")


def parse_duration_months(text: str) -> float | None:
    """Reads a span of time in ``text`` as months.

    Units: 年 = 12, 月 = 1, 周/星期/礼拜 = 1/4 (a month is taken as four weeks, so
    三周 = 0.75), 天 = 1/30 (十来天 = 10 days = 0.33). 半年 = 6, 一年半 = 18, 半个月 =
    0.5, 两个半月 = 2.5; parts written together add up (一年零三个月 = 15).
    半天 and hours are not durations in months and give None; so does a bare number.
    A four-digit number before 年 is a year, not a duration (2024年).

    Returns:
        Months rounded to two decimals, or None when there is no duration or
        several different ones.
    """
    text = blank_idioms(fold_text(text))
    parts = _duration_parts(text)
    totals = {round(float(months), 2) for months in _join_parts(parts, text)}
    totals = {total for total in totals if 0 < total <= MAX_MONTHS}
    return totals.pop() if len(totals) == 1 else None


def _duration_parts(text: str) -> list[tuple[int, int, int, Decimal]]:
    """Non-overlapping (start, end, rank, months) parts, leftmost-longest first."""
    found = []
    for pattern, months_per_unit, rank in _PART_RES:
        for match in pattern.finditer(text):
            count = _part_count(match, rank)
            if count is not None:
                found.append((match.start(), match.end(), rank, count * months_per_unit))
    found.sort(key=lambda part: (part[0], part[0] - part[1]))
    chosen: list[tuple[int, int, int, Decimal]] = []
    for part in found:
        if not chosen or part[0] >= chosen[-1][1]:
            chosen.append(part)
    return chosen


def _part_count(match: re.Match[str], rank: int) -> Decimal | None:
    numeral = match.group("num")
    if numeral in ("半", "大半"):
        if rank == 3:  # 半天 means "a long while" as often as half a day
            return None
        return Decimal("0.5")
    if rank == 1 and match.group("ge") is None and numeral not in ("两", "几"):
        return None  # 三月 is March; only 两月 is said for two months
    bounds = parse_number_range(numeral)
    if bounds is None or (rank == 0 and bounds[0] > 100):
        return None
    return bounds[0] + (Decimal("0.5") if match.group("half") else 0)


def _join_parts(parts: list[tuple[int, int, int, Decimal]], text: str) -> list[Decimal]:
    """Adds up parts written one after another in descending units (两年三个月)."""
    totals: list[Decimal] = []
    previous: tuple[int, int, int, Decimal] | None = None
    for part in parts:
        joined = (
            previous is not None
            and text[previous[1] : part[0]] in _JOINERS
            and part[2] > previous[2]
        )
        if joined:
            totals[-1] += part[3]
        else:
            totals.append(part[3])
        previous = part
    return totals
